/**
 * Load from the bench process with autocannon. The server under test is always another process,
 * so the load generator and the server do not share an event loop.
 */
import autocannon, { type Options, type Result } from 'autocannon'
import { cpuSeconds } from './processes.js'

export interface LoadResult {
  /** Completed 2xx responses per second over the whole run. */
  readonly rps: number
  readonly p50: number
  readonly p99: number
  readonly max: number
  readonly requests: number
  readonly errors: number
  readonly non2xx: number
  readonly statusCodes: Record<string, number>
  /** Server CPU (all threads) per completed request during the counted run, in µs; NaN without a pid. */
  readonly cpuMicrosPerRequest: number
}

/**
 * One counted run, after an uncounted warm-up (JIT, caches, connection setup): 1–2 s for a timed
 * run, one request per connection for a run of a fixed `amount` (slow requests, like logins: a
 * timed run would leave requests in flight that the server keeps working on afterwards).
 */
export async function load (options: Options, server?: { readonly pid?: number | undefined }): Promise<LoadResult> {
  if (options.amount === undefined) {
    await autocannon({ ...options, duration: Math.min(2, Math.max(1, Math.round((options.duration ?? 10) / 5))) })
  } else {
    await autocannon({ ...options, amount: options.connections ?? 10 })
  }
  const cpuBefore = cpuSeconds(server?.pid)
  // A run of a fixed amount ends at autocannon's next sample tick after the last response
  // (sampleInt, default 1 s), and its duration includes that wait: up to a second more than the
  // work took, 7 % of a 7-s login run on average. Sampling every 10 ms makes it exact to 10 ms.
  const result: Result = await autocannon(options.amount === undefined ? options : { sampleInt: 10, ...options })
  const cpu = cpuSeconds(server?.pid) - cpuBefore
  const ok = result['2xx']
  const statusCodes: Record<string, number> = {}
  for (const [code, { count }] of Object.entries(result.statusCodeStats ?? {})) statusCodes[code] = count
  return {
    rps: ok / result.duration,
    p50: result.latency.p50,
    p99: result.latency.p99,
    max: result.latency.max,
    requests: result.requests.total,
    errors: result.errors + result.timeouts,
    non2xx: result.non2xx,
    statusCodes,
    cpuMicrosPerRequest: cpu * 1e6 / Math.max(1, result.requests.total)
  }
}

/** Fails loudly when a scenario measured errors instead of work. */
export function assertClean (label: string, result: LoadResult, tolerance = 0.001): void {
  const bad = result.errors + result.non2xx
  if (bad > Math.max(1, result.requests * tolerance)) {
    throw new Error(`${label}: ${bad} of ${result.requests} requests failed (status codes ${JSON.stringify(result.statusCodes)}, errors ${result.errors})`)
  }
}
