/**
 * Pure conversions between the port (src/eventstore/port.ts) and @eventstore/db-client 6: no
 * I/O here, so every rule can be tested without a server (test/eventstore-esdb-mapping.test.ts).
 */
import {
  ANY, NO_STREAM, START as CLIENT_START, STREAM_EXISTS,
  AccessDeniedError, CancelledError, DeadlineExceededError, InvalidArgumentError, NotLeaderError,
  TimeoutError, UnavailableError, UnsupportedError, WrongExpectedVersionError,
  type AllStreamResolvedEvent, type AppendExpectedRevision, type CurrentRevision,
  type Position as ClientPosition, type ReadPosition, type ResolvedEvent
} from '@eventstore/db-client'
import {
  IdempotencyConflictError, START, StoreUnavailableError, WrongExpectedRevisionError,
  type AppendResult, type ExpectedRevision, type JsonObject, type Position, type RecordedEvent
} from './port.js'
import { isPlainObject } from './validation.js'

// ── expected revision ────────────────────────────────────────────────────────────────────────

export function toClientExpectedRevision (expected: ExpectedRevision): AppendExpectedRevision {
  switch (expected) {
    case 'any': return ANY
    case 'no_stream': return NO_STREAM
    case 'stream_exists': return STREAM_EXISTS
    default: return BigInt(expected)
  }
}

export function fromClientExpectedRevision (expected: AppendExpectedRevision): ExpectedRevision {
  switch (expected) {
    case ANY: return 'any'
    case NO_STREAM: return 'no_stream'
    case STREAM_EXISTS: return 'stream_exists'
    default: return toSafeNumber(expected, 'expected revision')
  }
}

/**
 * The stream's actual state as the client reports it. The client says `"no_stream"`, but -1 (the
 * value of `nextExpectedRevision` for a missing stream) and a missing value mean the same.
 */
export function fromClientCurrentRevision (actual: CurrentRevision | number | undefined | null): number | 'no_stream' {
  if (actual === undefined || actual === null || actual === NO_STREAM) return 'no_stream'
  const revision = toSafeNumber(actual, 'current revision')
  return revision < 0 ? 'no_stream' : revision
}

/** Whether a stream whose last revision is `actual` satisfies an append's expectation. */
export function expectationMet (expected: ExpectedRevision, actual: number | 'no_stream'): boolean {
  switch (expected) {
    case 'any': return true
    case 'no_stream': return actual === 'no_stream'
    case 'stream_exists': return actual !== 'no_stream'
    default: return actual === expected
  }
}

// ── errors ───────────────────────────────────────────────────────────────────────────────────

/** gRPC status codes that mean "the server could not be reached or did not answer in time". */
const UNAVAILABLE_GRPC_CODES = new Set([
  1, // CANCELLED: the server (or our own close) cancelled the call
  4, // DEADLINE_EXCEEDED
  10, // ABORTED: EventStoreDB's commit timeout
  14 // UNAVAILABLE: no connection, connection lost, node shutting down
])

/**
 * Whether an error means the store could not be reached, so that nothing can be said about the
 * outcome. The client throws its own classes for most of these, but a failure while it fetches
 * the server's capabilities (the first call on a connection) surfaces as the raw gRPC error, and
 * cluster discovery gives up with a plain Error.
 */
export function isUnavailableError (error: unknown): boolean {
  if (error instanceof UnavailableError || error instanceof DeadlineExceededError || error instanceof TimeoutError ||
    error instanceof NotLeaderError || error instanceof CancelledError) return true
  if (!(error instanceof Error)) return false
  if (error instanceof WrongExpectedVersionError) return false
  const code = (error as { code?: unknown }).code
  if (typeof code === 'number' && UNAVAILABLE_GRPC_CODES.has(code)) return true
  return error.message.startsWith('Failed to discover after')
}

/** Errors that retrying cannot fix: a resubscription loop gives up on these at once. */
export function isPermanentError (error: unknown): boolean {
  return error instanceof AccessDeniedError || error instanceof InvalidArgumentError ||
    error instanceof UnsupportedError || error instanceof TypeError || error instanceof RangeError
}

/**
 * The client's WrongExpectedVersionError as ours. `expected` is what the caller asked for (the
 * client's copy of it is a bigint or a constant); the actual revision comes from the server.
 */
export function toWrongExpectedRevisionError (
  stream: string, expected: ExpectedRevision, error: WrongExpectedVersionError
): WrongExpectedRevisionError {
  return new WrongExpectedRevisionError(stream, expected, fromClientCurrentRevision(error.actualVersion))
}

