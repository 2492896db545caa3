/**
 * The lines of issue 12 (sessions, refresh tokens, machine clients):
 *
 * - refresh: `POST /oauth2/token grant_type=refresh_token` at 16 connections over 48 sessions of
 *   seeded users (every answer's rotated refresh token is presented by a later request, never
 *   one token twice), beside the bare Fastify route at the same connections. Each grant
 *   rotates the token in oauth.db and appends SessionRefreshed (FULL) before it answers.
 * - client-credentials: `POST /oauth2/token grant_type=client_credentials` (a service account,
 *   HTTP Basic) at 16 connections, beside the bare route.
 * - session-check: GET /v1/users/{id} (random ids, the get-user line's load) with the per-request
 *   session check, against the same server code opened with { sessionCheck: false }
 *   (bench/baselines/idm-without-session-check.mjs: "before this change") on the same data
 *   directory and the same token, the two alternating run by run, each beside the bare route.
 */
import type { Options, Request } from 'autocannon'
import { join } from 'node:path'
import { login } from '../lib/api.js'
import type { BenchContext } from '../lib/context.js'
import { ADMIN_PASSWORD, serverEnv, USER_PASSWORD, type Instance } from '../lib/instance.js'
import { assertClean, load } from '../lib/load.js'
import { startIdm, type Running } from '../lib/processes.js'
import { bareRouteResult } from './reads.js'
import { fmt, median, ratio } from '../lib/stats.js'
import type { Row } from '../lib/report.js'

export const TOKEN_CONNECTIONS = 16
const WITHOUT_ENTRY = 'bench/baselines/idm-without-session-check.mjs'

const figure = (runs: number[], unit: string) => ({ value: median(runs), unit, runs })
const form = (params: Record<string, string>): string => new URLSearchParams(params).toString()

async function bareRun (ctx: BenchContext, bare: Running, connections: number, requests?: Request[]) {
  if (requests === undefined) return await bareRouteResult(ctx, bare, connections)
  const b = await load({ url: bare.url, connections, duration: ctx.seconds, requests }, bare.child)
  assertClean('bare fastify', b)
  return b
}

/** Refresh tokens of fresh sessions: sign-ins of seeded users `from`…`from + count - 1`, 8 at a time. */
async function refreshTokens (url: string, instance: Instance, from: number, count: number): Promise<string[]> {
  const tokens: string[] = []
  for (let i = 0; i < count; i += 8) {
    const batch = Array.from({ length: Math.min(8, count - i) }, async (_, j) => {
      const res = await fetch(`${url}/v1/authentication`, {
        method: 'POST',
        headers: { 'content-type': 'application/json' },
        body: JSON.stringify({ username: instance.username(from + i + j), password: USER_PASSWORD })
      })
      if (res.status !== 200) throw new Error(`sign-in of ${instance.username(from + i + j)}: ${res.status} ${await res.text()}`)
      return ((await res.json()) as { refresh_token: string }).refresh_token
    })
    tokens.push(...await Promise.all(batch))
  }
  return tokens
}

interface TokenLine { id: string, scenario: string, unit: string, per: string, note: string }

/** Runs of one token-endpoint load beside the bare route; `options` gives each run's autocannon options. */
async function tokenLine (ctx: BenchContext, instance: Instance, bare: Running, line: TokenLine, options: () => Promise<Options>): Promise<Row> {
  const ours: number[] = []
  const base: number[] = []
  const p99: number[] = []
  const cpu: number[] = []
  for (let run = 0; run < ctx.runs; run++) {
    base.push((await bareRun(ctx, bare, TOKEN_CONNECTIONS)).rps)
    const r = await load({ ...await options(), connections: TOKEN_CONNECTIONS, duration: ctx.seconds }, instance.server.child)
    assertClean(line.id, r)
    ours.push(r.rps)
    p99.push(r.p99)
    cpu.push(r.cpuMicrosPerRequest)
    ctx.log(`    run ${run + 1}: bare ${Math.round(base.at(-1) ?? 0)} req/s, ${line.id} ${Math.round(r.rps)} ${line.unit} (p99 ${r.p99} ms, ${Math.round(r.cpuMicrosPerRequest)} µs CPU/req)`)
  }
  return {
    id: line.id,
    scenario: line.scenario,
    baseline: `bare Fastify route, ${TOKEN_CONNECTIONS} connections`,
    ours: figure(ours, line.unit),
    base: figure(base, 'req/s'),
    ratio: ratio(median(ours), median(base)),
    target: 'report',
    met: null,
    notes: [`p99 ${median(p99)} ms`, `server CPU ${Math.round(median(cpu))} µs/${line.per}`, line.note]
  }
}

export async function measureRefresh (ctx: BenchContext, instance: Instance, bare: Running): Promise<Row> {
  const url = instance.server.url
  let nextUser = 0
  const line = {
    id: 'refresh',
    scenario: `POST /oauth2/token grant_type=refresh_token, ${TOKEN_CONNECTIONS} connections, ${3 * TOKEN_CONNECTIONS} rotating sessions`,
    unit: 'grants/s',
    per: 'grant',
    note: 'each grant rotates the refresh token (oauth.db) and appends SessionRefreshed (durable, FULL) before it answers'
  }
  return await tokenLine(ctx, instance, bare, line, async () => {
    // The refresh tokens not in flight wait in a pool: a request takes one, its answer puts the
    // rotated one back, so no token is ever presented twice (autocannon resets a connection's
    // context after each request sequence, so the chains cannot live there). The warm-up and the
    // end of the counted run each strand at most one token per connection.
    const pool = await refreshTokens(url, instance, nextUser, 3 * TOKEN_CONNECTIONS)
    nextUser += 3 * TOKEN_CONNECTIONS
    const chain: Request = {
      method: 'POST',
      path: '/oauth2/token',
      headers: { 'content-type': 'application/x-www-form-urlencoded' },
      setupRequest: (req) => {
        const token = pool.pop()
        if (token === undefined) throw new Error('the refresh-token pool ran dry')
        return { ...req, body: form({ grant_type: 'refresh_token', refresh_token: token, client_id: 'idm-api' }) }
      },
      onResponse: (status, body) => {
        if (status === 200) pool.push((JSON.parse(body) as { refresh_token: string }).refresh_token)
      }
    }
    return { url, requests: [chain] }
  })
}

