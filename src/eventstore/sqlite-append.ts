import {
  IdempotencyConflictError, WrongExpectedRevisionError,
  type AppendResult, type ExpectedRevision
} from './port.js'
import type { StoredPlace, Statements } from './sqlite-schema.js'
import { validateAppend, type ValidatedEvent } from './validation.js'

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
 * Validates (shared rules, src/eventstore/validation.ts) and serializes before queueing, so that a
 * bad call (or data JSON cannot represent) fails alone with a TypeError instead of aborting the
 * group commit it would have joined.
 */
export function prepareAppend (stream: unknown, events: unknown, options: unknown): PreparedAppend {
  const validated = validateAppend(stream, events, options)
  return { stream: validated.stream, expected: validated.expected, events: validated.events.map(serialize) }
}

function serialize (event: ValidatedEvent): SerializedEvent {
  return { id: event.id, type: event.type, data: event.dataJson, metadata: event.metadataJson }
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
