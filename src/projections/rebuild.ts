/**
 * Rebuilding the read model from position zero into a fresh file beside it, then swapping it in.
 * Every connection to `path` must be closed first (stop the server or its runner): the rename
 * replaces the file under any open connection.
 */
import { closeSync, existsSync, fsyncSync, openSync, renameSync, rmSync } from 'node:fs'
import { dirname } from 'node:path'
import Database from 'better-sqlite3'
import type { EventStore } from '../eventstore/port.js'
import { createApplier } from './apply.js'
import { defaultProjections } from './default-projections.js'
import type { Projection } from './projection.js'
import { createSchema, INDEXES_DDL } from './schema.js'

export interface RebuildDeps {
  readonly store: EventStore
  readonly path: string
  /** Called after each transaction with the position reached and the head position at start. */
  readonly onProgress?: (done: number, total: number) => void
  readonly projections?: readonly Projection[]
  /** Events per read and per transaction (default 2,000). */
  readonly batchSize?: number
}

const sidecars = (path: string): string[] => [`${path}-wal`, `${path}-shm`, `${path}-journal`]

function fsyncPath (path: string): void {
  const fd = openSync(path, 'r')
  try { fsyncSync(fd) } finally { closeSync(fd) }
}

/** Folds a leftover WAL of the old file into it, so deleting the WAL afterwards loses nothing. */
function settleOldFile (path: string): void {
  if (!existsSync(path)) return
  try {
    const old = new Database(path)
    try { old.pragma('wal_checkpoint(TRUNCATE)') } finally { old.close() }
  } catch {
    // Unreadable or not a database: it is being replaced anyway.
  }
}

export async function rebuildReadModel (deps: RebuildDeps): Promise<{ events: number }> {
  const { store, path } = deps
  // Small enough that a batch's parsed events die young (a scavenge, not a full GC), large
  // enough that commits (no journal, no sync) are a small share.
  const limit = deps.batchSize ?? 2000
  const tmp = `${path}.rebuild`
  for (const f of [tmp, ...sidecars(tmp)]) rmSync(f, { force: true })

  const db = new Database(tmp)
  let events = 0
  try {
    // A throw-away file until the rename: no journal, no fsync per transaction.
    db.pragma('journal_mode = OFF')
    db.pragma('synchronous = OFF')
    db.pragma('cache_size = -262144')
    db.pragma('temp_store = MEMORY')
    // Indexes built once at the end from sorted data cost a fraction of keeping them up to date.
    createSchema(db, { indexes: false })
    // One writer, nobody else: no locking round trips per transaction.
    db.pragma('locking_mode = EXCLUSIVE')
    const projections = deps.projections ?? defaultProjections
    const applier = createApplier(db, projections)
    const total = await store.headPosition()
    let after = applier.position
    for (;;) {
      const batch = await store.readAll({ after, limit })
      const last = batch[batch.length - 1]
      if (last === undefined) break
      applier.apply(batch)
      events += batch.length
      after = last.position
      deps.onProgress?.(after, Math.max(total, after))
    }
    db.exec(INDEXES_DDL)
    db.pragma('locking_mode = NORMAL')
    db.pragma('journal_mode = WAL')
    db.close()
  } catch (error) {
    if (db.open) db.close()
    for (const f of [tmp, ...sidecars(tmp)]) rmSync(f, { force: true })
    throw error
  }

  fsyncPath(tmp)
  settleOldFile(path)
  // Sidecars first: a stale WAL next to the new file would be replayed into it.
  for (const f of sidecars(path)) rmSync(f, { force: true })
  renameSync(tmp, path)
  try { fsyncPath(dirname(path)) } catch { /* not every platform can fsync a directory */ }
  return { events }
}
