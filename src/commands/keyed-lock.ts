/**
 * An in-process queue per key: callers with the same key run one after another, others in
 * parallel. `commands.queue` (createCommands) keys it by stream, so commands on one stream do not
 * race each other to a revision conflict, and by `login:<username>`, so an account's failure
 * count is atomic: of N parallel wrong guesses, only as many as the lockout threshold ever reach
 * the real password hash. Across processes the event store's expected-revision check still
 * orders the appends. Keys nest in one order only (login, then user-<id>, then the streams a
 * plan's steps touch: reservations, identity-admins, auth-<id>, which take no further key), so
 * queued work never waits on itself.
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
