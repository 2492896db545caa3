/**
 * The PostgreSQL event store (IDM_EVENTSTORE=postgres://… or postgresql://…), on node-postgres.
 * Several API nodes point at one database; each keeps its own SQLite read model fed by
 * `subscribeToAll`. Why readers never skip an event that commits late: postgres-schema.ts.
 *
 * Writes: appends queue up while the previous group commit is in flight and then go together,
 * in one call of `idm_append_v1` (one statement, autocommit), so one fsync acknowledges all of
 * them and a node never holds a transaction open between round trips. Appends of one process
 * are committed in the order they were issued. A NOTIFY after each commit wakes the other
 * nodes' subscriptions; a poll (pollIntervalMs) is the safety net.
 *
 * Durability: an append resolves after PostgreSQL's COMMIT returned, which with the defaults
 * (`synchronous_commit = on`, `fsync = on`) means the WAL is flushed. The store refuses to start
 * when either is off for its sessions.
 *
 * Failures: while the server is unreachable every call rejects with StoreUnavailableError (the
 * HTTP layer answers 503 with Retry-After); subscriptions do not end: they retry with backoff
 * and resume after the last event they delivered, so a projection recovers by itself.
 */
import pg from 'pg'
import {
  IdempotencyConflictError, START, StoreUnavailableError, WrongExpectedRevisionError,
  type AppendResult, type EventStore, type EventToAppend, type ExpectedRevision, type JsonObject, type Position,
  type ReadAllOptions, type ReadStreamOptions, type RecordedEvent, type SubscribeOptions, type Subscription
} from './port.js'
import { NOTIFY_CHANNEL, SQL, ensureSchema, type EventRow } from './postgres-schema.js'
import { assertCount, validateAppend, validateSubscribeOptions, type ValidatedAppend } from './validation.js'

export interface PostgresEventStoreOptions {
  readonly connectionString: string
  /** Connections for appends and reads (default 4); subscriptions share one more for LISTEN. */
  readonly poolSize?: number
  /** Safety-net poll of a waiting subscription when no notification arrives (default 250 ms). */
  readonly pollIntervalMs?: number
  /** How long a call waits for a connection before failing as unavailable (default 3000 ms). */
  readonly connectTimeoutMs?: number
  /** Backoff of subscriptions and the listener after the server went away. */
  readonly retry?: { readonly initialDelayMs?: number, readonly maxDelayMs?: number }
  /** Connection losses and retries (they are survived, not thrown). */
  readonly onError?: (error: unknown) => void
}

export interface PostgresEventStoreStats {
  /** Group commits that committed. */
  readonly transactions: number
  readonly failedTransactions: number
  /** Append calls that went through a committed group commit (rejected checks included). */
  readonly appends: number
}

interface QueuedAppend {
  readonly append: ValidatedAppend
  readonly resolve: (result: AppendResult) => void
  readonly reject: (error: unknown) => void
}

interface OutcomeRow {
  readonly outcome: 'ok' | 'wrong' | 'conflict'
  readonly next_revision: string | null
  readonly last_position: string | null
  readonly actual: string | null
  readonly conflict_id: string | null
}

const DEFAULT_READ_ALL_LIMIT = 1000
const DEFAULT_BATCH_SIZE = 1000
/** Appends per group commit at most: bounds the statement's size. */
const MAX_GROUP = 500
/**
 * How often a reader held back by a transaction in flight looks again, unless the notification
 * of that transaction's commit wakes it first (readAll, which has no listener, polls at 5 ms).
 */
const HELD_BACK_POLL_MS = 20
const READ_ALL_POLL_MS = 5
/** How long readAll waits for transactions in flight ahead of what it has (then returns the safe part). */
const READ_ALL_HOLD_MS = 5000

export function openPostgresEventStore (options: PostgresEventStoreOptions): PostgresEventStore {
  return new PostgresEventStore(options)
}

