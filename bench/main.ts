/**
 * `npm run bench [-- --quick]`: the benchmark suite of issue 6. Every line is measured beside a
 * baseline taken in the same run on the same machine (a raw primitive in a process of its own),
 * and reported as the ratio of medians. See BENCHMARKS.md for the results and what they mean.
 *
 * Options: --quick (CI smoke: fewer users, shorter and single runs), --runs N, --seconds S,
 * --logins N (per login run, a multiple of 16 is fair to every connection),
 * --users N, --events N, --only a,b (login, create-user, get-user, list, roles, sse, sse-flood, refresh, client-credentials, session-check, rebuild, peer, postgres),
 * --render (BENCHMARKS.md again from bench/results/latest.json), --keep (keep the temp directory), --env K=V (extra server environment, for experiments), --profile (servers run with --cpu-prof into bench/results/profiles).
 */
import { mkdirSync, mkdtempSync, readFileSync, rmSync } from 'node:fs'
import { loadavg, tmpdir } from 'node:os'
import { join } from 'node:path'
import { loadConfig } from '../src/config.js'
import type { BenchContext } from './lib/context.js'
import { openInstance, type Instance } from './lib/instance.js'
import { describeMachine } from './lib/machine.js'
import { benchFile, killChildren, type Running } from './lib/processes.js'
import { renderReport, table, writeReport, type Report, type Row } from './lib/report.js'
import { fmt, median, ratio } from './lib/stats.js'
import { CREATE_CONNECTIONS, measureCreateUser } from './scenarios/create.js'
import { LOGIN_CONNECTIONS, loginAmount, measureLogin } from './scenarios/login.js'
import { PEER_COST, installPeer, measurePeer, startPeer } from './scenarios/peer.js'
import { bareRoute, bareRouteResult, LIST_PREFIXES, measureGetUser, measureListUsers, READ_CONNECTIONS, startBareFastify } from './scenarios/reads.js'
import { measurePostgres } from './scenarios/postgres.js'
import { measureRebuild } from './scenarios/rebuild.js'
import { measureClientCredentials, measureRefresh, measureSessionCheck, TOKEN_CONNECTIONS } from './scenarios/sessions.js'
import { EVENTS_PER_SECOND, measureSse, SUBSCRIBERS } from './scenarios/sse.js'
import { floodShape, measureSseFlood } from './scenarios/sse-flood.js'
import { measureRoles, WRITE_CONNECTIONS } from './scenarios/writes.js'

const SCENARIOS = ['login', 'create-user', 'get-user', 'list', 'roles', 'sse', 'sse-flood', 'refresh', 'client-credentials', 'session-check', 'rebuild', 'peer', 'postgres'] as const

function parseArgs (argv: readonly string[]) {
  const flag = (name: string): boolean => argv.includes(`--${name}`)
  const value = (name: string): string | undefined => {
    const i = argv.findIndex(a => a === `--${name}` || a.startsWith(`--${name}=`))
    if (i === -1) return undefined
    const arg = argv[i] as string
    return arg.includes('=') ? arg.slice(arg.indexOf('=') + 1) : argv[i + 1]
  }
  const quick = flag('quick')
  const only = value('only')
  return {
    quick,
    runs: Number(value('runs') ?? (quick ? 1 : 3)),
    seconds: Number(value('seconds') ?? (quick ? 2 : 10)),
    users: Number(value('users') ?? (quick ? 10_000 : 1_000_000)),
    events: Number(value('events') ?? (quick ? 20_000 : 1_000_000)),
    logins: value('logins') === undefined ? undefined : Number(value('logins')),
    only: only === undefined ? null : new Set(only.split(',')),
    keep: flag('keep'),
    env: Object.fromEntries(argv.flatMap((a, i) => a === '--env' ? [argv[i + 1] ?? ''] : a.startsWith('--env=') ? [a.slice(6)] : [])
      .map(kv => [kv.slice(0, kv.indexOf('=')), kv.slice(kv.indexOf('=') + 1)])) as Record<string, string>,
    profile: flag('profile')
  }
}

// --render: BENCHMARKS.md again from the last full run's JSON (after editing bench/analysis.md).
if (process.argv.includes('--render')) {
  const json = join(benchFile('results'), 'latest.json')
  renderReport(JSON.parse(readFileSync(json, 'utf8')) as Report, join(benchFile('..'), 'BENCHMARKS.md'), benchFile('analysis.md'))
  process.exit(0)
}

