/**
 * Read turns: the reads of the event feed (stream catch-up, `GET /v1/events` scans) take turns
 * in bounded steps, and yield the event loop between turns, so no request waits on somebody
 * else's catch-up.
 *
 * Why: the SQLite adapter reads synchronously (better-sqlite3), so `await store.readAll()`
 * resolves in a microtask and a loop of reads never lets the event loop serve anything else.
 * 25 streams replaying a long log from position 0 held `/health/live` for seconds. Here each
 * read is a step queued behind the others (first come, first served; a stream queues its next
 * step only after its last one ran, so streams alternate); a turn runs steps until `sliceMs` of
 * wall time has passed, then the rest waits for `setImmediate`, after the poll phase has served
 * the sockets. A step is awaited within its turn, so the time of what it does with its result
 * (filtering, building frames, writing) counts too. An adapter that reads asynchronously
 * (EventStoreDB) simply spends its wait outside the turn.
 */
export interface ReadTurns {
  /** Runs `step` when its turn comes; resolves or rejects with it. */
  run<T>(step: () => Promise<T> | T): Promise<T>
  /** Steps waiting (tests, metrics). */
  readonly queued: () => number
}

interface Task {
  readonly step: () => unknown
  readonly resolve: (value: any) => void
  readonly reject: (error: unknown) => void
}

/** Default turn length: a request arriving meanwhile waits at most about this long. */
export const DEFAULT_SLICE_MS = 5

export function createReadTurns (options: { readonly sliceMs?: number } = {}): ReadTurns {
  const sliceMs = options.sliceMs ?? DEFAULT_SLICE_MS
  const queue: Task[] = []
  let head = 0
  let scheduled = false

  const take = (): Task | undefined => {
    const task = queue[head]
    if (task === undefined) return undefined
    queue[head++] = undefined as unknown as Task
    // Compact now and then instead of shifting on every step.
    if (head > 1024 && head * 2 > queue.length) { queue.splice(0, head); head = 0 }
    return task
  }

  async function turn (): Promise<void> {
    const started = performance.now()
    for (;;) {
      const task = take()
      if (task === undefined) break
      try {
        task.resolve(await task.step())
      } catch (error) {
        task.reject(error)
      }
      if (performance.now() - started >= sliceMs) break
    }
    if (head < queue.length) setImmediate(() => { void turn() })
    else scheduled = false
  }

  return {
    async run<T> (step: () => Promise<T> | T): Promise<T> {
      return await new Promise<T>((resolve, reject) => {
        queue.push({ step, resolve, reject })
        if (scheduled) return
        scheduled = true
        setImmediate(() => { void turn() })
      })
    },
    queued: () => queue.length - head
  }
}
