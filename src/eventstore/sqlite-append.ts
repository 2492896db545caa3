import { validate as isUuid } from 'uuid'
import {
  IdempotencyConflictError, WrongExpectedRevisionError,
  type AppendResult, type EventToAppend, type ExpectedRevision
} from './port.js'
import type { StoredPlace, Statements } from './sqlite-schema.js'

const MAX_STREAM_LENGTH = 512

/** An event ready for the INSERT: validated, id normalized, JSON serialized once. */
interface SerializedEvent {
  readonly id: string
  readonly type: string
  readonly data: string
  readonly metadata: string
}

/** One append call, validated and waiting for the next group commit. */
export interface PreparedAppend {
  readonly stream: string
  readonly expected: ExpectedRevision
  readonly events: readonly SerializedEvent[]
}

/**
 * Validates and serializes before queueing, so that a bad call (or data JSON cannot represent)
 * fails alone with a TypeError instead of aborting the group commit it would have joined.
 */
export function prepareAppend (stream: unknown, events: unknown, options: unknown): PreparedAppend {
  if (typeof stream !== 'string' || stream.length === 0 || stream.length > MAX_STREAM_LENGTH) {
    throw new TypeError(`stream must be a non-empty string of at most ${MAX_STREAM_LENGTH} characters`)
  }
  if (!Array.isArray(events)) throw new TypeError('events must be an array')
  const expected = (options as { expectedRevision?: unknown } | undefined)?.expectedRevision
  if (!isExpectedRevision(expected)) {
    throw new TypeError("expectedRevision must be 'any', 'no_stream', 'stream_exists' or a revision ≥ 0")
  }
  const ids = new Set<string>()
  const serialized = events.map((event: unknown, index) => serialize(event, index, ids))
  return { stream, expected, events: serialized }
}

function isExpectedRevision (value: unknown): value is ExpectedRevision {
  return value === 'any' || value === 'no_stream' || value === 'stream_exists' ||
    (Number.isSafeInteger(value) && (value as number) >= 0)
}

function serialize (event: unknown, index: number, ids: Set<string>): SerializedEvent {
  const { id, type, data, metadata } = (event ?? {}) as Partial<EventToAppend>
  if (typeof id !== 'string' || !isUuid(id)) throw new TypeError(`events[${index}].id must be a UUID`)
  // UUIDs are case-insensitive; one spelling keeps the UNIQUE index honest about retries.
  const normalized = id.toLowerCase()
  if (ids.has(normalized)) throw new TypeError(`events[${index}].id ${id} appears twice in the batch`)
  ids.add(normalized)
  if (typeof type !== 'string' || type.length === 0) throw new TypeError(`events[${index}].type must be a non-empty string`)
  if (!isPlainObject(data)) throw new TypeError(`events[${index}].data must be a JSON object`)
  if (!isPlainObject(metadata)) throw new TypeError(`events[${index}].metadata must be a JSON object`)
  return { id: normalized, type, data: JSON.stringify(data), metadata: JSON.stringify(metadata) }
}

function isPlainObject (value: unknown): boolean {
  return typeof value === 'object' && value !== null && !Array.isArray(value)
}

/**
 * Runs one append inside the open group-commit transaction. Every check happens before the
 * first INSERT, so a rejected append leaves nothing behind and its neighbours can still commit.
 */
export function applyAppend (statements: Statements, append: PreparedAppend, recordedAt: string): AppendResult {
  const original = findOriginalResult(statements, append)
  if (original !== undefined) return original

  const last = statements.lastOfStream.get(append.stream)
  const actual = last?.revision ?? 'no_stream'
  if (!satisfies(append.expected, actual)) {
    throw new WrongExpectedRevisionError(append.stream, append.expected, actual)
  }
  if (append.events.length === 0) {
    return { nextRevision: last?.revision ?? -1, position: last?.position ?? statements.head.get() ?? 0 }
  }
  const firstRevision = (last?.revision ?? -1) + 1
  let position = 0
  append.events.forEach((event, index) => {
    const info = statements.insert.run({ ...event, stream: append.stream, revision: firstRevision + index, recordedAt })
    position = Number(info.lastInsertRowid)
  })
  return { nextRevision: firstRevision + append.events.length - 1, position }
}

function satisfies (expected: ExpectedRevision, actual: number | 'no_stream'): boolean {
  switch (expected) {
    case 'any': return true
    case 'no_stream': return actual === 'no_stream'
    case 'stream_exists': return actual !== 'no_stream'
    default: return actual === expected
  }
}

/**
 * A retry of a batch that is already stored (all ids, consecutive, same stream, same order) gets
 * the result the first attempt got, whatever it expects now: the client may have lost the reply.
 * A batch that only partly matches is a client bug, and guessing would corrupt the stream.
 */
function findOriginalResult (statements: Statements, append: PreparedAppend): AppendResult | undefined {
  const places = append.events.map((event) => statements.placeOfId.get(event.id))
  const firstStored = places.findIndex((place) => place !== undefined)
  if (firstStored === -1) return undefined
  const conflict = (index: number) => new IdempotencyConflictError(append.stream, append.events[index]?.id ?? '')
  if (places.some((place) => place === undefined)) throw conflict(firstStored)

  const stored = places as StoredPlace[]
  const base = stored[0]?.revision ?? 0
  const misfit = stored.findIndex((place, index) => place.stream !== append.stream || place.revision !== base + index)
  if (misfit !== -1) throw conflict(misfit)
  const last = stored[stored.length - 1] as StoredPlace
  return { nextRevision: last.revision, position: last.position }
}