export class PostgresEventStore implements EventStore {
  /** The connection pool; exposed for tests and the benchmark (raw statements on the same server). */
  readonly pool: pg.Pool
  readonly #options: PostgresEventStoreOptions
  readonly #listener: Listener
  readonly #subscriptions = new Set<Subscription>()
  #ready: Promise<void> | undefined
  #queue: QueuedAppend[] = []
  #draining: Promise<void> | undefined
  readonly #notifying = new Set<Promise<void>>()
  #closing: Promise<void> | undefined
  #stats = { transactions: 0, failedTransactions: 0, appends: 0 }

  constructor (options: PostgresEventStoreOptions) {
    this.#options = options
    this.pool = new pg.Pool({
      connectionString: options.connectionString,
      max: options.poolSize ?? 4,
      connectionTimeoutMillis: options.connectTimeoutMs ?? 3000,
      idleTimeoutMillis: 30_000,
      // A server that stops answering (a partition rather than a refusal) fails calls after
      // 30 s instead of stalling the group commit; keepalive notices dead peers.
      query_timeout: 30_000,
      keepAlive: true,
      keepAliveInitialDelayMillis: 10_000,
      application_name: 'identity-manager'
    })
    // An idle connection the server closed (restart, failover) is dropped by the pool; without a
    // listener the 'error' event would crash the process.
    this.pool.on('error', (error) => this.#report(error))
    this.#listener = new Listener(options, (error) => this.#report(error))
  }

  async append (stream: string, events: readonly EventToAppend[], options: { expectedRevision: ExpectedRevision }): Promise<AppendResult> {
    this.#assertOpen()
    const append = validateAppend(stream, events, options)
    assertStorableText('stream', append.stream)
    append.events.forEach((event, index) => assertStorableText(`events[${index}].type`, event.type))
    return await new Promise<AppendResult>((resolve, reject) => {
      this.#queue.push({ append, resolve, reject })
      this.#draining ??= new Promise<void>((resolve) => setImmediate(resolve)).then(async () => await this.#drain())
    })
  }

  async readStream (stream: string, options: ReadStreamOptions = {}): Promise<RecordedEvent[]> {
    this.#assertOpen()
    const { from, direction = 'forwards', maxCount } = options
    if (from !== undefined) assertCount('from', from)
    if (maxCount !== undefined) assertCount('maxCount', maxCount)
    // A name PostgreSQL cannot store names no stream.
    if (typeof stream !== 'string' || !isStorableText(stream)) return []
    const rows = direction === 'backwards'
      ? await this.#query<EventRow>(SQL.streamBackwards, [stream, from ?? Number.MAX_SAFE_INTEGER, maxCount ?? null])
      : await this.#query<EventRow>(SQL.streamForwards, [stream, from ?? 0, maxCount ?? null])
    return rows.map(toRecordedEvent)
  }

  /**
   * The committed prefix after `after`. When a transaction still in flight holds back events
   * that have already committed behind it, waits (briefly) for it, so that a caller paging with
   * `after` neither skips nor needlessly stops short.
   */
  async readAll (options: ReadAllOptions = {}): Promise<RecordedEvent[]> {
    this.#assertOpen()
    const { after = START, limit = DEFAULT_READ_ALL_LIMIT } = options
    assertCount('after', after)
    assertCount('limit', limit)
    const deadline = Date.now() + READ_ALL_HOLD_MS
    for (;;) {
      const events = await this.#readSafe(after, limit)
      if (events.length === limit || Date.now() > deadline) return events
      const reached = events[events.length - 1]?.position ?? after
      if (await this.#head() <= reached) return events
      await sleep(READ_ALL_POLL_MS)
    }
  }

  async headPosition (): Promise<Position> {
    this.#assertOpen()
    return await this.#head()
  }

  subscribeToAll (options: SubscribeOptions = {}): Subscription {
    this.#assertOpen()
    const { after = START, batchSize = DEFAULT_BATCH_SIZE } = options
    validateSubscribeOptions(after, batchSize)
    const subscription = openSubscription({
      after,
      batchSize,
      read: async (from) => {
        const events = await this.#readSafe(from, batchSize)
        return { events, heldBack: events.length === 0 && await this.#head() > from }
      },
      listener: this.#listener,
      pollIntervalMs: this.#options.pollIntervalMs ?? 250,
      retry: this.#options.retry ?? {},
      onError: (error) => this.#report(error),
      onClose: (closed) => this.#subscriptions.delete(closed)
    })
    this.#subscriptions.add(subscription)
    return subscription
  }

  /** Commits what is queued, ends every subscription, then closes the connections. Idempotent. */
  async close (): Promise<void> {
    this.#closing ??= this.#shutdown()
    return await this.#closing
  }

  stats (): PostgresEventStoreStats {
    return { ...this.#stats }
  }

  async #shutdown (): Promise<void> {
    await this.#draining
    await Promise.all([...this.#notifying])
    await Promise.all([...this.#subscriptions].map(async (subscription) => await subscription.close()))
    await this.#listener.stop()
    await this.pool.end()
  }

  #assertOpen (): void {
    if (this.#closing !== undefined) throw new StoreUnavailableError('PostgreSQL event store is closed')
  }

  #report (error: unknown): void {
    this.#options.onError?.(error)
  }

  /** Creates the schema and checks durability once; a failed attempt is retried by the next call. */
  async #init (): Promise<void> {
    this.#ready ??= (async () => {
      const client = await this.pool.connect()
      try {
        const settings = await client.query<{ name: string, setting: string }>(
          "SELECT name, setting FROM pg_settings WHERE name IN ('synchronous_commit', 'fsync')")
        for (const { name, setting } of settings.rows) {
          if (setting === 'off') {
            throw new Error(`PostgreSQL has ${name} = off: an acknowledged append could be lost; turn it on`)
          }
        }
        await ensureSchema(client)
      } finally {
        client.release()
      }
    })()
    try {
      await this.#ready
    } catch (error) {
      this.#ready = undefined
      throw error
    }
  }

  async #query<R extends pg.QueryResultRow> (text: string, values: unknown[]): Promise<R[]> {
    try {
      await this.#init()
      return (await this.pool.query<R>(text, values)).rows
    } catch (cause) {
      throw unavailable('read failed', cause)
    }
  }

  async #head (): Promise<Position> {
    const [row] = await this.#query<{ head: string }>(SQL.head, [])
    return Number(row?.head ?? 0)
  }

  async #readSafe (after: Position, limit: number): Promise<RecordedEvent[]> {
    return (await this.#query<EventRow>(SQL.safeAfter, [after, limit])).map(toRecordedEvent)
  }

  async #drain (): Promise<void> {
    while (this.#queue.length > 0) {
      const batch = this.#queue.splice(0, MAX_GROUP)
      await this.#commit(batch)
    }
    this.#draining = undefined
  }