const args = parseArgs(process.argv.slice(2))
const want = (id: (typeof SCENARIOS)[number]): boolean => args.only === null || args.only.has(id)
const root = mkdtempSync(join(tmpdir(), 'idm-bench-'))
const log = (line: string): void => { process.stderr.write(`${line}\n`) }
const ctx: BenchContext = { quick: args.quick, runs: args.runs, seconds: args.seconds, root, log, ...(args.logins === undefined ? {} : { logins: args.logins }) }
const profileDir = join(benchFile('results'), 'profiles')
const nodeArgs = args.profile ? ['--cpu-prof', `--cpu-prof-dir=${profileDir}`] : []
if (args.profile) mkdirSync(profileDir, { recursive: true })

const defaults = loadConfig({})
const DEFAULT_COST = { ...defaults.scrypt }
const costText = (c: { logN: number, r: number, p: number }): string => `logN ${c.logN}, r ${c.r}, p ${c.p}`
const figure = (runs: number[], unit: string) => ({ value: median(runs), unit, runs })
const startedAt = new Date().toISOString()
const machine = describeMachine(root)
const rows: Row[] = []
const cleanups: Array<() => Promise<void>> = []

// Interrupted: stop the servers this run started before leaving.
for (const signal of ['SIGINT', 'SIGTERM'] as const) {
  process.once(signal, () => {
    void Promise.allSettled(cleanups.map(async cleanup => await cleanup())).finally(() => {
      // Children started but not yet handed to a cleanup (a server still starting, a rebuild).
      killChildren()
      if (!args.keep) rmSync(root, { recursive: true, force: true })
      process.exit(130)
    })
  })
}

log(`bench (${args.quick ? 'quick' : 'full'}): ${machine.cpuModel}, ${machine.cores} cores, load ${machine.loadAverage.join(' ')}, data in ${root}`)

