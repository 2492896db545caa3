/**
 * The EventStoreDB adapter (@eventstore/db-client 6, gRPC, server 22.6 or later): what a
 * deployment that outgrows one machine points every API node at. It passes the same contract
 * suite as the SQLite adapter (test/eventstore-contract.ts), with two documented differences:
 * positions are commit positions (increasing, with gaps), and an event id already stored in
 * *another* stream is not detected (EventStoreDB keeps no global index of event ids).
 *
 * What EventStoreDB gives and what the adapter adds:
 * - Expected revisions map one to one (`any`, `no_stream`, `stream_exists`, a revision).
 * - A re-append of a stored batch: EventStoreDB reports success and writes nothing when the
 *   expectation still leads to the batch (the same or an earlier revision, or `any`); it then
 *   reports the original revisions, but not every server version reports the original position
 *   (some send -1). When the expectation is stale in another way it answers "wrong expected
 *   version". So the adapter reads the batch back after every successful append
 *   (`confirmAppended`: the original revision and position, whatever the server version; one
 *   extra indexed read per append, on the leader) and looks for the batch after every rejected
 *   one (`matchStoredBatch`): a retry always gets the original result, as on SQLite. With `any`,
 *   EventStoreDB recognizes only recently written ids (a bounded cache): best effort.
 * - An empty append writes nothing on EventStoreDB's side (it would log an empty record and move
 *   the log on): the adapter checks the expectation against the stream's last event instead.
 * - Reads of $all skip system events (`$` streams and types) and are exclusive of `after`.
 * - StoreUnavailableError here means "no answer": a write may still have happened. Retrying
 *   with the same event ids is safe (idempotent) and returns the original result.
 */
import {
  BACKWARDS, END, EventStoreDBClient, FORWARDS, START as CLIENT_START, StreamNotFoundError,
  WrongExpectedVersionError, excludeSystemEvents,
  type AllStreamResolvedEvent, type AllStreamSubscription, type AppendResult as ClientAppendResult,
  type ReadPosition, type ResolvedEvent
} from '@eventstore/db-client'
import {
  START, StoreUnavailableError, WrongExpectedRevisionError,
  type AppendResult, type EventStore, type EventToAppend, type ExpectedRevision, type Position,
  type ReadAllOptions, type ReadStreamOptions, type RecordedEvent, type SubscribeOptions, type Subscription
} from './port.js'
import {
  backoffDelay, confirmAppended, expectationMet, isPermanentError, isUnavailableError, matchStoredBatch,
  toClientExpectedRevision, toPosition, toReadPosition, toRecordedEvent, toSafeNumber, toStoreError, toUserEvent,
  toWrongExpectedRevisionError, userEventsAfter, validateConnectionString, type RetryPolicy
} from './eventstoredb-mapping.js'
import { assertCount, validateAppend, validateSubscribeOptions, type ValidatedAppend } from './validation.js'

const DEFAULT_READ_ALL_LIMIT = 1000
const DEFAULT_BATCH_SIZE = 1000
/** Events per request when a read must skip system events or search a stream. */
const PAGE_SIZE = 512

/** What a subscription reports each time it lost its connection and is about to resubscribe. */
export interface SubscriptionErrorInfo {
  /** Consecutive failed attempts, 1 for the first. */
  readonly attempt: number
  /** How long it waits before resubscribing. */
  readonly delayMs: number
  /** Resubscription resumes after this position (the last event received). */
  readonly resumeAfter: Position
}

export interface EventStoreDbOptions {
  /**
   * `esdb://host:2113?tls=false`, `esdb://node1:2113,node2:2113,node3:2113` (gossip seeds) or
   * `esdb+discover://cluster.example.com:2113` (DNS discovery). `defaultDeadline=<ms>` bounds
   * appends (the client's default is 10 s); reads are streaming calls without a deadline.
   */
  readonly connectionString: string
  /** Called when a subscription dropped and will resubscribe; log it. */
  readonly onError?: (error: unknown, info: SubscriptionErrorInfo) => void
  /** Backoff between resubscriptions (default 100 ms doubling to 5 s, never giving up). */
  readonly subscriptionRetry?: RetryPolicy
}

export function openEventStoreDbEventStore (options: EventStoreDbOptions): EventStoreDbEventStore {
  return new EventStoreDbEventStore(options)
}

export class EventStoreDbEventStore implements EventStore {
  readonly client: EventStoreDBClient
  readonly #options: EventStoreDbOptions
  readonly #subscriptions = new Set<EventStoreDbSubscription>()
  #closing: Promise<void> | undefined

  constructor (options: EventStoreDbOptions) {
    const connectionString = validateConnectionString(options.connectionString)
    try {
      this.client = EventStoreDBClient.connectionString(connectionString)
    } catch (cause) {
      throw new TypeError(`connectionString is invalid: ${cause instanceof Error ? cause.message : String(cause)}`, { cause })
    }
    this.#options = options
  }