  async #commit (batch: readonly QueuedAppend[]): Promise<void> {
    const appends = batch.map((queued) => queued.append)
    const events = appends.flatMap((append) => append.events)
    let rows: OutcomeRow[]
    try {
      await this.#init()
      rows = (await this.pool.query<OutcomeRow>(SQL.append, [
        appends.map((append) => append.stream),
        appends.map((append) => String(append.expected)),
        appends.map((append) => append.events.length),
        events.map((event) => event.id),
        events.map((event) => event.type),
        events.map((event) => event.dataJson),
        events.map((event) => event.metadataJson)
      ])).rows
    } catch (cause) {
      this.#stats.failedTransactions++
      // The commit may have happened with its answer lost: retrying with the same event ids is
      // safe (idempotent), which is what the 503's Retry-After invites.
      const error = unavailable('append failed; if it was committed, a retry with the same event ids returns its result', cause)
      for (const queued of batch) queued.reject(error)
      return
    }
    this.#stats.transactions++
    this.#stats.appends += batch.length
    batch.forEach((queued, index) => settle(queued, rows[index]))
    this.#listener.wakeAll()
    const newest = rows.reduce((max, row) => row.outcome === 'ok' ? Math.max(max, Number(row.last_position)) : max, 0)
    // Other nodes' subscriptions: after the commit and outside it (postgres-schema.ts says why);
    // if this is lost (crash, outage) their bounded poll finds the commit anyway.
    if (newest > 0) {
      const sent = this.pool.query(SQL.notify, [String(newest)]).then(() => {}, (error: unknown) => this.#report(error))
      this.#notifying.add(sent)
      void sent.finally(() => this.#notifying.delete(sent))
    }
  }
}

function settle (queued: QueuedAppend, row: OutcomeRow | undefined): void {
  const { stream, expected, events } = queued.append
  if (row === undefined) {
    queued.reject(new Error('group commit lost an outcome'))
  } else if (row.outcome === 'ok') {
    queued.resolve({ nextRevision: Number(row.next_revision), position: Number(row.last_position) })
  } else if (row.outcome === 'wrong') {
    queued.reject(new WrongExpectedRevisionError(stream, expected, row.actual === null ? 'no_stream' : Number(row.actual)))
  } else {
    queued.reject(new IdempotencyConflictError(stream, row.conflict_id ?? events[0]?.id ?? ''))
  }
}

function unavailable (what: string, cause: unknown): StoreUnavailableError {
  if (cause instanceof StoreUnavailableError) return cause
  const reason = cause instanceof Error ? cause.message : String(cause)
  return new StoreUnavailableError(`PostgreSQL event store: ${what}: ${reason}`, { cause })
}

/** PostgreSQL text holds neither NUL nor lone surrogates (node would silently replace those). */
function isStorableText (value: string): boolean {
  return !value.includes('\u0000') && !LONE_SURROGATE.test(value)
}

const LONE_SURROGATE = /[\ud800-\udbff](?![\udc00-\udfff])|(?<![\ud800-\udbff])[\udc00-\udfff]/

function assertStorableText (name: string, value: string): void {
  if (!isStorableText(value)) throw new TypeError(`${name} must not contain NUL or unpaired surrogates`)
}

function toRecordedEvent (row: EventRow): RecordedEvent {
  return {
    id: row.id,
    stream: row.stream,
    revision: Number(row.revision),
    position: Number(row.position),
    type: row.type,
    data: JSON.parse(row.data) as JsonObject,
    metadata: JSON.parse(row.metadata) as JsonObject,
    recordedAt: row.recorded_at.toISOString()
  }
}

const sleep = async (ms: number): Promise<void> => await new Promise((resolve) => setTimeout(resolve, ms))

/**
 * One LISTEN connection per store wakes every waiting subscription when any node commits. It is
 * opened when a subscription first waits and reopened (with backoff) after the server went away;
 * a reconnect wakes everyone, since notifications sent meanwhile are lost. Waits are bounded by
 * the caller's poll interval whatever happens to this connection.
 */
class Listener {
  readonly #options: PostgresEventStoreOptions
  readonly #report: (error: unknown) => void
  readonly #waiters = new Set<() => void>()
  #client: pg.Client | undefined
  #connecting: Promise<void> | undefined
  #retryTimer: NodeJS.Timeout | undefined
  #delay: number
  #stopped = false

