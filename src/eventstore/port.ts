/**
 * The event store port. Semantics follow EventStoreDB so that the embedded SQLite adapter and the
 * EventStoreDB adapter are interchangeable: one contract suite (test/eventstore-contract.ts) runs
 * against every adapter.
 */

/** Where an append expects the stream to be. A number is the revision of the stream's last event. */
export type ExpectedRevision = 'any' | 'no_stream' | 'stream_exists' | number

/**
 * An opaque, totally ordered position in the global log. For SQLite it is the gap-free commit
 * sequence (1, 2, 3, …); for EventStoreDB the commit position. Always a safe integer ≥ 1;
 * 0 means "before the first event".
 */
export type Position = number

export const START: Position = 0

export type JsonObject = { [key: string]: unknown }

export interface EventToAppend {
  /** Client-chosen UUID. Appending an id that is already stored is an idempotent no-op. */
  readonly id: string
  readonly type: string
  readonly data: JsonObject
  readonly metadata: JsonObject
}

export interface RecordedEvent {
  readonly id: string
  readonly stream: string
  /** 0-based revision within the stream. */
  readonly revision: number
  /** Global position, strictly increasing in commit order. */
  readonly position: Position
  readonly type: string
  readonly data: JsonObject
  readonly metadata: JsonObject
  /** When the store committed it (ISO-8601). Informational: domain time is metadata.occurredAt. */
  readonly recordedAt: string
}

export interface AppendResult {
  /** Revision of the stream's last event after the append. */
  readonly nextRevision: number
  /** Position of the last appended event. */
  readonly position: Position
}

export interface ReadStreamOptions {
  /** First revision to return (forwards) or the revision to start from going backwards. */
  readonly from?: number
  readonly direction?: 'forwards' | 'backwards'
  readonly maxCount?: number
}

export interface ReadAllOptions {
  /** Exclusive: events with position > after. Default START. */
  readonly after?: Position
  /** Default 1000. */
  readonly limit?: number
}

export interface SubscribeOptions {
  /** Exclusive: delivery starts with the first event whose position is greater. */
  readonly after?: Position
  /** Events per delivered batch during catch-up (default 1000). */
  readonly batchSize?: number
}

/**
 * A subscription delivers batches of events, in position order, without gaps or duplicates:
 * first everything already stored after `after`, then new events as they are committed, also by
 * other processes sharing the store.
 */
export interface Subscription extends AsyncIterable<readonly RecordedEvent[]> {
  /** Stops delivery; a pending iteration ends. Idempotent. */
  close(): Promise<void>
}

export interface EventStore {
  append(stream: string, events: readonly EventToAppend[], options: { expectedRevision: ExpectedRevision }): Promise<AppendResult>
  /** Events of one stream; an empty array when the stream does not exist. */
  readStream(stream: string, options?: ReadStreamOptions): Promise<RecordedEvent[]>
  readAll(options?: ReadAllOptions): Promise<RecordedEvent[]>
  /** The position of the last committed event (START when the store is empty). */
  headPosition(): Promise<Position>
  subscribeToAll(options?: SubscribeOptions): Subscription
  close(): Promise<void>
}

/** The stream's actual state did not match the append's expectation. Nothing was written. */
export class WrongExpectedRevisionError extends Error {
  readonly code = 'WRONG_EXPECTED_REVISION'
  constructor (
    readonly stream: string,
    readonly expected: ExpectedRevision,
    /** The stream's current last revision, or 'no_stream'. */
    readonly actual: number | 'no_stream'
  ) {
    super(`stream ${stream}: expected revision ${String(expected)}, actual ${String(actual)}`)
    this.name = 'WrongExpectedRevisionError'
  }
}

/** Some, but not all, of an append's event ids are already stored (or in another stream). */
export class IdempotencyConflictError extends Error {
  readonly code = 'IDEMPOTENCY_CONFLICT'
  constructor (readonly stream: string, readonly eventId: string) {
    super(`stream ${stream}: event ${eventId} was already appended with a different batch or stream`)
    this.name = 'IdempotencyConflictError'
  }
}

/** The store cannot take writes right now (disk full, closed, unreachable). Nothing was written. */
export class StoreUnavailableError extends Error {
  readonly code = 'STORE_UNAVAILABLE'
  constructor (message: string, options?: { cause?: unknown }) {
    super(message, options)
    this.name = 'StoreUnavailableError'
  }
}
