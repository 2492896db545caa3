import Database from 'better-sqlite3'
import {
  IdempotencyConflictError, START, StoreUnavailableError, WrongExpectedRevisionError,
  type AppendResult, type EventStore, type EventToAppend, type ExpectedRevision, type Position,
  type ReadAllOptions, type ReadStreamOptions, type RecordedEvent, type SubscribeOptions, type Subscription
} from './port.js'
import { applyAppend, prepareAppend, type PreparedAppend } from './sqlite-append.js'
import { startCheckpointer, type Checkpointer } from './sqlite-checkpointer.js'
import { configure, prepareStatements, toRecordedEvent, type Statements } from './sqlite-schema.js'
import { createChangeNotifier, openSubscription, type ChangeNotifier } from './sqlite-subscription.js'

export interface SqliteEventStoreOptions {
  readonly path: string
  /** FULL (default) makes every acknowledged append survive power loss; NORMAL only a crash. */
  readonly synchronous?: 'FULL' | 'NORMAL'
  /** How often a waiting subscription looks for commits made by other processes. Default 50. */
  readonly pollIntervalMs?: number
  /** How long a write waits for another process holding the lock. Default 5000. */
  readonly busyTimeoutMs?: number
  /** How often the checkpoint thread copies the WAL back into the file (sqlite-checkpointer.ts). Default 1000. */
  readonly checkpointIntervalMs?: number
}

export interface SqliteEventStoreStats {
  /** Group commits that committed. */
  readonly transactions: number
  /** Group commits that failed and were rolled back. */
  readonly failedTransactions: number
  /** Append calls that went through a committed group commit (rejected checks included). */
  readonly appends: number
}

interface QueuedAppend {
  readonly append: PreparedAppend
  readonly resolve: (result: AppendResult) => void
  readonly reject: (error: unknown) => void
}

type Outcome = { readonly ok: true, readonly result: AppendResult } | { readonly ok: false, readonly error: Error }

const DEFAULT_READ_ALL_LIMIT = 1000

export function openSqliteEventStore (options: SqliteEventStoreOptions): SqliteEventStore {
  return new SqliteEventStore(options)
}

/**
 * The embedded event store: one SQLite file in WAL mode, shared safely by several processes.
 * Appends that arrive in the same tick are committed together in one transaction (group commit),
 * so the cost of the fsync that makes them durable is shared instead of paid per append.
 */
export class SqliteEventStore implements EventStore {
  readonly path: string
  /** The open connection; exposed for tests that tamper with the file (page limits). */
  readonly db: Database.Database
  readonly #statements: Statements
  readonly #notifier: ChangeNotifier
  readonly #groupCommit: (batch: readonly QueuedAppend[], recordedAt: string) => Outcome[]
  readonly #subscriptions = new Set<Subscription>()
  #queue: QueuedAppend[] = []
  #flushScheduled = false
  #closing: Promise<void> | undefined
  #stats = { transactions: 0, failedTransactions: 0, appends: 0 }
  readonly #synchronous: 'FULL' | 'NORMAL'
  readonly #checkpointIntervalMs: number | undefined
  /** Started by the first commit: a store that only reads never needs one. */
  #checkpointer: Checkpointer | undefined

