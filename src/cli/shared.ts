/**
 * What every `idm` command shares: the configuration (read as the server reads it), the event
 * store opened and closed around the work, one-line failures with their exit code, a progress bar.
 * Heavy modules are imported when a command runs, so `idm --help` does not load the HTTP stack.
 */
import { existsSync, mkdirSync } from 'node:fs'
import { once } from 'node:events'
import { dirname, join } from 'node:path'
import type { Writable } from 'node:stream'
import type { VerifyResult } from '../audit/verify.js'
import { ConfigError, loadConfig, type Config } from '../config.js'
import { openEventStore } from '../eventstore/open.js'
import type { EventStore } from '../eventstore/port.js'

/** A failure to report in one line, with its exit code. */
export class CliError extends Error {
  constructor (message: string, readonly exitCode = 1) {
    super(message)
    this.name = 'CliError'
  }
}

export const EXIT_BROKEN = 2

export function config (): Config {
  try {
    return loadConfig(process.env)
  } catch (err) {
    if (err instanceof ConfigError) throw new CliError(err.message)
    throw err
  }
}

/** Where a SQLite event store lives (IDM_EVENTSTORE=sqlite or sqlite:<path>). */
export const eventStorePath = (cfg: Config): string => cfg.eventStore.kind === 'sqlite' ? cfg.eventStore.path : join(cfg.dataDir, 'events.db')

/**
 * Opens the configured event store. `existing`: a SQLite store must already be there (reading
 * commands must not leave an empty database behind in a mistyped directory).
 */
export async function withStore<T> (cfg: Config, mode: 'existing' | 'create', run: (store: EventStore) => Promise<T>): Promise<T> {
  if (cfg.eventStore.kind === 'sqlite') {
    const path = eventStorePath(cfg)
    if (mode === 'existing' && !existsSync(path)) {
      throw new CliError(`there is no event store at ${path} (check IDM_DATA_DIR and IDM_EVENTSTORE)`)
    }
    if (mode === 'create') {
      mkdirSync(cfg.dataDir, { recursive: true, mode: 0o700 })
      mkdirSync(dirname(path), { recursive: true, mode: 0o700 })
    }
  }
  const store: EventStore = await openEventStore(cfg.eventStore.kind === 'sqlite' ? { kind: 'sqlite', path: eventStorePath(cfg) } : cfg.eventStore)
  try {
    return await run(store)
  } finally {
    await store.close()
  }
}

/** A progress bar on stderr (drawn only on a terminal): done, rate and ETA. */
export async function progress (label: string): Promise<{ update: (done: number, total: number) => void, stop: () => void }> {
  const { Presets, SingleBar } = await import('cli-progress')
  const bar = new SingleBar({
    format: `${label} |{bar}| {value}/{total} events | {rate} events/s | ETA {eta_formatted}`,
    stream: process.stderr,
    hideCursor: true,
    etaBuffer: 50
  }, Presets.shades_classic)
  const started = Date.now()
  let running = false
  return {
    update (done, total) {
      const rate = Math.round(done / Math.max(0.001, (Date.now() - started) / 1000))
      if (!running) { bar.start(total, 0, { rate }); running = true }
      bar.setTotal(total)
      bar.update(done, { rate })
    },
    stop () { if (running) bar.stop() }
  }
}

export async function writeTo (out: Writable, chunk: string): Promise<void> {
  if (!out.write(chunk)) await once(out, 'drain')
}

export function printVerification (result: VerifyResult, json: boolean): void {
  if (json) {
    process.stdout.write(`${JSON.stringify(result)}\n`)
    return
  }
  if (result.ok) {
    process.stdout.write(`ok: ${result.events} events in ${result.streams} streams, every hash chain intact\n`)
    return
  }
  process.stdout.write(`BROKEN: ${result.brokenLinks.length}${result.truncated ? '+' : ''} broken links in ${result.events} events, ${result.streams} streams\n`)
  for (const link of result.brokenLinks) {
    process.stdout.write(`  stream ${link.stream} revision ${link.revision}: expected ${link.expected}, found ${link.found || '(nothing)'}\n`)
  }
}
