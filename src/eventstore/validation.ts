/**
 * Input validation shared by every EventStore adapter, so that a bad call fails the same way
 * (a TypeError with the same message) whichever store is configured, and before any I/O.
 */
import { validate as isUuid } from 'uuid'
import type { EventToAppend, ExpectedRevision, JsonObject } from './port.js'

export const MAX_STREAM_LENGTH = 512

/** An event that passed validation: id normalized to lower case, JSON serialized once. */
export interface ValidatedEvent extends EventToAppend {
  readonly dataJson: string
  readonly metadataJson: string
}

export interface ValidatedAppend {
  readonly stream: string
  readonly expected: ExpectedRevision
  readonly events: readonly ValidatedEvent[]
}

/**
 * Checks an append call's arguments. Throws a TypeError naming the first problem; data that JSON
 * cannot represent (a cycle, a BigInt) fails here too rather than halfway through a write.
 */
export function validateAppend (stream: unknown, events: unknown, options: unknown): ValidatedAppend {
  if (typeof stream !== 'string' || stream.length === 0 || stream.length > MAX_STREAM_LENGTH) {
    throw new TypeError(`stream must be a non-empty string of at most ${MAX_STREAM_LENGTH} characters`)
  }
  if (!Array.isArray(events)) throw new TypeError('events must be an array')
  const expected = (options as { expectedRevision?: unknown } | undefined)?.expectedRevision
  if (!isExpectedRevision(expected)) {
    throw new TypeError("expectedRevision must be 'any', 'no_stream', 'stream_exists' or a revision ≥ 0")
  }
  const ids = new Set<string>()
  const validated = events.map((event: unknown, index) => validateEvent(event, index, ids))
  return { stream, expected, events: validated }
}

export function isExpectedRevision (value: unknown): value is ExpectedRevision {
  return value === 'any' || value === 'no_stream' || value === 'stream_exists' ||
    (Number.isSafeInteger(value) && (value as number) >= 0)
}

function validateEvent (event: unknown, index: number, ids: Set<string>): ValidatedEvent {
  const { id, type, data, metadata } = (event ?? {}) as Partial<EventToAppend>
  if (typeof id !== 'string' || !isUuid(id)) throw new TypeError(`events[${index}].id must be a UUID`)
  // UUIDs are case-insensitive; one spelling keeps idempotency checks honest about retries.
  const normalized = id.toLowerCase()
  if (ids.has(normalized)) throw new TypeError(`events[${index}].id ${id} appears twice in the batch`)
  ids.add(normalized)
  if (typeof type !== 'string' || type.length === 0) throw new TypeError(`events[${index}].type must be a non-empty string`)
  if (!isPlainObject(data)) throw new TypeError(`events[${index}].data must be a JSON object`)
  if (!isPlainObject(metadata)) throw new TypeError(`events[${index}].metadata must be a JSON object`)
  return { id: normalized, type, data, metadata, dataJson: JSON.stringify(data), metadataJson: JSON.stringify(metadata) }
}

export function isPlainObject (value: unknown): value is JsonObject {
  return typeof value === 'object' && value !== null && !Array.isArray(value)
}

/** For counts and positions in read options: an integer ≥ 0. */
export function assertCount (name: string, value: number): void {
  if (!Number.isSafeInteger(value) || value < 0) throw new TypeError(`${name} must be an integer ≥ 0`)
}

/** The same checks as the SQLite subscription, with the same messages. */
export function validateSubscribeOptions (after: unknown, batchSize: unknown): void {
  if (!Number.isSafeInteger(after) || (after as number) < 0) throw new TypeError('after must be a position ≥ 0')
  if (!Number.isSafeInteger(batchSize) || (batchSize as number) < 1) throw new TypeError('batchSize must be an integer ≥ 1')
}
