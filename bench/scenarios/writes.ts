/**
 * POST /v1/users/{id}/roles and DELETE /v1/users/{id}/roles/{roleId} alternating at 64
 * connections, each connection on its own user (so no two requests race on one stream), durable
 * (the event store commits with synchronous=FULL), beside raw SQLite one-row FULL transactions on
 * the same disk in a child process.
 */
import type { Client } from 'autocannon'
import type { BenchContext } from '../lib/context.js'
import { groupCommits } from '../lib/api.js'
import { assertClean, load, type LoadResult } from '../lib/load.js'
import { runScript } from '../lib/processes.js'

export const WRITE_CONNECTIONS = 64
export const ROLE = 'identity-auditor'

export async function rolesLoad (url: string, token: string, userIds: readonly string[], seconds: number, options: { connections?: number, overallRate?: number, pid?: number } = {}): Promise<LoadResult> {
  let next = 0
  const connections = options.connections ?? WRITE_CONNECTIONS
  const result = await load({
    url,
    connections,
    duration: seconds,
    timeout: 30,
    ...(options.overallRate === undefined ? {} : { overallRate: options.overallRate }),
    setupClient: (client: Client) => {
      const userId = userIds[next++ % userIds.length] as string
      client.setRequests([
        { method: 'POST', path: `/v1/users/${userId}/roles`, headers: { authorization: `Bearer ${token}`, 'content-type': 'application/json' }, body: JSON.stringify({ roleId: ROLE }) },
        { method: 'DELETE', path: `/v1/users/${userId}/roles/${ROLE}`, headers: { authorization: `Bearer ${token}` } }
      ])
    }
  }, { pid: options.pid })
  assertClean(`roles ${url}`, result)
  return result
}

export async function rawDurableTransactions (ctx: BenchContext, seconds: number): Promise<number> {
  const r = await runScript<{ transactionsPerSecond: number }>('baselines/sqlite.ts', ['tx', ctx.root, String(seconds)])
  return r.transactionsPerSecond
}

export async function measureRoles (ctx: BenchContext, url: string, token: string, userIds: readonly string[], pid?: number): Promise<{ ours: number[], base: number[], p99: number[], cpu: number[], perCommit: number[] }> {
  const cpu: number[] = []
  const ours: number[] = []
  const base: number[] = []
  const p99: number[] = []
  const perCommit: number[] = []
  for (let run = 0; run < ctx.runs; run++) {
    base.push(await rawDurableTransactions(ctx, Math.min(5, ctx.seconds)))
    // Counted over the warm-up and the run: commands (one append each here) per group commit.
    const before = await groupCommits(url)
    const r = await rolesLoad(url, token, userIds, ctx.seconds, pid === undefined ? {} : { pid })
    const after = await groupCommits(url)
    if (before !== null && after !== null) perCommit.push((after.appends - before.appends) / Math.max(1, after.commits - before.commits))
    ours.push(r.rps)
    p99.push(r.p99)
    cpu.push(r.cpuMicrosPerRequest)
    ctx.log(`    run ${run + 1}: raw FULL ${Math.round(base.at(-1) ?? 0)} tx/s, ours ${Math.round(r.rps)} req/s (p99 ${r.p99} ms, ${Math.round(r.cpuMicrosPerRequest)} µs CPU/req, ${perCommit.at(-1)?.toFixed(1) ?? '?'} commands per commit)`)
  }
  return { ours, base, p99, cpu, perCommit }
}