/** Unavailable errors become StoreUnavailableError (cause attached); everything else is returned as is. */
export function toStoreError (error: unknown, operation: string): unknown {
  if (error instanceof StoreUnavailableError || !isUnavailableError(error)) return error
  const reason = error instanceof Error ? error.message : String(error)
  return new StoreUnavailableError(`EventStoreDB ${operation} failed, the store is unreachable: ${reason}`, { cause: error })
}

// ── positions ────────────────────────────────────────────────────────────────────────────────

export function toSafeNumber (value: bigint | number, what: string): number {
  const number = Number(value)
  if (!Number.isSafeInteger(number) || BigInt(number) !== BigInt(value)) {
    throw new RangeError(`EventStoreDB ${what} ${String(value)} is not a safe integer`)
  }
  return number
}

/**
 * Our position of an event: its commit position. Since EventStoreDB 20 every event is its own
 * committed record, so commit and prepare positions are equal and distinct per event. An event
 * from an explicit transaction (the legacy TCP API) shares its commit position with its siblings
 * and cannot be addressed by one number: refused rather than silently skipped later.
 */
export function toPosition (position: ClientPosition | undefined, what = 'event'): Position {
  if (position === undefined) {
    throw new RangeError(`EventStoreDB did not report the position of ${what}; stream reads carry positions from server 22.6 on`)
  }
  const commit = toSafeNumber(position.commit, `commit position of ${what}`)
  if (commit < 1) throw new RangeError(`EventStoreDB reported commit position ${commit} for ${what}; positions start at 1`)
  if (position.prepare !== position.commit) {
    throw new RangeError(`${what} has commit position ${position.commit} but prepare position ${position.prepare} ` +
      '(written in an explicit transaction); such events have no position of their own')
  }
  return commit
}

/**
 * Where a forward read of $all starts so that it returns the events after `after`. EventStoreDB
 * reads forwards from a position inclusively, so the event at `after` itself comes back first and
 * must be dropped (see `isAfter`).
 */
export function toReadPosition (after: Position): ReadPosition {
  if (after === START) return CLIENT_START
  return { commit: BigInt(after), prepare: BigInt(after) }
}

/** The exclusive lower bound: true for positions strictly after `after`. */
export function isAfter (position: Position, after: Position): boolean {
  return position > after
}

// ── events ───────────────────────────────────────────────────────────────────────────────────

/** Event types and streams starting with `$` are EventStoreDB's own (projections, stats, metadata). */
export function isSystemEvent (stream: string, type: string): boolean {
  return stream.startsWith('$') || type.startsWith('$')
}

type AnyResolvedEvent = ResolvedEvent | AllStreamResolvedEvent

/** The event a read or a subscription returned, ours or a system one; undefined when there is none. */
export function recordedOf (resolved: AnyResolvedEvent): NonNullable<AnyResolvedEvent['event']> | undefined {
  return resolved.event ?? undefined
}

/**
 * The client's resolved event as ours. Data and metadata must be JSON objects: the adapter only
 * writes JSON events, and an event it cannot represent is an error, not something to guess at.
 */
export function toRecordedEvent (resolved: AnyResolvedEvent): RecordedEvent {
  const event = recordedOf(resolved)
  if (event === undefined) throw new TypeError('EventStoreDB returned a resolved event without an event')
  const where = `event ${event.id} (${event.streamId}@${String(event.revision)})`
  return {
    id: event.id.toLowerCase(),
    stream: event.streamId,
    revision: toSafeNumber(event.revision, `revision of ${where}`),
    position: toPosition(event.position, where),
    type: event.type,
    data: toJsonObject(event.data, `data of ${where}`),
    metadata: event.metadata === undefined ? {} : toJsonObject(event.metadata, `metadata of ${where}`),
    recordedAt: event.created.toISOString()
  }
}

/** Our event, or undefined for a system event (and for an entry with no event at all). */
export function toUserEvent (resolved: AnyResolvedEvent): RecordedEvent | undefined {
  const event = recordedOf(resolved)
  if (event === undefined || isSystemEvent(event.streamId, event.type)) return undefined
  return toRecordedEvent(resolved)
}

/** The user events of a page of $all strictly after `after`, in the order read. */
export function userEventsAfter (page: readonly AnyResolvedEvent[], after: Position): RecordedEvent[] {
  const events: RecordedEvent[] = []
  for (const resolved of page) {
    const event = toUserEvent(resolved)
    if (event !== undefined && isAfter(event.position, after)) events.push(event)
  }
  return events
}

function toJsonObject (value: unknown, what: string): JsonObject {
  let parsed = value
  if (value instanceof Uint8Array) {
    try {
      parsed = JSON.parse(Buffer.from(value).toString('utf8'))
    } catch {
      throw new TypeError(`${what} is not JSON`)
    }
  }
  if (!isPlainObject(parsed)) throw new TypeError(`${what} is not a JSON object`)
  return parsed
}