try {
  if (want('login') || want('create-user') || want('get-user') || want('list') || want('roles') || want('sse') || want('sse-flood') || want('refresh') || want('client-credentials') || want('session-check')) {
    log(`main instance: ${args.users.toLocaleString('en-US')} users, default KDF cost (${costText(DEFAULT_COST)})`)
    const main: Instance = await openInstance({ name: 'main', root, users: args.users, cost: DEFAULT_COST, nodeArgs, env: args.env, log })
    cleanups.push(async () => await main.stop())
    const catchUpSeconds = Math.max(0.001, (main.catchUpMs - main.emptyStartMs) / 1000)
    const projectSeconds = main.rebuildSeconds ?? catchUpSeconds
    const seedSeconds = main.seed.seconds + projectSeconds
    rows.push({
      id: 'seed',
      scenario: `seeding ${args.users.toLocaleString('en-US')} users (event store append + projection)`,
      baseline: '—',
      ours: figure([main.seed.users / seedSeconds], 'users/s'),
      base: null,
      ratio: null,
      target: 'report',
      met: null,
      notes: [
        `append ${Math.round(main.seed.events / main.seed.seconds).toLocaleString('en-US')} events/s (${main.seed.events.toLocaleString('en-US')} events in ${main.seed.seconds.toFixed(0)} s: UserRegistered per user, and the 3 reservations for the first ${main.seed.reserved}, stamped by the command layer, FULL, 250 users per group commit)`,
        main.rebuildSeconds === null
          ? `projection: the starting server caught up at ${Math.round(main.seed.events / catchUpSeconds).toLocaleString('en-US')} events/s (${catchUpSeconds.toFixed(0)} s)`
          : `projection: idm projections rebuild at ${Math.round(main.seed.events / main.rebuildSeconds).toLocaleString('en-US')} events/s (${main.rebuildSeconds.toFixed(0)} s)`
      ]
    })

    if (want('login')) {
      log(`POST /v1/authentication, ${LOGIN_CONNECTIONS} connections, ${loginAmount(ctx)} logins per run`)
      const r = await measureLogin(ctx, main)
      const value = ratio(median(r.ours), median(r.base))
      rows.push({
        id: 'login',
        scenario: `POST /v1/authentication, ${LOGIN_CONNECTIONS} connections, default KDF (${costText(DEFAULT_COST)})`,
        baseline: `raw crypto.scrypt, same cost, ${LOGIN_CONNECTIONS} in flight, ${machine.cores} threads`,
        ours: figure(r.ours, 'logins/s'),
        base: figure(r.base, 'hashes/s'),
        ratio: value,
        target: '≥ 0.95',
        met: value >= 0.95,
        notes: [`p99 ${median(r.p99)} ms`, ...(Number.isNaN(r.defaultPool) ? [] : [`raw scrypt with libuv's default pool of 4 threads (one run): ${r.defaultPool.toFixed(2)} hashes/s, ratio ${ratio(median(r.ours), r.defaultPool).toFixed(2)}`])]
      })
    }

    if (want('create-user')) {
      log(`POST /v1/users, ${CREATE_CONNECTIONS} in flight, ${loginAmount(ctx)} users per run`)
      const r = await measureCreateUser(ctx, main)
      const value = ratio(median(r.ours), median(r.base))
      rows.push({
        id: 'create-user',
        scenario: `POST /v1/users, ${CREATE_CONNECTIONS} in flight, default KDF (${costText(DEFAULT_COST)})`,
        baseline: `raw crypto.scrypt, same cost, ${CREATE_CONNECTIONS} in flight, ${machine.cores} threads`,
        ours: figure(r.ours, 'users/s'),
        base: figure(r.base, 'hashes/s'),
        ratio: value,
        target: '≥ 0.95',
        met: value >= 0.95,
        notes: [`p99 ${median(r.p99)} ms`, `server CPU ${Math.round(median(r.cpu))} µs/request`, 'each request hashes the password and appends three reservations and UserRegistered, then answers once the read model shows the user']
      })
    }

    let bare: Running | undefined
    if (want('get-user') || want('list') || want('refresh') || want('client-credentials') || want('session-check')) {
      bare = await startBareFastify()
      cleanups.push(async () => await bare?.stop())
    }
    if (want('get-user') && bare !== undefined) {
      log(`GET /v1/users/{id}, ${READ_CONNECTIONS} connections, ${ctx.seconds} s per run`)
      const r = await measureGetUser(ctx, main, bare)
      const value = ratio(median(r.ours), median(r.base))
      rows.push({
        id: 'get-user',
        scenario: `GET /v1/users/{id} with a valid token, ${READ_CONNECTIONS} connections, random ids over all ${args.users.toLocaleString('en-US')} users`,
        baseline: 'bare Fastify route, small JSON',
        ours: figure(r.ours, 'req/s'),
        base: figure(r.base, 'req/s'),
        ratio: value,
        target: '≥ 0.40',
        met: value >= 0.40,
        notes: [`p99 ${median(r.p99)} ms`, `server CPU per request: ours ${Math.round(median(r.cpu))} µs, bare ${Math.round(median(r.bareCpu))} µs`, `one hot id instead (every request for the same user, as earlier runs measured): ${fmt(median(r.hot))} req/s (${r.hot.map(v => fmt(v)).join(' / ')}), ratio ${ratio(median(r.hot), median(r.base)).toFixed(3)}, ${Math.round(median(r.hotCpu))} µs CPU/request`, 'one admin token (the verified-token cache hits; the revocation lookup runs on every request)']
      })
    }

    if (want('list') && bare !== undefined) {
      log(`GET /v1/users?q=<prefix>&limit=50 over ${args.users.toLocaleString('en-US')} users, prefixes ${LIST_PREFIXES.join(', ')}`)
      const one = await measureListUsers(ctx, main, 1)
      // The control: the bare route's latency at one connection, same moment, same machine load.
      const bareOne: number[] = []
      for (let run = 0; run < ctx.runs; run++) bareOne.push((await bareRouteResult(ctx, bare, 1)).p99)
      const eight = await measureListUsers(ctx, main, 8)
      const bareEight: number[] = []
      for (let run = 0; run < ctx.runs; run++) bareEight.push(await bareRoute(ctx, bare, 8))
      const p99 = median(one.p99)
      rows.push({
        id: 'list-latency',
        scenario: `GET /v1/users?q=<prefix>&limit=50, ${args.users.toLocaleString('en-US')} users, 1 connection`,
        baseline: '—',
        ours: figure(one.p99, 'ms p99'),
        base: null,
        ratio: p99,
        target: 'p99 ≤ 10 ms',
        met: p99 <= 10,
        notes: [`${Math.round(median(one.rps))} req/s`, `p50 ${median(one.p50)} ms`, `server CPU ${Math.round(median(one.cpu))} µs/request`, `control: the bare route's p99 at 1 connection ${median(bareOne)} ms`, `prefixes rotated: ${LIST_PREFIXES.join(', ')}`]
      })
      const value = ratio(median(eight.rps), median(bareEight))
      rows.push({
        id: 'list-throughput',
        scenario: `GET /v1/users?q=<prefix>&limit=50, ${args.users.toLocaleString('en-US')} users, 8 connections`,
        baseline: 'bare Fastify route, 8 connections',
        ours: figure(eight.rps, 'req/s'),
        base: figure(bareEight, 'req/s'),
        ratio: value,
        target: '≥ 0.10',
        met: value >= 0.10,
        notes: [`p50 ${median(eight.p50)} ms, p99 ${median(eight.p99)} ms`, '50 users per response']
      })
    }

    const writers = main.seed.firstIds.slice(0, WRITE_CONNECTIONS)
    if (want('roles')) {
      log(`POST+DELETE /v1/users/{id}/roles alternating, ${WRITE_CONNECTIONS} connections, ${ctx.seconds} s per run`)
      const r = await measureRoles(ctx, main.server.url, await main.adminToken(), writers, main.server.child.pid)
      const value = ratio(median(r.ours), median(r.base))
      rows.push({
        id: 'roles',
        scenario: `POST + DELETE /v1/users/{id}/roles alternating, ${WRITE_CONNECTIONS} connections, durable (FULL)`,
        baseline: 'raw SQLite one-row transactions, WAL, synchronous=FULL, same disk',
        ours: figure(r.ours, 'req/s'),
        base: figure(r.base, 'tx/s'),
        ratio: value,
        target: '≥ 1.0',
        met: value >= 1.0,
        notes: [`p99 ${median(r.p99)} ms`, `server CPU ${Math.round(median(r.cpu))} µs per request (command), all threads`, `commands per group commit (one fsync each): ${r.perCommit.length === 0 ? 'n/a' : r.perCommit.map(v => v.toFixed(1)).join(' / ')}`, 'each request appends one event and answers after the read model shows it']
      })
    }

    if (want('sse')) {
      log(`SSE: ${SUBSCRIBERS} subscribers, ${EVENTS_PER_SECOND} events/s appended through the API`)
      const r = await measureSse(ctx, main.server.url, await main.adminToken(), main.seed.firstIds.slice(WRITE_CONNECTIONS, WRITE_CONNECTIONS * 2))
      const p99 = median(r.p99)
      rows.push({
        id: 'sse',
        scenario: `SSE delivery, ${SUBSCRIBERS} subscribers, ${EVENTS_PER_SECOND} events/s appended`,
        baseline: '—',
        ours: figure(r.p99, 'ms p99'),
        base: null,
        ratio: p99,
        target: 'p99 ≤ 50 ms',
        met: p99 <= 50,
        notes: [`appended ${Math.round(median(r.rate))} events/s`, `p50 ${median(r.p50)} ms`, `receipts per run ${r.summaries.map(s => s.events).join(' / ')}`, 'append = the command\'s clock just before the append (CloudEvent time), receipt = the subscriber\'s clock']
      })
    }
    if (want('sse-flood')) {
      log(`SSE flood: /health/live with ${floodShape(ctx).catchUp} catch-up and ${floodShape(ctx).idle} idle streams open`)
      rows.push(await measureSseFlood(ctx, main))
    }
    if (want('refresh') && bare !== undefined) {
      log(`POST /oauth2/token grant_type=refresh_token, ${TOKEN_CONNECTIONS} connections, ${3 * TOKEN_CONNECTIONS} rotating sessions, ${ctx.seconds} s per run`)
      rows.push(await measureRefresh(ctx, main, bare))
    }
    if (want('client-credentials') && bare !== undefined) {
      log(`POST /oauth2/token grant_type=client_credentials, ${TOKEN_CONNECTIONS} connections, ${ctx.seconds} s per run`)
      rows.push(await measureClientCredentials(ctx, main, bare))
    }
    // Last on the main instance: it restarts the server on the same files, alternating with and
    // without the session check, and leaves it stopped.
    if (want('session-check') && bare !== undefined) {
      log(`GET /v1/users/{id} with and without the session check, ${READ_CONNECTIONS} connections, ${ctx.seconds} s per run, alternating`)
      rows.push(await measureSessionCheck(ctx, main, bare, READ_CONNECTIONS, args.env))
    }
    await bare?.stop()
    await main.stop()
  }

  if (want('rebuild')) {
    log(`idm projections rebuild of ${args.events.toLocaleString('en-US')} events`)
    const r = await measureRebuild(ctx, args.events)
    const value = ratio(median(r.ours), median(r.base))
    rows.push({
      id: 'rebuild',
      scenario: `idm projections rebuild of ${args.events.toLocaleString('en-US')} events`,
      baseline: 'raw SQLite inserts, 1,000-row transactions',
      ours: figure(r.ours, 'events/s'),
      base: figure(r.base, 'rows/s'),
      ratio: value,
      target: '≥ 0.60',
      met: value >= 0.60,
      notes: [`seeding the log: ${Math.round(r.seedRate).toLocaleString('en-US')} events/s`, `CLI wall time ${r.wall.map(w => w.toFixed(1)).join(' / ')} s (process start included)`, 'every event projected: per user UserRegistered, UserRoleAssigned, UserCompanyLinked, UserProfileUpdated, UserRoleRevoked']
    })
  }

  if (want('peer')) {
    log(`peer: better-auth, equal KDF cost (${costText(PEER_COST)})`)
    installPeer(log)
    const ours = await openInstance({ name: 'peer-cost', root, users: WRITE_CONNECTIONS, cost: PEER_COST, nodeArgs, env: args.env, log })
    cleanups.push(async () => await ours.stop())
    const peer = await startPeer(ctx)
    cleanups.push(async () => await peer.stop())
    const r = await measurePeer(ctx, ours, peer)
    const signIn = ratio(median(r.oursSignIn), median(r.theirsSignIn))
    const roles = ratio(median(r.oursRoles), median(r.theirsRoles))
    rows.push({
      id: 'peer-sign-in',
      scenario: `peer: sign-in, ${LOGIN_CONNECTIONS} connections, both at scrypt ${costText(PEER_COST)}`,
      baseline: 'better-auth sign-in/email',
      ours: figure(r.oursSignIn, 'logins/s'),
      base: figure(r.theirsSignIn, 'sign-ins/s'),
      ratio: signIn,
      target: 'ours ÷ theirs ≥ 1.0',
      met: signIn >= 1.0,
      notes: ['ours also appends an event per login; theirs writes a session row']
    })
    rows.push({
      id: 'peer-roles',
      scenario: `peer: admin role change, ${WRITE_CONNECTIONS} connections`,
      baseline: 'better-auth admin/set-role',
      ours: figure(r.oursRoles, 'req/s'),
      base: figure(r.theirsRoles, 'req/s'),
      ratio: roles,
      target: 'ours ÷ theirs ≥ 1.0',
      met: roles >= 1.0,
      notes: [`ours durable (FULL); theirs synchronous=${String(peer.info.synchronous)} (better-sqlite3's default in WAL: 1 = NORMAL)`]
    })
    await peer.stop()
    await ours.stop()
  }

  if (want('postgres')) {
    log('PostgreSQL event store (bench/scenarios/postgres.ts)')
    rows.push(...await measurePostgres(ctx, Math.min(args.events, 200_000)))
  }

  if (want('sse') && !rows.some(r => r.id === 'sse')) {
    rows.push({ id: 'sse', scenario: 'SSE delivery', baseline: '—', ours: null, base: null, ratio: null, target: 'p99 ≤ 50 ms', met: null, notes: ['not measured yet'] })
  }
} finally {
  for (const cleanup of cleanups.reverse()) await cleanup().catch(() => undefined)
  killChildren()
  if (!args.keep) rmSync(root, { recursive: true, force: true })
}