  async append (stream: string, events: readonly EventToAppend[], options: { expectedRevision: ExpectedRevision }): Promise<AppendResult> {
    this.#assertOpen()
    const append = validateAppend(stream, events, options)
    if (append.events.length === 0) return await this.#checkExpectation(append)
    const ids = append.events.map((event) => event.id)
    let reported: ClientAppendResult
    try {
      reported = await this.client.appendToStream(append.stream, append.events.map((event) => ({
        id: event.id,
        contentType: 'application/json' as const,
        type: event.type,
        data: event.data,
        metadata: event.metadata
      })), { expectedRevision: toClientExpectedRevision(append.expected) })
    } catch (error) {
      if (!(error instanceof WrongExpectedVersionError)) throw toStoreError(error, `append to ${append.stream}`)
      const original = await this.#findStoredBatch(append.stream, ids)
      if (original !== undefined) return original
      throw toWrongExpectedRevisionError(append.stream, append.expected, error)
    }
    // Read back what the server says it holds at those revisions (see the module comment).
    const nextRevision = toSafeNumber(reported.nextExpectedRevision, `revision after the append to ${append.stream}`)
    let stored: RecordedEvent[]
    try {
      stored = await this.#read(append.stream, {
        fromRevision: reported.nextExpectedRevision, direction: BACKWARDS, maxCount: ids.length, requiresLeader: true
      }, `append to ${append.stream}: reading the batch back`)
    } catch (error) {
      // The write is acknowledged; when only the read-back failed, the server's own report will
      // do if it carries a position (servers before 21.x send none for a recognized retry).
      const reportedResult = reportedAppendResult(reported)
      if (error instanceof StoreUnavailableError && reportedResult !== undefined) return reportedResult
      throw error
    }
    return confirmAppended(append.stream, ids, stored.reverse(), nextRevision)
  }

  async readStream (stream: string, options: ReadStreamOptions = {}): Promise<RecordedEvent[]> {
    this.#assertOpen()
    const { from, direction = 'forwards', maxCount } = options
    if (from !== undefined) assertCount('from', from)
    if (maxCount !== undefined) assertCount('maxCount', maxCount)
    if (maxCount === 0) return []
    const backwards = direction === 'backwards'
    return await this.#read(stream, {
      fromRevision: from === undefined ? (backwards ? END : CLIENT_START) : BigInt(from),
      direction: backwards ? BACKWARDS : FORWARDS,
      ...(maxCount === undefined ? {} : { maxCount })
    }, `read of ${stream}`)
  }

  async readAll (options: ReadAllOptions = {}): Promise<RecordedEvent[]> {
    this.#assertOpen()
    const { after = START, limit = DEFAULT_READ_ALL_LIMIT } = options
    assertCount('after', after)
    assertCount('limit', limit)
    const events: RecordedEvent[] = []
    if (limit === 0) return events
    // No server-side filter for reads in this client version: pages are filtered here, and a
    // page that ends on system events is followed by the next one.
    const pageSize = Math.min(Math.max(limit * 2, 64), 4096)
    let from: ReadPosition = toReadPosition(after)
    let seen = after
    for (;;) {
      const page = await this.#readAllPage({ fromPosition: from, maxCount: pageSize, direction: FORWARDS })
      for (const event of userEventsAfter(page, seen)) {
        events.push(event)
        seen = event.position
        if (events.length === limit) return events
      }
      const last = page[page.length - 1]?.event?.position
      if (page.length < pageSize || last === undefined) return events
      // Reading forwards from a position includes the event there, which was handled already.
      from = last
    }
  }

  async headPosition (): Promise<Position> {
    this.#assertOpen()
    let from: ReadPosition = END
    for (;;) {
      const page = await this.#readAllPage({ fromPosition: from, maxCount: PAGE_SIZE, direction: BACKWARDS })
      for (const resolved of page) {
        const event = toUserEvent(resolved)
        if (event !== undefined) return event.position
      }
      const last = page[page.length - 1]?.event?.position
      if (page.length < PAGE_SIZE || last === undefined) return START
      // Reading backwards from a position excludes the event there.
      from = last
    }
  }

  subscribeToAll (options: SubscribeOptions = {}): Subscription {
    this.#assertOpen()
    const { after = START, batchSize = DEFAULT_BATCH_SIZE } = options
    validateSubscribeOptions(after, batchSize)
    const subscription = new EventStoreDbSubscription(this.client, after, batchSize, this.#options,
      (closed) => this.#subscriptions.delete(closed))
    this.#subscriptions.add(subscription)
    return subscription
  }

  /** Ends every subscription, then disposes the client (in-flight calls fail). Idempotent. */
  async close (): Promise<void> {
    this.#closing ??= this.#shutdown()
    return await this.#closing
  }

  async #shutdown (): Promise<void> {
    await Promise.all([...this.#subscriptions].map(async (subscription) => await subscription.close()))
    await this.client.dispose()
  }

  #assertOpen (): void {
    if (this.#closing !== undefined) throw new StoreUnavailableError('EventStoreDB event store is closed')
  }

  /** An empty append only checks the expectation and reports where the stream (or log) is. */
  async #checkExpectation (append: ValidatedAppend): Promise<AppendResult> {
    const [last] = await this.#read(append.stream, { fromRevision: END, direction: BACKWARDS, maxCount: 1, requiresLeader: true },
      `append to ${append.stream}`)
    const actual = last?.revision ?? 'no_stream'
    if (!expectationMet(append.expected, actual)) throw new WrongExpectedRevisionError(append.stream, append.expected, actual)
    if (last !== undefined) return { nextRevision: last.revision, position: last.position }
    return { nextRevision: -1, position: await this.headPosition() }
  }

  /**
   * Looks for a batch's ids in the stream, newest first, until its first id turns up (the rest
   * of the batch would come after it) or the stream's start is reached.
   */
  async #findStoredBatch (stream: string, ids: readonly string[]): Promise<AppendResult | undefined> {
    const wanted = new Set(ids)
    const found = new Map<string, RecordedEvent>()
    let from: bigint | typeof END = END
    for (;;) {
      const page = await this.#read(stream, { fromRevision: from, direction: BACKWARDS, maxCount: PAGE_SIZE, requiresLeader: true },
        `append to ${stream}: looking for a stored batch`)
      for (const event of page) if (wanted.has(event.id)) found.set(event.id, event)
      const oldest = page[page.length - 1]
      if (found.has(ids[0] ?? '') || page.length < PAGE_SIZE || oldest === undefined || oldest.revision === 0) break
      from = BigInt(oldest.revision - 1)
    }
    return matchStoredBatch(stream, ids, found)
  }

  async #read (
    stream: string,
    options: { fromRevision: bigint | typeof CLIENT_START | typeof END, direction: typeof FORWARDS | typeof BACKWARDS, maxCount?: number, requiresLeader?: boolean },
    operation: string
  ): Promise<RecordedEvent[]> {
    const events: RecordedEvent[] = []
    try {
      for await (const resolved of this.client.readStream(stream, options)) {
        events.push(toRecordedEvent(resolved as ResolvedEvent))
      }
    } catch (error) {
      if (error instanceof StreamNotFoundError) return []
      throw toStoreError(error, operation)
    }
    return events
  }

  async #readAllPage (options: { fromPosition: ReadPosition, maxCount: number, direction: typeof FORWARDS | typeof BACKWARDS }): Promise<AllStreamResolvedEvent[]> {
    const page: AllStreamResolvedEvent[] = []
    try {
      for await (const resolved of this.client.readAll(options)) page.push(resolved)
    } catch (error) {
      throw toStoreError(error, 'read of $all')
    }
    return page
  }
}

