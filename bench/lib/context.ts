/** What every scenario gets: the mode, how long and how often to measure, where to put files. */
export interface BenchContext {
  readonly quick: boolean
  /** Runs per line; each reported figure is the median. */
  readonly runs: number
  /** Seconds of load per run (the login lines use more: few requests complete per second). */
  readonly seconds: number
  /** Logins (and raw hashes) per login run; default one per connection (quick) or two. */
  readonly logins?: number
  /** Temp directory for data dirs and logs (same disk as the SQLite baselines). */
  readonly root: string
  readonly log: (line: string) => void
}
