/**
 * An in-process lock per key: callers with the same key run one after another, others in
 * parallel. Used to make an account's failure count atomic: of N parallel wrong guesses, only as
 * many as the lockout threshold ever reach the real password hash. Across processes the event
 * store's expected-revision check still orders the recorded outcomes.
 */
export interface KeyedLock {
  run<T>(key: string, task: () => Promise<T>): Promise<T>
  /** Keys with a running or waiting task (for tests and metrics). */
  readonly size: number
}

export function createKeyedLock (): KeyedLock {
  const tails = new Map<string, Promise<unknown>>()
  return {
    async run (key, task) {
      const previous = tails.get(key) ?? Promise.resolve()
      const current = previous.then(task, task)
      const tail = current.catch(() => undefined)
      tails.set(key, tail)
      try {
        return await current
      } finally {
        if (tails.get(key) === tail) tails.delete(key)
      }
    },
    get size () { return tails.size }
  }
}
