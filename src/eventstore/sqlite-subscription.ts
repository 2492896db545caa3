import { START, type Position, type RecordedEvent, type SubscribeOptions, type Subscription } from './port.js'

const DEFAULT_BATCH_SIZE = 1000

interface Waiter {
  readonly after: Position
  readonly wake: () => void
}

export interface ChangeNotifier {
  /** Resolves once something may have been committed after `after`; `cancel` resolves it early. */
  wait(after: Position): { promise: Promise<void>, cancel: () => void }
  /** A commit on this connection: every waiter re-reads. */
  notify(): void
  /** Wakes every waiter and stops polling; the connection is about to close. */
  stop(): void
}

/**
 * Commits on this connection wake waiters at once (`notify`). Commits by other connections (other
 * processes on the same file) leave no trace here, so while anyone waits the head position is
 * polled; `max(position)` reads one b-tree edge, and comparing it with each waiter's own position
 * cannot miss a commit the way a baseline taken at the wrong moment could.
 */
export function createChangeNotifier (headPosition: () => Position, pollIntervalMs: number): ChangeNotifier {
  const waiters = new Set<Waiter>()
  let timer: NodeJS.Timeout | undefined

  const stopPolling = () => {
    clearInterval(timer)
    timer = undefined
  }
  const release = (waiter: Waiter) => {
    waiters.delete(waiter)
    waiter.wake()
    // Nobody waiting, nothing to poll for; the next wait starts the timer again.
    if (waiters.size === 0) stopPolling()
  }
  const poll = () => {
    // A failing read (connection gone) wakes everyone: their own read then fails and the error
    // reaches the consumer's loop instead of crashing the process from a timer.
    let head = Number.POSITIVE_INFINITY
    try { head = headPosition() } catch {}
    for (const waiter of waiters) if (waiter.after < head) release(waiter)
  }

  return {
    wait (after) {
      let waiter: Waiter | undefined
      const promise = new Promise<void>((resolve) => { waiter = { after, wake: resolve } })
      waiters.add(waiter as Waiter)
      // unref: an idle subscription must not keep the process alive on its own.
      timer ??= setInterval(poll, pollIntervalMs).unref()
      return { promise, cancel: () => release(waiter as Waiter) }
    },
    notify () {
      for (const waiter of waiters) release(waiter)
    },
    stop () {
      for (const waiter of waiters) release(waiter)
      stopPolling()
    }
  }
}

/**
 * Re-reading everything after the last delivered position on each wake-up is what guarantees
 * order, no gaps and no duplicates: SQLite positions become visible only as a committed prefix.
 */
export function openSubscription (
  readAfter: (after: Position, limit: number) => RecordedEvent[],
  notifier: ChangeNotifier,
  options: SubscribeOptions,
  onClose: (subscription: Subscription) => void
): Subscription {
  const { after = START, batchSize = DEFAULT_BATCH_SIZE } = options
  if (!Number.isSafeInteger(after) || after < START) throw new TypeError('after must be a position ≥ 0')
  if (!Number.isSafeInteger(batchSize) || batchSize < 1) throw new TypeError('batchSize must be an integer ≥ 1')

  let closed = false
  let cancelWait: (() => void) | undefined

  async function * batches (): AsyncGenerator<readonly RecordedEvent[]> {
    let last = after
    try {
      while (!closed) {
        const batch = readAfter(last, batchSize)
        const newest = batch[batch.length - 1]
        if (newest !== undefined) {
          last = newest.position
          yield batch
          continue
        }
        const waiting = notifier.wait(last)
        cancelWait = waiting.cancel
        await waiting.promise
        cancelWait = undefined
      }
    } finally {
      // Reached on close and also when the consumer breaks out of its for-await loop.
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
      onClose(subscription)
    }
  }
  return subscription
}
