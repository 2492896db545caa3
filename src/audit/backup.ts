/**
 * Full backup and restore of the event log as NDJSON (`idm events export` / `idm events import`).
 *
 * Line 1 is a header, `{"format":"identity-manager-events","version":1,"after":N}`; every other
 * line is one event, in position order:
 *   {"position":…,"stream":…,"revision":…,"id":…,"type":…,"data":{…},"metadata":{…}}
 * with data and metadata exactly as stored, NOT redacted: an export holds password hashes and
 * must be protected like the database itself. Every stream is included (reservations, admin
 * seats, unknown-user logins), so the import rebuilds an identical log: same ids, streams,
 * revisions, metadata (so every hash chain still verifies) and order. `position` is
 * informational; the importing store assigns its own (the same numbers for SQLite → SQLite).
 * The commit time (`recordedAt`) is not kept: the domain time is `metadata.occurredAt`.
 */
import { validate as isUuid } from 'uuid'
import type { EventStore, EventToAppend, JsonObject, Position } from '../eventstore/port.js'
import { createChainVerifier, type VerifyResult } from './verify.js'

export const EXPORT_FORMAT = 'identity-manager-events'
export const EXPORT_VERSION = 1

export interface ExportOptions {
  /** Only events after this position (a partial export cannot be imported). Default 0. */
  readonly after?: Position
  readonly pageSize?: number
}

/** Writes the header and one line per event (each ending in "\n") through `write`, which may apply backpressure. */
export async function exportEvents (store: EventStore, write: (chunk: string) => Promise<void> | void, options: ExportOptions = {}): Promise<{ events: number }> {
  const pageSize = options.pageSize ?? 1000
  let after = options.after ?? 0
  await write(`${JSON.stringify({ format: EXPORT_FORMAT, version: EXPORT_VERSION, after })}\n`)
  let events = 0
  for (;;) {
    const page = await store.readAll({ after, limit: pageSize })
    if (page.length === 0) break
    let chunk = ''
    for (const e of page) {
      chunk += `${JSON.stringify({ position: e.position, stream: e.stream, revision: e.revision, id: e.id, type: e.type, data: e.data, metadata: e.metadata })}\n`
    }
    await write(chunk)
    events += page.length
    after = page[page.length - 1]!.position
    if (page.length < pageSize) break
  }
  return { events }
}

/** The input is not a full export this version can import; nothing after `line` was imported. */
export class ImportError extends Error {
  readonly code = 'IMPORT_REFUSED'
  constructor (message: string, readonly line: number) {
    super(line > 0 ? `line ${line}: ${message}` : message)
    this.name = 'ImportError'
  }
}

export interface ImportOptions {
  /** Events per append call at most (default 500). */
  readonly batchSize?: number
  /** Append calls in flight before waiting for them (they commit together). Default 64. */
  readonly inflight?: number
  readonly onProgress?: (events: number) => void
}

export interface ImportResult {
  readonly events: number
  readonly streams: number
  /** The hash chains of what was imported, checked on the way in. */
  readonly verification: VerifyResult
}

interface Pending { stream: string, firstRevision: number, firstLine: number, events: EventToAppend[] }

/**
 * Replays an export into an empty store (refused otherwise), in file order, each stream's events
 * appended with the exact expected revision, so the result has the same streams and revisions.
 * Consecutive events of one stream share an append; appends are issued without waiting one by
 * one, so the store's group commit batches them.
 */
