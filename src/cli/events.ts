/** `idm events export|import`: NDJSON backup of the whole log, and its restore into an empty store. */
import { createReadStream, createWriteStream } from 'node:fs'
import { once } from 'node:events'
import { createInterface } from 'node:readline'
import type { Writable } from 'node:stream'
import { InvalidArgumentError, type Command } from 'commander'
import { CliError, EXIT_BROKEN, config, eventStorePath, printVerification, withStore, writeTo } from './shared.js'

function position (value: string): number {
  if (!/^(0|[1-9][0-9]{0,15})$/.test(value) || !Number.isSafeInteger(Number(value))) throw new InvalidArgumentError('must be a position (an integer ≥ 0)')
  return Number(value)
}

async function exportCommand (options: { after?: number, output?: string }): Promise<void> {
  const cfg = config()
  const { exportEvents } = await import('../audit/backup.js')
  const out: Writable = options.output === undefined ? process.stdout : createWriteStream(options.output, { flags: 'wx', mode: 0o600 })
  if (options.output !== undefined) await once(out, 'open').catch((err: NodeJS.ErrnoException) => { throw new CliError(`cannot create ${options.output}: ${err.code ?? err.message}`) })
  const { events } = await withStore(cfg, 'existing', async (store) =>
    await exportEvents(store, async chunk => await writeTo(out, chunk), { after: options.after ?? 0 }))
  if (out !== process.stdout) {
    out.end()
    await once(out, 'finish')
  }
  process.stderr.write(`exported ${events} events. The export holds password hashes: keep it as safe as the database.\n`)
}

async function importCommand (options: { input?: string }): Promise<void> {
  const cfg = config()
  const { importEvents, ImportError } = await import('../audit/backup.js')
  const input = options.input === undefined ? process.stdin : createReadStream(options.input)
  const reader = createInterface({ input, crlfDelay: Infinity })
  // Iterate from now on: readline's iterator buffers lines from its creation, while lines emitted
  // before it exists (during the awaits below) would be lost.
  const iterator = reader[Symbol.asyncIterator]()
  const lines: AsyncIterable<string> = { [Symbol.asyncIterator]: () => iterator }
  const result = await withStore(cfg, 'create', async (store) => {
    try {
      return await importEvents(store, lines)
    } catch (err) {
      if (!(err instanceof ImportError)) throw err
      const partial = (await store.headPosition()) > 0
        ? ` The store now holds part of the input: delete it (${cfg.eventStore.kind === 'sqlite' ? eventStorePath(cfg) : cfg.eventStore.kind === 'postgres' ? 'the PostgreSQL database' : 'the EventStoreDB database'}) before trying again.`
        : ''
      throw new CliError(`import refused: ${err.message}.${partial}`)
    } finally {
      reader.close()
    }
  })
  process.stdout.write(`imported ${result.events} events in ${result.streams} streams\n`)
  if (!result.verification.ok) {
    printVerification(result.verification, false)
    process.exitCode = EXIT_BROKEN
  }
}

export function eventsCommand (program: Command): void {
  const events = program.command('events').description('Backup and restore of the event log.')
  events.command('export')
    .description('Write every event (all streams, data and metadata unredacted) as NDJSON, for `idm events import`. ' +
      'THE OUTPUT HOLDS PASSWORD HASHES: protect it like the database.')
    .option('--after <position>', 'only events after this position (such a partial export cannot be imported)', position)
    .option('-o, --output <file>', 'write to a new file (mode 0600) instead of stdout')
    .action(exportCommand)
  events.command('import')
    .description('Restore an export into an EMPTY event store (refused otherwise), keeping ids, streams, revisions and metadata, ' +
      'so every hash chain still verifies. Then start the server: it builds its read model from the log.')
    .option('-i, --input <file>', 'read from a file instead of stdin')
    .action(importCommand)
}