type Signal = { readonly promise: Promise<void>, readonly wake: () => void }

function newSignal (): Signal {
  let wake: () => void = () => {}
  const promise = new Promise<void>((resolve) => { wake = resolve })
  return { promise, wake }
}

/**
 * A catch-up subscription to $all as batches. Events are buffered as the server pushes them and
 * handed out up to `batchSize` at a time; a full buffer pauses the gRPC stream. When the
 * connection drops, it resubscribes after the last event received, with backoff, and drops
 * anything at or before that position, so the consumer sees neither a gap nor a duplicate.
 */
export class EventStoreDbSubscription implements Subscription, AsyncIterator<readonly RecordedEvent[]> {
  readonly #client: EventStoreDBClient
  readonly #batchSize: number
  readonly #highWater: number
  readonly #options: EventStoreDbOptions
  readonly #onClose: (subscription: EventStoreDbSubscription) => void
  #buffer: RecordedEvent[] = []
  #lastReceived: Position
  #current: AllStreamSubscription | undefined
  #paused = false
  #attempt = 0
  #retryTimer: NodeJS.Timeout | undefined
  #failure: { readonly error: unknown } | undefined
  #closed = false
  #signal = newSignal()

  constructor (
    client: EventStoreDBClient, after: Position, batchSize: number, options: EventStoreDbOptions,
    onClose: (subscription: EventStoreDbSubscription) => void
  ) {
    this.#client = client
    this.#lastReceived = after
    this.#batchSize = batchSize
    this.#highWater = Math.max(batchSize * 2, 256)
    this.#options = options
    this.#onClose = onClose
    this.#connect()
  }

