import type Database from 'better-sqlite3'
import type { JsonObject, RecordedEvent } from './port.js'

/**
 * `position INTEGER PRIMARY KEY` (no AUTOINCREMENT) is the rowid: SQLite assigns max + 1 inside
 * the single writer's transaction and a rollback frees the numbers again, so positions are gap
 * free and follow commit order, also across processes. `UNIQUE (stream, revision)` doubles as the
 * index that answers "last revision of a stream" with one seek, so no separate streams table is
 * kept (it would cost an extra write per append and buy nothing).
 */
const SCHEMA = `
  CREATE TABLE IF NOT EXISTS events (
    position    INTEGER PRIMARY KEY,
    id          TEXT    NOT NULL UNIQUE,
    stream      TEXT    NOT NULL,
    revision    INTEGER NOT NULL,
    type        TEXT    NOT NULL,
    data        TEXT    NOT NULL,
    metadata    TEXT    NOT NULL,
    recorded_at TEXT    NOT NULL,
    UNIQUE (stream, revision)
  ) STRICT;
`

export interface EventRow {
  readonly position: number
  readonly id: string
  readonly stream: string
  readonly revision: number
  readonly type: string
  readonly data: string
  readonly metadata: string
  readonly recorded_at: string
}

/** Where a stored event sits; what the idempotency and expectation checks need. */
export interface StoredPlace {
  readonly stream: string
  readonly revision: number
  readonly position: number
}

export interface InsertParams {
  readonly id: string
  readonly stream: string
  readonly revision: number
  readonly type: string
  readonly data: string
  readonly metadata: string
  readonly recordedAt: string
}

const COLUMNS = 'position, id, stream, revision, type, data, metadata, recorded_at'

/** Every statement the adapter runs, prepared once per connection. */
export function prepareStatements (db: Database.Database) {
  return {
    insert: db.prepare<InsertParams>(`INSERT INTO events (id, stream, revision, type, data, metadata, recorded_at)
      VALUES (@id, @stream, @revision, @type, @data, @metadata, @recordedAt)`),
    placeOfId: db.prepare<[string], StoredPlace>('SELECT stream, revision, position FROM events WHERE id = ?'),
    lastOfStream: db.prepare<[string], StoredPlace>(
      'SELECT stream, revision, position FROM events WHERE stream = ? ORDER BY revision DESC LIMIT 1'),
    head: db.prepare<[], number>('SELECT coalesce(max(position), 0) FROM events').pluck(),
    streamForwards: db.prepare<[string, number, number], EventRow>(
      `SELECT ${COLUMNS} FROM events WHERE stream = ? AND revision >= ? ORDER BY revision ASC LIMIT ?`),
    streamBackwards: db.prepare<[string, number, number], EventRow>(
      `SELECT ${COLUMNS} FROM events WHERE stream = ? AND revision <= ? ORDER BY revision DESC LIMIT ?`),
    all: db.prepare<[number, number], EventRow>(
      `SELECT ${COLUMNS} FROM events WHERE position > ? ORDER BY position ASC LIMIT ?`)
  }
}

export type Statements = ReturnType<typeof prepareStatements>

/**
 * busy_timeout comes first so that even switching to WAL waits for another process instead of
 * failing. better-sqlite3 12 drops to synchronous=NORMAL on entering WAL (MEASURED.md), which
 * can lose acknowledged commits on power loss, so the level is set explicitly afterwards.
 * Checkpoints are a worker thread's job (sqlite-checkpointer.ts), not the commits': automatic
 * checkpoints off, and a WAL that a burst made large is cut back to 64 MiB when it restarts.
 */
export function configure (db: Database.Database, synchronous: 'FULL' | 'NORMAL', busyTimeoutMs: number): void {
  db.pragma(`busy_timeout = ${busyTimeoutMs}`)
  db.pragma('journal_mode = WAL')
  db.pragma(`synchronous = ${synchronous}`)
  db.pragma('wal_autocheckpoint = 0')
  db.pragma(`journal_size_limit = ${64 * 1024 * 1024}`)
  db.exec(SCHEMA)
}

export function toRecordedEvent (row: EventRow): RecordedEvent {
  return {
    id: row.id,
    stream: row.stream,
    revision: row.revision,
    position: row.position,
    type: row.type,
    data: JSON.parse(row.data) as JsonObject,
    metadata: JSON.parse(row.metadata) as JsonObject,
    recordedAt: row.recorded_at
  }
}
