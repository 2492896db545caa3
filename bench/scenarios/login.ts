/**
 * POST /v1/authentication at 16 connections, each connection logging in its own seeded user
 * (attempts on one account are serialised by design, so one user would measure the lock), beside
 * raw crypto.scrypt at the same cost and concurrency in a child process.
 */
import { availableParallelism } from 'node:os'
import type { Client } from 'autocannon'
import type { ScryptCost } from '../../src/commands/password-hasher.js'
import type { BenchContext } from '../lib/context.js'
import { USER_PASSWORD, type Instance } from '../lib/instance.js'
import { assertClean, load, type LoadResult } from '../lib/load.js'
import { runScript } from '../lib/processes.js'

export const LOGIN_CONNECTIONS = 16

/**
 * One login load run against `url`: `amount` logins in all, connection k signing in as
 * usernames[k]. A fixed amount, not a duration: a login takes a good fraction of a second of CPU,
 * and a timed run would leave logins in flight that the server keeps hashing after the run.
 */
export async function loginLoad (url: string, usernames: readonly string[], amount: number, path = '/v1/authentication', body: (u: string) => Record<string, string> = (u) => ({ username: u, password: USER_PASSWORD }), headers: Record<string, string> = {}): Promise<LoadResult> {
  let next = 0
  const result = await load({
    url,
    connections: LOGIN_CONNECTIONS,
    amount,
    timeout: 600,
    setupClient: (client: Client) => {
      const username = usernames[next++ % usernames.length] as string
      client.setRequests([{ method: 'POST', path, headers: { 'content-type': 'application/json', ...headers }, body: JSON.stringify(body(username)) }])
    }
  })
  assertClean(`login ${url}${path}`, result)
  return result
}

/**
 * Raw scrypt in a child process. `threads`: its libuv pool size. The server's hasher runs at most
 * one KDF per core at once (src/commands/password-hasher.ts), so the ratio's baseline runs the
 * same number of scrypt threads, one per core; on an idle machine the pool size changes nothing
 * (MEASURED.md: 2, 4 or 8 threads give the same hashes/s), on a machine shared with other work a
 * process with more runnable threads takes a larger share of the cores, which is why one run with
 * libuv's default pool of 4 is reported beside it.
 */
export async function rawScrypt (cost: ScryptCost, amount: number, threads: number = availableParallelism()): Promise<number> {
  const r = await runScript<{ hashesPerSecond: number }>('baselines/scrypt.ts',
    [cost.logN, cost.r, cost.p, LOGIN_CONNECTIONS, amount].map(String), { UV_THREADPOOL_SIZE: String(threads) })
  return r.hashesPerSecond
}

/** Logins (and raw hashes) per run: a fixed amount, a multiple of the connections. */
export const loginAmount = (ctx: BenchContext): number => ctx.logins ?? LOGIN_CONNECTIONS * (ctx.quick ? 1 : 2)

export async function measureLogin (ctx: BenchContext, instance: Instance): Promise<{ ours: number[], base: number[], p99: number[], defaultPool: number }> {
  const usernames = Array.from({ length: LOGIN_CONNECTIONS }, (_, i) => instance.username(i))
  const amount = loginAmount(ctx)
  const ours: number[] = []
  const base: number[] = []
  const p99: number[] = []
  for (let run = 0; run < ctx.runs; run++) {
    base.push(await rawScrypt(instance.cost, amount))
    const r = await loginLoad(instance.server.url, usernames, amount)
    ours.push(r.rps)
    p99.push(r.p99)
    ctx.log(`    run ${run + 1}: raw scrypt ${base.at(-1)?.toFixed(2)} hashes/s, logins ${r.rps.toFixed(2)}/s (p99 ${r.p99} ms)`)
  }
  const defaultPool = ctx.quick ? Number.NaN : await rawScrypt(instance.cost, amount, 4)
  if (!ctx.quick) ctx.log(`    raw scrypt with libuv's default pool of 4 threads: ${defaultPool.toFixed(2)} hashes/s`)
  return { ours, base, p99, defaultPool }
}
