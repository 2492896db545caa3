/** `idm projections rebuild`: the read model rebuilt from the log, with the server stopped. */
import { existsSync } from 'node:fs'
import { join } from 'node:path'
import type { Command } from 'commander'
import { CliError, config, progress, withStore } from './shared.js'

/** True when another connection (a running server) has the SQLite file open. */
async function inUse (path: string): Promise<boolean> {
  if (!existsSync(path)) return false
  const { default: Database } = await import('better-sqlite3')
  const db = new Database(path, { timeout: 0 })
  try {
    // A WAL-mode connection holds a shared lock for as long as it is open: an exclusive lock
    // is only granted when nobody else has the file.
    db.pragma('locking_mode = EXCLUSIVE')
    db.exec('BEGIN EXCLUSIVE')
    db.exec('COMMIT')
    return false
  } catch (err) {
    if ((err as { code?: string }).code === 'SQLITE_BUSY') return true
    throw err
  } finally {
    db.close()
  }
}

async function rebuild (): Promise<void> {
  const cfg = config()
  const readModelPath = join(cfg.dataDir, 'read-model.db')
  if (await inUse(readModelPath)) {
    throw new CliError(`the read model ${readModelPath} is in use (is the server running?); stop it first: a rebuild replaces the file`)
  }
  const { rebuildReadModel } = await import('../projections/rebuild.js')
  await withStore(cfg, 'existing', async (store) => {
    const bar = await progress('rebuild')
    const started = Date.now()
    let result
    try {
      result = await rebuildReadModel({ store, path: readModelPath, onProgress: bar.update })
    } finally {
      bar.stop()
    }
    const seconds = (Date.now() - started) / 1000
    process.stdout.write(`rebuilt ${readModelPath} from ${result.events} events in ${seconds.toFixed(1)} s\n`)
  })
}

export function projectionsCommand (program: Command): void {
  program.command('projections')
    .description('Read models.')
    .command('rebuild')
    .description('Rebuild the read model (<data dir>/read-model.db) from the event log. Stop the server first: the file is replaced.')
    .action(rebuild)
}