export async function measureClientCredentials (ctx: BenchContext, instance: Instance, bare: Running): Promise<Row> {
  const url = instance.server.url
  const admin = await instance.adminToken()
  const created = await fetch(`${url}/v1/clients`, {
    method: 'POST',
    headers: { 'content-type': 'application/json', authorization: `Bearer ${admin}` },
    body: JSON.stringify({ name: 'bench service account', type: 'confidential', grantTypes: ['client_credentials'], roles: ['identity-subscriber'] })
  })
  if (created.status !== 201) throw new Error(`POST /v1/clients: ${created.status} ${await created.text()}`)
  const client = await created.json() as { client_id: string, client_secret: string }
  const basic = Buffer.from(`${encodeURIComponent(client.client_id)}:${encodeURIComponent(client.client_secret)}`).toString('base64')
  const line = {
    id: 'client-credentials',
    scenario: `POST /oauth2/token grant_type=client_credentials (HTTP Basic), ${TOKEN_CONNECTIONS} connections`,
    unit: 'tokens/s',
    per: 'token',
    note: 'each token: the client secret compared with its stored hash, an ES256 JWT access token signed; nothing written'
  }
  return await tokenLine(ctx, instance, bare, line, async () => ({
    url: `${url}/oauth2/token`,
    method: 'POST',
    headers: { 'content-type': 'application/x-www-form-urlencoded', authorization: `Basic ${basic}` },
    body: form({ grant_type: 'client_credentials' })
  }))
}

/**
 * GET-by-id with and without the session check, alternating run by run on the instance's data
 * directory (one server at a time: they share the files). Leaves the instance's own server
 * stopped and returns the line; call it last on an instance.
 */
export async function measureSessionCheck (ctx: BenchContext, instance: Instance, bare: Running, connections: number, extraEnv: NodeJS.ProcessEnv = {}): Promise<Row> {
  const env = { ...serverEnv(instance.cost), ...extraEnv }
  const logFile = join(ctx.root, 'session-check.log')
  let server: Running = instance.server
  const token = await login(server.url, 'admin', ADMIN_PASSWORD)
  const ids = instance.seed.firstIds
  const random: Request = { method: 'GET', setupRequest: (req) => ({ ...req, path: `/v1/users/${ids[Math.floor(Math.random() * ids.length)] as string}` }) }
  const headers = { authorization: `Bearer ${token}` }
  const withCheck: number[] = []
  const without: number[] = []
  const base: number[] = []
  const cpuWith: number[] = []
  const cpuWithout: number[] = []
  const swap = async (entry?: string): Promise<Running> => {
    await server.stop()
    return await startIdm({ dataDir: instance.dataDir, logFile, env, ...(entry === undefined ? {} : { entry }) })
  }
  try {
    for (let run = 0; run < ctx.runs; run++) {
      base.push((await bareRun(ctx, bare, connections, [random])).rps)
      if (run > 0) server = await swap()
      const a = await load({ url: server.url, connections, duration: ctx.seconds, headers, requests: [random] }, server.child)
      assertClean('GET /v1/users/{id} with the session check', a)
      withCheck.push(a.rps)
      cpuWith.push(a.cpuMicrosPerRequest)
      server = await swap(WITHOUT_ENTRY)
      const b = await load({ url: server.url, connections, duration: ctx.seconds, headers, requests: [random] }, server.child)
      assertClean('GET /v1/users/{id} without the session check', b)
      without.push(b.rps)
      cpuWithout.push(b.cpuMicrosPerRequest)
      ctx.log(`    run ${run + 1}: bare ${Math.round(base.at(-1) ?? 0)} req/s, with the check ${Math.round(a.rps)} req/s (${Math.round(a.cpuMicrosPerRequest)} µs CPU/req), without ${Math.round(b.rps)} req/s (${Math.round(b.cpuMicrosPerRequest)} µs CPU/req)`)
    }
  } finally {
    await server.stop()
  }
  const value = ratio(median(withCheck), median(without))
  return {
    id: 'session-check',
    scenario: `GET /v1/users/{id}, ${connections} connections, random ids: with the per-request session check ÷ the same server without it`,
    baseline: 'the same server code opened with { sessionCheck: false } (before sessions), same files, same token, runs alternating',
    ours: figure(withCheck, 'req/s'),
    base: figure(without, 'req/s'),
    ratio: value,
    target: '≥ 0.95',
    met: value >= 0.95,
    notes: [
      `against the bare route: with ${ratio(median(withCheck), median(base)).toFixed(3)}, without ${ratio(median(without), median(base)).toFixed(3)} (bare ${fmt(median(base))} req/s)`,
      `server CPU per request: with ${Math.round(median(cpuWith))} µs, without ${Math.round(median(cpuWithout))} µs`,
      'the check is a Map lookup in the session index (src/projections/session-index.ts), fed by the projection'
    ]
  }
}