export async function importEvents (store: EventStore, lines: AsyncIterable<string>, options: ImportOptions = {}): Promise<ImportResult> {
  const batchSize = options.batchSize ?? 500
  const maxInflight = options.inflight ?? 64
  if ((await store.headPosition()) !== 0) throw new ImportError('the event store is not empty: import only restores into a new, empty store', 0)

  const verifier = createChainVerifier()
  const revisions = new Map<string, number>()
  let lineNo = 0
  let headerSeen = false
  let lastPosition = 0
  let events = 0
  let pending: Pending | undefined
  let inflight: Promise<void>[] = []
  let failure: ImportError | undefined

  const dispatch = (): void => {
    if (pending === undefined) return
    const { stream, firstRevision, firstLine, events: batch } = pending
    pending = undefined
    inflight.push(store.append(stream, batch, { expectedRevision: firstRevision === 0 ? 'no_stream' : firstRevision - 1 }).then(
      () => undefined,
      (error: unknown) => { failure ??= new ImportError(`append to ${stream} failed: ${error instanceof Error ? error.message : String(error)}`, firstLine) }))
  }
  const settle = async (): Promise<void> => {
    await Promise.all(inflight)
    inflight = []
    if (failure !== undefined) throw failure
    options.onProgress?.(events)
  }

  for await (const raw of lines) {
    lineNo++
    const line = raw.trim()
    if (line === '') continue
    let value: unknown
    try {
      value = JSON.parse(line)
    } catch {
      throw new ImportError('not valid JSON', lineNo)
    }
    if (!headerSeen) {
      checkHeader(value, lineNo)
      headerSeen = true
      continue
    }
    const record = parseRecord(value, lineNo)
    if (record.position <= lastPosition) throw new ImportError(`position ${record.position} does not follow ${lastPosition}`, lineNo)
    lastPosition = record.position
    const expected = (revisions.get(record.stream) ?? -1) + 1
    if (record.revision !== expected) throw new ImportError(`stream ${record.stream}: revision ${record.revision}, expected ${expected}`, lineNo)
    revisions.set(record.stream, record.revision)
    verifier.check(record)

    if (pending !== undefined && (pending.stream !== record.stream || pending.events.length >= batchSize)) dispatch()
    pending ??= { stream: record.stream, firstRevision: record.revision, firstLine: lineNo, events: [] }
    pending.events.push({ id: record.id, type: record.type, data: record.data, metadata: record.metadata })
    events++
    if (inflight.length >= maxInflight) await settle()
  }
  if (!headerSeen) throw new ImportError('empty input: expected an export made by `idm events export`', 0)
  dispatch()
  await settle()
  return { events, streams: revisions.size, verification: verifier.result() }
}

function checkHeader (value: unknown, line: number): void {
  const header = value as { format?: unknown, version?: unknown, after?: unknown } | null
  if (header === null || typeof header !== 'object' || header.format !== EXPORT_FORMAT) {
    throw new ImportError(`not an export: the first line must be the ${EXPORT_FORMAT} header`, line)
  }
  if (header.version !== EXPORT_VERSION) throw new ImportError(`export format version ${String(header.version)} is not supported (this version reads ${EXPORT_VERSION})`, line)
  if (header.after !== 0) throw new ImportError(`a partial export (after position ${String(header.after)}) cannot be imported: export everything`, line)
}

interface ExportRecord {
  readonly position: number
  readonly stream: string
  readonly revision: number
  readonly id: string
  readonly type: string
  readonly data: JsonObject
  readonly metadata: JsonObject
}

const isObject = (value: unknown): value is JsonObject => value !== null && typeof value === 'object' && !Array.isArray(value)
const isCount = (value: unknown): value is number => Number.isSafeInteger(value) && (value as number) >= 0

function parseRecord (value: unknown, line: number): ExportRecord {
  if (!isObject(value)) throw new ImportError('an event line must be a JSON object', line)
  const { position, stream, revision, id, type, data, metadata } = value
  if (!isCount(position) || position < 1) throw new ImportError('position must be an integer ≥ 1', line)
  if (typeof stream !== 'string' || stream === '') throw new ImportError('stream must be a non-empty string', line)
  if (!isCount(revision)) throw new ImportError('revision must be an integer ≥ 0', line)
  if (typeof id !== 'string' || !isUuid(id)) throw new ImportError('id must be a UUID', line)
  if (typeof type !== 'string' || type === '') throw new ImportError('type must be a non-empty string', line)
  if (!isObject(data) || !isObject(metadata)) throw new ImportError('data and metadata must be JSON objects', line)
  return { position, stream, revision, id, type, data, metadata }
}