  [Symbol.asyncIterator] (): AsyncIterator<readonly RecordedEvent[]> {
    return this
  }

  async next (): Promise<IteratorResult<readonly RecordedEvent[]>> {
    for (;;) {
      if (this.#closed) return { done: true, value: undefined }
      if (this.#buffer.length > 0) {
        const batch = this.#buffer.splice(0, this.#batchSize)
        if (this.#paused && this.#buffer.length < this.#highWater / 2) {
          this.#paused = false
          this.#current?.resume()
        }
        return { done: false, value: batch }
      }
      if (this.#failure !== undefined) {
        const { error } = this.#failure
        await this.close()
        throw error
      }
      await this.#signal.promise
    }
  }

  async return (): Promise<IteratorResult<readonly RecordedEvent[]>> {
    await this.close()
    return { done: true, value: undefined }
  }

  /** Stops delivery and unsubscribes; a pending `next()` ends. Idempotent. */
  async close (): Promise<void> {
    if (this.#closed) return
    this.#closed = true
    clearTimeout(this.#retryTimer)
    const current = this.#current
    this.#current = undefined
    this.#buffer = []
    this.#wake()
    this.#onClose(this)
    if (current !== undefined) await unsubscribe(current)
  }

  #wake (): void {
    const signal = this.#signal
    this.#signal = newSignal()
    signal.wake()
  }

  #connect (): void {
    const subscription = this.#client.subscribeToAll({
      fromPosition: toReadPosition(this.#lastReceived),
      filter: excludeSystemEvents()
    })
    this.#current = subscription
    subscription.on('data', (resolved: AllStreamResolvedEvent) => this.#receive(subscription, resolved))
    subscription.on('confirmation', () => { if (subscription === this.#current) this.#attempt = 0 })
    subscription.on('error', (error: unknown) => this.#dropped(subscription, error))
    subscription.on('end', () => this.#dropped(subscription, new Error('EventStoreDB ended the subscription')))
    subscription.on('close', () => this.#dropped(subscription, new Error('the subscription stream closed')))
  }

  #receive (subscription: AllStreamSubscription, resolved: AllStreamResolvedEvent): void {
    if (subscription !== this.#current) return
    let event: RecordedEvent | undefined
    try {
      event = toUserEvent(resolved)
    } catch (error) {
      this.#fail(error)
      return
    }
    // Drops system events the type filter let through ($ streams) and, after a resubscription,
    // whatever the server sends again up to the last event already received.
    if (event === undefined || event.position <= this.#lastReceived) return
    this.#lastReceived = event.position
    this.#attempt = 0
    this.#buffer.push(event)
    if (!this.#paused && this.#buffer.length >= this.#highWater) {
      this.#paused = true
      subscription.pause()
    }
    this.#wake()
  }

  #dropped (subscription: AllStreamSubscription, error: unknown): void {
    if (subscription !== this.#current || this.#closed) return
    this.#current = undefined
    this.#paused = false
    void unsubscribe(subscription)
    if (isPermanentError(error)) {
      this.#fail(error)
      return
    }
    this.#attempt++
    const { maxAttempts = Number.POSITIVE_INFINITY } = this.#options.subscriptionRetry ?? {}
    if (this.#attempt > maxAttempts) {
      this.#fail(new StoreUnavailableError(`EventStoreDB subscription to $all failed ${this.#attempt - 1} times in a row`, { cause: error }))
      return
    }
    const delayMs = backoffDelay(this.#attempt, this.#options.subscriptionRetry)
    try {
      this.#options.onError?.(isUnavailableError(error) ? toStoreError(error, 'subscription to $all') : error,
        { attempt: this.#attempt, delayMs, resumeAfter: this.#lastReceived })
    } catch {}
    // Not unref'd: an open subscription keeps the process alive while connected (its gRPC
    // stream does), and so while it waits to reconnect; close() clears the timer.
    this.#retryTimer = setTimeout(() => {
      this.#retryTimer = undefined
      if (!this.#closed) this.#connect()
    }, delayMs)
  }

  #fail (error: unknown): void {
    const current = this.#current
    this.#current = undefined
    if (current !== undefined) void unsubscribe(current)
    this.#failure = { error: toStoreError(error, 'subscription to $all') }
    this.#wake()
  }
}

function reportedAppendResult (reported: ClientAppendResult): AppendResult | undefined {
  try {
    return { nextRevision: toSafeNumber(reported.nextExpectedRevision, 'revision'), position: toPosition(reported.position, 'the append') }
  } catch {
    return undefined
  }
}

async function unsubscribe (subscription: AllStreamSubscription): Promise<void> {
  try {
    await subscription.unsubscribe()
  } catch {
    // The stream never opened (no connection): nothing to cancel.
  }
}