// ── idempotency ──────────────────────────────────────────────────────────────────────────────

/**
 * After EventStoreDB accepted an append, the events at the revisions it reported must be the
 * batch, in order. They are when the write was new, and when the server recognized a retry (it
 * then reports the original revisions and writes nothing). They are not when its best-effort
 * idempotency for `any` matched ids that are stored in another order: a conflict, nothing written.
 */
export function confirmAppended (
  stream: string, ids: readonly string[], stored: readonly RecordedEvent[], nextRevision: number
): AppendResult {
  const last = stored[stored.length - 1]
  const mismatch = ids.findIndex((id, index) => stored[index]?.id !== id)
  if (mismatch !== -1 || stored.length !== ids.length || last === undefined || last.revision !== nextRevision) {
    throw new IdempotencyConflictError(stream, ids[mismatch === -1 ? 0 : mismatch] ?? '')
  }
  return { nextRevision: last.revision, position: last.position }
}

/**
 * After EventStoreDB rejected an append's expectation, the batch may already be stored (a retry
 * whose first reply was lost, sent with an expectation that is stale now). `found` holds the
 * stream's events whose ids are in the batch. None: really a wrong expectation (undefined). All,
 * consecutive and in order: the original result, as SQLite gives it. Anything else: a conflict.
 */
export function matchStoredBatch (
  stream: string, ids: readonly string[], found: ReadonlyMap<string, RecordedEvent>
): AppendResult | undefined {
  if (found.size === 0) return undefined
  const first = found.get(ids[0] ?? '')
  if (first === undefined) throw new IdempotencyConflictError(stream, ids.find((id) => found.has(id)) ?? '')
  let last = first
  ids.forEach((id, index) => {
    const event = found.get(id)
    if (event === undefined || event.stream !== stream || event.revision !== first.revision + index) {
      throw new IdempotencyConflictError(stream, id)
    }
    last = event
  })
  return { nextRevision: last.revision, position: last.position }
}

// ── connection ───────────────────────────────────────────────────────────────────────────────

/**
 * Checks a connection string before the client parses it, for the mistakes the client would
 * accept quietly: another scheme, no host, several hosts for DNS discovery (it uses the first),
 * and `throwOnAppendFailure=false` (the adapter relies on the client throwing on a wrong
 * expected version; with it off, the batch append path also reports a wrong current revision).
 */
export function validateConnectionString (value: unknown): string {
  if (typeof value !== 'string') throw new TypeError('connectionString must be a string')
  const connectionString = value.trim()
  const match = /^(esdb|esdb\+discover):\/\/(?:[^@/?]+@)?([^/?]*)\/?(?:\?(.*))?$/.exec(connectionString)
  if (match === null) {
    throw new TypeError('connectionString must look like esdb://host:2113?tls=false or esdb+discover://cluster.example.com:2113')
  }
  const [, scheme, hostList = '', query = ''] = match
  const hosts = hostList.split(',').map((host) => host.trim()).filter((host) => host.length > 0)
  if (hosts.length === 0) throw new TypeError('connectionString names no host')
  if (scheme === 'esdb+discover' && hosts.length > 1) {
    throw new TypeError('esdb+discover:// takes one DNS name; list the nodes with esdb://node1:2113,node2:2113,node3:2113 instead')
  }
  for (const pair of query.split('&')) {
    const [key = '', setting = ''] = pair.split('=')
    if (key.trim().toLowerCase().replace(/[_-]/g, '') === 'throwonappendfailure' && setting.trim() !== 'true') {
      throw new TypeError('connectionString must not set throwOnAppendFailure: the adapter needs wrong expected versions thrown')
    }
  }
  return connectionString
}

// ── resubscription ───────────────────────────────────────────────────────────────────────────

export interface RetryPolicy {
  /** Delay before the first resubscription. Default 100 ms. */
  readonly initialDelayMs?: number
  /** Upper bound of the delay. Default 5000 ms. */
  readonly maxDelayMs?: number
  /** Consecutive failed attempts before the subscription gives up. Default: never gives up. */
  readonly maxAttempts?: number
}

/**
 * Exponential backoff with "equal jitter": half the capped delay is fixed, half random, so that
 * many API nodes dropped together do not all come back in the same millisecond.
 */
export function backoffDelay (attempt: number, policy: RetryPolicy = {}, random: () => number = Math.random): number {
  const initial = policy.initialDelayMs ?? 100
  const max = policy.maxDelayMs ?? 5000
  const capped = Math.min(max, initial * 2 ** Math.max(0, attempt - 1))
  return Math.round(capped / 2 + random() * capped / 2)
}