  constructor (options: SqliteEventStoreOptions) {
    this.path = options.path
    this.db = new Database(options.path)
    this.#synchronous = options.synchronous ?? 'FULL'
    this.#checkpointIntervalMs = options.checkpointIntervalMs
    try {
      configure(this.db, this.#synchronous, options.busyTimeoutMs ?? 5000)
      this.#statements = prepareStatements(this.db)
    } catch (error) {
      this.db.close()
      throw error
    }
    this.#notifier = createChangeNotifier(() => this.#head(), options.pollIntervalMs ?? 50)
    // better-sqlite3 runs BEGIN IMMEDIATE / COMMIT and rolls back if the function or COMMIT throws.
    const transaction = this.db.transaction((batch: readonly QueuedAppend[], recordedAt: string) =>
      batch.map(({ append }) => this.#tryApply(append, recordedAt)))
    this.#groupCommit = transaction.immediate
  }

  async append (stream: string, events: readonly EventToAppend[], options: { expectedRevision: ExpectedRevision }): Promise<AppendResult> {
    this.#assertOpen()
    const append = prepareAppend(stream, events, options)
    return await new Promise<AppendResult>((resolve, reject) => {
      this.#queue.push({ append, resolve, reject })
      this.#scheduleFlush()
    })
  }

  async readStream (stream: string, options: ReadStreamOptions = {}): Promise<RecordedEvent[]> {
    this.#assertOpen()
    const { from, direction = 'forwards', maxCount } = options
    if (from !== undefined) assertCount('from', from)
    if (maxCount !== undefined) assertCount('maxCount', maxCount)
    // LIMIT -1 is SQLite's "no limit".
    const limit = maxCount ?? -1
    const rows = direction === 'backwards'
      ? this.#statements.streamBackwards.all(stream, from ?? Number.MAX_SAFE_INTEGER, limit)
      : this.#statements.streamForwards.all(stream, from ?? 0, limit)
    return rows.map(toRecordedEvent)
  }

  async readAll (options: ReadAllOptions = {}): Promise<RecordedEvent[]> {
    this.#assertOpen()
    const { after = START, limit = DEFAULT_READ_ALL_LIMIT } = options
    assertCount('after', after)
    assertCount('limit', limit)
    return this.#readAfter(after, limit)
  }

  async headPosition (): Promise<Position> {
    this.#assertOpen()
    return this.#head()
  }

  subscribeToAll (options: SubscribeOptions = {}): Subscription {
    this.#assertOpen()
    const subscription = openSubscription(
      (after, limit) => this.#readAfter(after, limit),
      this.#notifier,
      options,
      (closed) => this.#subscriptions.delete(closed))
    this.#subscriptions.add(subscription)
    return subscription
  }

  /** Commits what is queued, ends every subscription, then closes the file. Idempotent. */
  async close (): Promise<void> {
    this.#closing ??= this.#shutdown()
    return await this.#closing
  }

  stats (): SqliteEventStoreStats {
    return { ...this.#stats }
  }

  async #shutdown (): Promise<void> {
    // Appends already accepted still get their commit; the scheduled flush then finds nothing.
    this.#flush()
    await Promise.all([...this.#subscriptions].map(async (subscription) => await subscription.close()))
    this.#notifier.stop()
    // The worker's connection first: closing the last connection checkpoints and removes the WAL.
    await this.#checkpointer?.stop()
    this.db.close()
  }

  #assertOpen (): void {
    if (this.#closing !== undefined) throw new StoreUnavailableError(`event store ${this.path} is closed`)
  }

  #head (): Position {
    return this.#statements.head.get() ?? START
  }

  #readAfter (after: Position, limit: number): RecordedEvent[] {
    return this.#statements.all.all(after, limit).map(toRecordedEvent)
  }

  #scheduleFlush (): void {
    if (this.#flushScheduled) return
    this.#flushScheduled = true
    // setImmediate runs after the current tick's microtasks, so every append issued in this
    // tick (and by continuations of the appends just acknowledged) joins the same transaction.
    setImmediate(() => {
      this.#flushScheduled = false
      this.#flush()
    })
  }

  #flush (): void {
    const batch = this.#queue
    if (batch.length === 0) return
    this.#queue = []
    let outcomes: Outcome[]
    try {
      outcomes = this.#groupCommit(batch, new Date().toISOString())
    } catch (cause) {
      this.#stats.failedTransactions++
      const reason = cause instanceof Error ? cause.message : String(cause)
      for (const queued of batch) {
        queued.reject(new StoreUnavailableError(`event store ${this.path}: commit failed, nothing written: ${reason}`, { cause }))
      }
      return
    }
    this.#stats.transactions++
    this.#stats.appends += batch.length
    this.#checkpointer ??= this.#startCheckpointer()
    batch.forEach((queued, index) => settle(queued, outcomes[index]))
    this.#notifier.notify()
  }

  #startCheckpointer (): Checkpointer {
    return startCheckpointer({
      path: this.path,
      synchronous: this.#synchronous,
      ...(this.#checkpointIntervalMs === undefined ? {} : { intervalMs: this.#checkpointIntervalMs }),
      onFailure: () => {
        // Automatic checkpoints (in the commit) again, rather than a WAL that grows without end.
        if (this.db.open) this.db.pragma('wal_autocheckpoint = 1000')
      }
    })
  }

  /** A failed expectation rejects its own append only; anything else aborts the whole batch. */
  #tryApply (append: PreparedAppend, recordedAt: string): Outcome {
    try {
      return { ok: true, result: applyAppend(this.#statements, append, recordedAt) }
    } catch (error) {
      if (error instanceof WrongExpectedRevisionError || error instanceof IdempotencyConflictError) return { ok: false, error }
      throw error
    }
  }
}

function settle (queued: QueuedAppend, outcome: Outcome | undefined): void {
  if (outcome === undefined) queued.reject(new Error('group commit lost an outcome'))
  else if (outcome.ok) queued.resolve(outcome.result)
  else queued.reject(outcome.error)
}

function assertCount (name: string, value: number): void {
  if (!Number.isSafeInteger(value) || value < 0) throw new TypeError(`${name} must be an integer ≥ 0`)
}
