/**
 * The projection runner: subscribes to the event store from the stored checkpoint and applies
 * each delivered batch, with the checkpoints, in one transaction. A failure stops it (nothing is
 * skipped): `lastError` holds the error, listeners and the logger hear about it, and pending
 * `waitFor` calls answer false at once so that callers can answer 503 instead of hanging.
 */
import type { EventStore, Position, Subscription } from '../eventstore/port.js'
import { createApplier, type Applier } from './apply.js'
import type { Projection } from './projection.js'
import type { ReadModel } from './schema.js'
import { defaultProjections } from './default-projections.js'

export interface AppliedBatch {
  /** Position of the first and last event of the batch. */
  readonly from: Position
  readonly to: Position
  readonly events: number
  readonly durationMs: number
}

export type RunnerState = 'idle' | 'running' | 'stopped' | 'failed'

export interface ProjectionRunner {
  /** Subscribes from the stored checkpoint; resolves once caught up to the head at start (rejects if it fails first). */
  start(): Promise<void>
  /** Position of the last applied event. */
  readonly position: Position
  readonly state: RunnerState
  /** True once start() has caught up. */
  readonly caughtUp: boolean
  /** The error that stopped the runner, if any. */
  readonly lastError: Error | null
  /** True once every event up to `position` is applied; false on timeout or when the runner has stopped short of it. */
  waitFor(position: Position, timeoutMs: number): Promise<boolean>
  stop(): Promise<void>
  /** Observe applied batches (lag metrics) or the failure. Returns an unsubscribe function. */
  on(event: 'batch', listener: (batch: AppliedBatch) => void): () => void
  on(event: 'error', listener: (error: Error) => void): () => void
}

export interface RunnerLogger {
  error(obj: object, msg?: string): void
}

export interface ProjectionRunnerDeps {
  readonly store: EventStore
  readonly readModel: ReadModel
  readonly projections?: readonly Projection[]
  /** Events per delivered batch during catch-up (default 1000). */
  readonly batchSize?: number
  /** Where a failure is logged (pino-compatible). Defaults to console.error when nobody listens. */
  readonly logger?: RunnerLogger
}

/** The read model was written by another schema version; rebuild it first. */
export class ReadModelNeedsRebuildError extends Error {
  readonly code = 'READ_MODEL_NEEDS_REBUILD'
  constructor (path: string, stored: number) {
    super(`read model ${path} has schema version ${stored}: rebuild it`)
    this.name = 'ReadModelNeedsRebuildError'
  }
}

const MAX_TIMER_MS = 2 ** 31 - 1

interface Waiter { readonly position: Position, readonly settle: (reached: boolean) => void }

export function createProjectionRunner (deps: ProjectionRunnerDeps): ProjectionRunner {
  const projections = deps.projections ?? defaultProjections
  let state: RunnerState = 'idle'
  let position: Position = 0
  let caughtUp = false
  let lastError: Error | null = null
  let subscription: Subscription | undefined
  let loop: Promise<void> | undefined
  const waiters = new Set<Waiter>()
  const batchListeners = new Set<(batch: AppliedBatch) => void>()
  const errorListeners = new Set<(error: Error) => void>()

  const settleWaiters = (all: boolean): void => {
    for (const waiter of waiters) {
      if (waiter.position <= position) waiter.settle(true)
      else if (all) waiter.settle(false)
    }
  }

  const log = (err: unknown, msg: string): void => {
    if (deps.logger !== undefined) deps.logger.error({ err }, msg)
    else console.error(`${msg}:`, err)
  }

  /** An observer's bug must neither stop the runner nor go unnoticed. */
  const notify = <T>(listeners: Set<(value: T) => void>, value: T): void => {
    for (const listener of listeners) {
      try { listener(value) } catch (err) { log(err, 'projection runner listener failed') }
    }
  }

  const fail = (error: Error): void => {
    if (state !== 'running') return
    state = 'failed'
    lastError = error
    void subscription?.close()
    settleWaiters(true)
    if (deps.logger !== undefined || errorListeners.size === 0) log(error, 'projection runner stopped')
    notify(errorListeners, error)
  }

  async function run (applier: Applier, sub: Subscription): Promise<void> {
    try {
      for await (const batch of sub) {
        if (state !== 'running') break
        const first = batch[0]
        const last = batch[batch.length - 1]
        if (first === undefined || last === undefined) continue
        const started = performance.now()
        applier.apply(batch)
        position = last.position
        settleWaiters(false)
        const info: AppliedBatch = { from: first.position, to: last.position, events: batch.length, durationMs: performance.now() - started }
        notify(batchListeners, info)
      }
    } catch (error) {
      fail(error instanceof Error ? error : new Error(String(error)))
      return
    }
    // The subscription ended without stop() (the store was closed): nothing more will come.
    if (state === 'running') {
      state = 'stopped'
      settleWaiters(true)
    }
  }

  const runner: ProjectionRunner = {
    get position () { return position },
    get state () { return state },
    get caughtUp () { return caughtUp },
    get lastError () { return lastError },

    async start () {
      if (state !== 'idle') throw new Error(`projection runner is ${state}`)
      const { readModel } = deps
      if (readModel.needsRebuild) throw new ReadModelNeedsRebuildError(readModel.path, readModel.storedSchemaVersion)
      const applier = createApplier(readModel.db, projections)
      position = applier.position
      const head = await deps.store.headPosition()
      if (state !== 'idle') throw new Error(`projection runner was ${state} while starting`)
      subscription = deps.store.subscribeToAll({ after: position, batchSize: deps.batchSize ?? 1000 })
      state = 'running'
      loop = run(applier, subscription)
      if (!await runner.waitFor(head, Number.POSITIVE_INFINITY)) {
        throw lastError ?? new Error('projection runner stopped before catching up')
      }
      caughtUp = true
    },

    async waitFor (target, timeoutMs) {
      if (position >= target) return true
      if (state !== 'running' && state !== 'idle') return false
      return await new Promise<boolean>((resolve) => {
        let timer: NodeJS.Timeout | undefined
        const waiter: Waiter = {
          position: target,
          settle: (reached) => {
            clearTimeout(timer)
            waiters.delete(waiter)
            resolve(reached)
          }
        }
        waiters.add(waiter)
        // Beyond setTimeout's range (about 24.8 days) a timer would fire at once: wait without one.
        if (!(timeoutMs > MAX_TIMER_MS)) timer = setTimeout(() => waiter.settle(false), Math.max(0, timeoutMs))
      })
    },

    async stop () {
      if (state === 'running') state = 'stopped'
      else if (state === 'idle') { state = 'stopped'; return }
      settleWaiters(true)
      await subscription?.close()
      await loop
    },

    on (event: 'batch' | 'error', listener: ((batch: AppliedBatch) => void) | ((error: Error) => void)) {
      const set = (event === 'batch' ? batchListeners : errorListeners) as Set<typeof listener>
      set.add(listener)
      return () => { set.delete(listener) }
    }
  }
  return runner
}
