/**
 * The read lines: GET /v1/users/{id} at 50 connections beside a bare Fastify route, and the `q`
 * prefix search over the seeded users.
 */
import type { Request } from 'autocannon'
import type { BenchContext } from '../lib/context.js'
import type { Instance } from '../lib/instance.js'
import { assertClean, load, type LoadResult } from '../lib/load.js'
import { startScriptServer, type Running } from '../lib/processes.js'

export const READ_CONNECTIONS = 50

export async function startBareFastify (): Promise<Running> {
  return await startScriptServer('baselines/bare-fastify.ts')
}

export async function bareRouteResult (ctx: BenchContext, bare: Running, connections = READ_CONNECTIONS): Promise<LoadResult> {
  const r = await load({ url: `${bare.url}/v1/users/0190a0b0-0000-7000-8000-000000000000`, connections, duration: ctx.seconds }, bare.child)
  assertClean('bare fastify', r)
  lastCpuPerRequest = r.cpuMicrosPerRequest
  return r
}

export async function bareRoute (ctx: BenchContext, bare: Running, connections = READ_CONNECTIONS): Promise<number> {
  return (await bareRouteResult(ctx, bare, connections)).rps
}

/** Server CPU µs per request of the last bare run. */
let lastCpuPerRequest = Number.NaN

/**
 * GET /v1/users/{id} at 50 connections, each request for a user drawn at random from every seeded
 * user (the line's figure: a read model of a million rows is mostly not in any cache), and the
 * same load on one hot id beside it (labelled, for comparison with earlier runs that measured
 * only that).
 */
export async function measureGetUser (ctx: BenchContext, instance: Instance, bare: Running): Promise<{ ours: number[], hot: number[], base: number[], p99: number[], cpu: number[], hotCpu: number[], bareCpu: number[] }> {
  const token = await instance.adminToken()
  const ids = instance.seed.firstIds
  const hotId = ids[0] as string
  const headers = { authorization: `Bearer ${token}` }
  const random: Request = {
    method: 'GET',
    setupRequest: (req) => ({ ...req, path: `/v1/users/${ids[Math.floor(Math.random() * ids.length)] as string}` })
  }
  const ours: number[] = []
  const hot: number[] = []
  const base: number[] = []
  const p99: number[] = []
  const cpu: number[] = []
  const hotCpu: number[] = []
  const bareCpu: number[] = []
  for (let run = 0; run < ctx.runs; run++) {
    // The bare route gets the same random paths (it ignores the id), so the load generator, on
    // the same two cores, does the same work on both sides.
    const b = await load({ url: bare.url, connections: READ_CONNECTIONS, duration: ctx.seconds, requests: [random] }, bare.child)
    assertClean('bare fastify', b)
    base.push(b.rps)
    bareCpu.push(b.cpuMicrosPerRequest)
    const r = await load({ url: instance.server.url, connections: READ_CONNECTIONS, duration: ctx.seconds, headers, requests: [random] }, instance.server.child)
    assertClean('GET /v1/users/{id} (random ids)', r)
    ours.push(r.rps)
    p99.push(r.p99)
    cpu.push(r.cpuMicrosPerRequest)
    const h = await load({ url: `${instance.server.url}/v1/users/${hotId}`, connections: READ_CONNECTIONS, duration: ctx.seconds, headers }, instance.server.child)
    assertClean('GET /v1/users/{id} (one hot id)', h)
    hot.push(h.rps)
    hotCpu.push(h.cpuMicrosPerRequest)
    ctx.log(`    run ${run + 1}: bare ${Math.round(base.at(-1) ?? 0)} req/s (${bareCpu.at(-1)?.toFixed(0)} µs CPU/req), random ids ${Math.round(r.rps)} req/s (p99 ${r.p99} ms, ${cpu.at(-1)?.toFixed(0)} µs CPU/req), hot id ${Math.round(h.rps)} req/s (${hotCpu.at(-1)?.toFixed(0)} µs CPU/req)`)
  }
  return { ours, hot, base, p99, cpu, hotCpu, bareCpu }
}

/**
 * Prefixes of every kind the search meets: a common first name (many matches, found in the first
 * window), a surname, a narrow username prefix, an email prefix, and one that matches nobody (the
 * worst case: every index range is looked at).
 */
export const LIST_PREFIXES = ['mar', 'gonz', 'laura.vega1', 'sofia.ro', 'zzq']

export async function measureListUsers (ctx: BenchContext, instance: Instance, connections: number): Promise<{ rps: number[], p50: number[], p99: number[], cpu: number[] }> {
  const token = await instance.adminToken()
  const cpu: number[] = []
  const rps: number[] = []
  const p50: number[] = []
  const p99: number[] = []
  for (let run = 0; run < ctx.runs; run++) {
    const r = await load({
      url: instance.server.url,
      connections,
      duration: ctx.seconds,
      headers: { authorization: `Bearer ${token}` },
      requests: LIST_PREFIXES.map(q => ({ method: 'GET', path: `/v1/users?q=${encodeURIComponent(q)}&limit=50` }))
    }, instance.server.child)
    assertClean('GET /v1/users?q=', r)
    cpu.push(r.cpuMicrosPerRequest)
    rps.push(r.rps)
    p50.push(r.p50)
    p99.push(r.p99)
    ctx.log(`    run ${run + 1}: ${connections} connection(s): ${Math.round(r.rps)} req/s, p50 ${r.p50} ms, p99 ${r.p99} ms, ${Math.round(r.cpuMicrosPerRequest)} µs CPU/req`)
  }
  return { rps, p50, p99, cpu }
}