  constructor (options: PostgresEventStoreOptions, report: (error: unknown) => void) {
    this.#options = options
    this.#report = report
    this.#delay = options.retry?.initialDelayMs ?? 100
  }

  /** Resolves on a notification, after `ms`, or on cancel. */
  wait (ms: number): { promise: Promise<void>, cancel: () => void } {
    this.#ensureConnected()
    let wake: () => void = () => {}
    const promise = new Promise<void>((resolve) => {
      const timer = setTimeout(() => wake(), ms)
      wake = () => {
        clearTimeout(timer)
        this.#waiters.delete(wake)
        resolve()
      }
      this.#waiters.add(wake)
    })
    return { promise, cancel: () => wake() }
  }

  wakeAll (): void {
    for (const wake of [...this.#waiters]) wake()
  }

  async stop (): Promise<void> {
    this.#stopped = true
    clearTimeout(this.#retryTimer)
    this.wakeAll()
    await this.#connecting?.catch(() => {})
    const client = this.#client
    this.#client = undefined
    await client?.end().catch(() => {})
  }

  #ensureConnected (): void {
    if (this.#stopped || this.#client !== undefined || this.#connecting !== undefined || this.#retryTimer !== undefined) return
    this.#connecting = this.#connect().finally(() => { this.#connecting = undefined })
  }

  async #connect (): Promise<void> {
    const client = new pg.Client({
      connectionString: this.#options.connectionString,
      connectionTimeoutMillis: this.#options.connectTimeoutMs ?? 3000,
      keepAlive: true,
      application_name: 'identity-manager-listen'
    })
    const lost = (error: unknown) => {
      if (this.#client !== client && this.#client !== undefined) return
      this.#client = undefined
      client.removeAllListeners('notification')
      client.end().catch(() => {})
      if (this.#stopped) return
      this.#report(error)
      this.#scheduleRetry()
    }
    client.on('error', lost)
    client.on('end', () => { if (this.#client === client) lost(new Error('LISTEN connection ended')) })
    client.on('notification', () => this.wakeAll())
    try {
      await client.connect()
      await client.query(`LISTEN ${NOTIFY_CHANNEL}`)
    } catch (error) {
      lost(error)
      return
    }
    if (this.#stopped) {
      await client.end().catch(() => {})
      return
    }
    this.#client = client
    this.#delay = this.#options.retry?.initialDelayMs ?? 100
    this.wakeAll()
  }

  #scheduleRetry (): void {
    if (this.#retryTimer !== undefined || this.#stopped) return
    const delay = this.#delay
    this.#delay = Math.min(delay * 2, this.#options.retry?.maxDelayMs ?? 2000)
    this.#retryTimer = setTimeout(() => {
      this.#retryTimer = undefined
      this.#ensureConnected()
    }, delay)
    this.#retryTimer.unref()
  }
}

interface SubscriptionParts {
  readonly after: Position
  readonly batchSize: number
  readonly read: (after: Position) => Promise<{ events: RecordedEvent[], heldBack: boolean }>
  readonly listener: Listener
  readonly pollIntervalMs: number
  readonly retry: { readonly initialDelayMs?: number, readonly maxDelayMs?: number }
  readonly onError: (error: unknown) => void
  readonly onClose: (subscription: Subscription) => void
}

/**
 * Reads the committed prefix after the last delivered position again on every wake-up, so
 * order, no gaps and no duplicates follow from the read itself. A failed read (server gone) is
 * retried with backoff from the same position: the subscription outlives the outage.
 */
function openSubscription (parts: SubscriptionParts): Subscription {
  const initialDelay = parts.retry.initialDelayMs ?? 100
  const maxDelay = parts.retry.maxDelayMs ?? 2000
  let closed = false
  let cancelWait: (() => void) | undefined

  const pause = async (ms: number, viaListener: boolean): Promise<void> => {
    const waiting = viaListener
      ? parts.listener.wait(ms)
      : (() => {
          let cancel: () => void = () => {}
          const promise = new Promise<void>((resolve) => {
            const timer = setTimeout(resolve, ms)
            cancel = () => { clearTimeout(timer); resolve() }
          })
          return { promise, cancel }
        })()
    cancelWait = waiting.cancel
    await waiting.promise
    cancelWait = undefined
  }

  async function * batches (): AsyncGenerator<readonly RecordedEvent[]> {
    let last = parts.after
    let delay = initialDelay
    try {
      while (!closed) {
        let read: { events: RecordedEvent[], heldBack: boolean }
        try {
          read = await parts.read(last)
          delay = initialDelay
        } catch (error) {
          if (closed) break
          parts.onError(error)
          await pause(delay, false)
          delay = Math.min(delay * 2, maxDelay)
          continue
        }
        const newest = read.events[read.events.length - 1]
        if (newest !== undefined) {
          last = newest.position
          yield read.events
          continue
        }
        if (closed) break
        await pause(read.heldBack ? Math.min(HELD_BACK_POLL_MS, parts.pollIntervalMs) : parts.pollIntervalMs, true)
      }
    } finally {
      await subscription.close()
    }
  }

  const iterator = batches()
  const subscription: Subscription = {
    [Symbol.asyncIterator]: () => iterator,
    async close () {
      if (closed) return
      closed = true
      cancelWait?.()
      parts.onClose(subscription)
    }
  }
  return subscription
}