const report: Report = {
  mode: args.quick ? 'quick' : 'full',
  startedAt,
  finishedAt: new Date().toISOString(),
  machine,
  loadAverageAtEnd: loadavg().map(x => Math.round(x * 100) / 100),
  parameters: {
    runs: args.runs,
    'seconds per run': args.seconds,
    'logins (and raw hashes) per run': loginAmount(ctx),
    'users in the read model': args.users,
    'events rebuilt': args.events,
    'default KDF cost': costText(DEFAULT_COST),
    'peer KDF cost (both sides)': costText(PEER_COST),
    'server configuration': 'defaults (log level info, token TTL 900 s, FULL event store), except IDM_LOGIN_RATE_LIMIT and IDM_LOGIN_RATE_LIMIT_PER_USERNAME = 100000 (one load-generator address, few usernames) and IDM_SCRYPT_* where a line says so',
    'load generator': 'autocannon 9 in the bench process; servers and baselines in processes of their own',
    ...(Object.keys(args.env).length === 0 ? {} : { 'extra server environment (experiment)': args.env }),
    'warm-up': 'each load run is preceded by an uncounted autocannon run of 1–2 s'
  },
  rows
}

process.stdout.write(`\n${table(rows)}\n`)
const results = benchFile('results')
writeReport(report, {
  // Only a full run replaces latest.json, which --render turns into BENCHMARKS.md.
  json: join(results, args.quick ? 'latest-quick.json' : args.only !== null ? 'latest-partial.json' : 'latest.json'),
  ...(args.quick || args.only !== null ? {} : { markdown: join(benchFile('..'), 'BENCHMARKS.md') }),
  analysis: benchFile('analysis.md')
})
const missed = rows.filter(r => r.met === false).map(r => r.id)
if (missed.length > 0) log(`targets not met: ${missed.join(', ')}`)
