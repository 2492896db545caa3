/**
 * The PostgreSQL event store (issue 16), each line beside a baseline on the same server in the
 * same run, in a database of its own that is dropped afterwards:
 *
 *  - appends/s through the adapter (one writer awaiting each append; 64 writers, each on its own
 *    stream, where group commit shares a commit) against raw single-row INSERT transactions
 *    (autocommit, same synchronous_commit) on 1 and 16 connections;
 *  - role changes over HTTP (POST + DELETE /v1/users/{id}/roles alternating, 64 connections) on
 *    one node, then spread over three nodes on the same database: the scaling factor;
 *  - `idm projections rebuild` reading a log from PostgreSQL, against the same rebuild of the same
 *    log from SQLite (the log gets there by `idm events export` → `idm events import`, also timed).
 *
 * The server: IDM_BENCH_POSTGRES_URL, else IDM_TEST_POSTGRES_URL, else the local socket. Without
 * one the lines say why and the run goes on.
 */
import { spawn } from 'node:child_process'
import { randomUUID } from 'node:crypto'
import { mkdirSync } from 'node:fs'
import { join } from 'node:path'
import pg from 'pg'
import type { EventToAppend } from '../../src/eventstore/port.js'
import { openPostgresEventStore } from '../../src/eventstore/postgres.js'
import { createDatabase, findPostgres, type PostgresServer } from '../../test/helpers/postgres.js'
import { expectOk, login } from '../lib/api.js'
import type { BenchContext } from '../lib/context.js'
import { ADMIN_PASSWORD, serverEnv } from '../lib/instance.js'
import { ROOT, startIdm, tracked, type Running } from '../lib/processes.js'
import type { Row } from '../lib/report.js'
import { seedTraffic } from '../lib/seed.js'
import { median, ratio } from '../lib/stats.js'
import { cliRebuild } from './rebuild.js'
import { rolesLoad, WRITE_CONNECTIONS } from './writes.js'

const CONCURRENT_WRITERS = 64
const RAW_CONNECTIONS = 16

const anEvent = (n: number): EventToAppend => ({
  id: randomUUID(),
  type: 'BenchAppended',
  data: { n, userId: randomUUID(), username: `user-${n}`, email: `user-${n}@example.org` },
  metadata: { actorId: randomUUID(), correlationId: randomUUID(), occurredAt: new Date().toISOString() }
})

async function setting (url: string, name: string): Promise<string> {
  const client = new pg.Client({ connectionString: url })
  await client.connect()
  try {
    return (await client.query<{ setting: string }>('SELECT setting FROM pg_settings WHERE name = $1', [name])).rows[0]?.setting ?? '?'
  } finally {
    await client.end()
  }
}

const figure = (runs: number[], unit: string) => ({ value: median(runs), unit, runs })

async function withServer (): Promise<PostgresServer | string> {
  const url = process.env.IDM_BENCH_POSTGRES_URL?.trim()
  if (url !== undefined && url !== '') process.env.IDM_TEST_POSTGRES_URL = url
  return await findPostgres()
}

/** `writers` loops appending to their own streams for `seconds`; appends/s. */
async function adapterAppends (url: string, writers: number, seconds: number): Promise<{ rate: number, perCommit: number }> {
  const store = openPostgresEventStore({ connectionString: url })
  await store.headPosition()
  const before = store.stats()
  const until = performance.now() + seconds * 1000
  const started = performance.now()
  let count = 0
  await Promise.all(Array.from({ length: writers }, async () => {
    const stream = `bench-${randomUUID()}`
    for (let n = 0; performance.now() < until; n++) {
      await store.append(stream, [anEvent(n)], { expectedRevision: n === 0 ? 'no_stream' : n - 1 })
      count++
    }
  }))
  const rate = count / ((performance.now() - started) / 1000)
  const after = store.stats()
  await store.close()
  return { rate, perCommit: (after.appends - before.appends) / Math.max(1, after.transactions - before.transactions) }
}

/** Raw autocommit single-row INSERTs of the same payload from `connections` clients; tx/s. */
async function rawInserts (url: string, connections: number, seconds: number): Promise<number> {
  const setup = new pg.Client({ connectionString: url })
  await setup.connect()
  await setup.query('CREATE TABLE IF NOT EXISTS bench_raw (id uuid PRIMARY KEY, data text NOT NULL, metadata text NOT NULL)')
  await setup.end()
  const until = performance.now() + seconds * 1000
  const started = performance.now()
  let count = 0
  await Promise.all(Array.from({ length: connections }, async () => {
    const client = new pg.Client({ connectionString: url })
    await client.connect()
    try {
      for (let n = 0; performance.now() < until; n++) {
        const event = anEvent(n)
        await client.query('INSERT INTO bench_raw (id, data, metadata) VALUES ($1, $2, $3)', [event.id, JSON.stringify(event.data), JSON.stringify(event.metadata)])
        count++
      }
    } finally {
      await client.end()
    }
  }))
  return count / ((performance.now() - started) / 1000)
}

async function startNodes (ctx: BenchContext, url: string, count: number): Promise<Running[]> {
  const env = { ...serverEnv({ logN: 10, r: 8, p: 1 }), IDM_EVENTSTORE: url, IDM_SIGNING_KEY_FILE: join(ctx.root, 'pg-signing-key.pem'), IDM_LOG_LEVEL: 'warn' }
  const nodes: Running[] = []
  for (let i = 0; i < count; i++) {
    const dataDir = join(ctx.root, `pg-node-${count}-${i}`)
    mkdirSync(dataDir, { recursive: true })
    nodes.push(await startIdm({ dataDir, logFile: `${dataDir}.log`, env }))
  }
  return nodes
}

/** Role changes on 1 node with 64 connections, then on 3 nodes with 64 / 3 connections each. */
async function httpRoles (ctx: BenchContext, server: PostgresServer): Promise<{ one: number[], three: number[], p99One: number[], p99Three: number[] }> {
  const db = await createDatabase(server, 'idm_bench')
  const result = { one: [] as number[], three: [] as number[], p99One: [] as number[], p99Three: [] as number[] }
  let nodes: Running[] = []
  try {
    nodes = await startNodes(ctx, db.url, 3)
    const token = await login(nodes[0]!.url, 'admin', ADMIN_PASSWORD)
    const users: string[] = []
    for (let i = 0; i < WRITE_CONNECTIONS; i++) {
      const user = await expectOk(nodes[0]!.url, token, 'POST', '/v1/users', {
        username: `pgbench${i}`, email: `pgbench${i}@example.org`, firstName: 'Bench', lastName: `User${i}`,
        identificationType: 'CC', identificationNumber: `PG${i}`, password: 'correct horse battery staple, bench'
      }) as { id: string }
      users.push(user.id)
    }
    const per = Math.floor(WRITE_CONNECTIONS / nodes.length)
    for (let run = 0; run < ctx.runs; run++) {
      const single = await rolesLoad(nodes[0]!.url, token, users, ctx.seconds, { pid: nodes[0]!.child.pid })
      const spread = await Promise.all(nodes.map(async (node, i) =>
        await rolesLoad(node.url, token, users.slice(i * per, (i + 1) * per), ctx.seconds, { connections: per, ...(node.child.pid === undefined ? {} : { pid: node.child.pid }) })))
      result.one.push(single.rps)
      result.p99One.push(single.p99)
      result.three.push(spread.reduce((sum, r) => sum + r.rps, 0))
      result.p99Three.push(Math.max(...spread.map((r) => r.p99)))
      ctx.log(`    run ${run + 1}: 1 node ${Math.round(single.rps)} req/s, 3 nodes ${Math.round(result.three.at(-1)!)} req/s`)
    }
  } finally {
    for (const node of nodes) await node.stop().catch(() => undefined)
    await db.drop()
  }
  return result
}

async function cli (args: readonly string[], env: NodeJS.ProcessEnv): Promise<{ out: string, seconds: number }> {
  const started = performance.now()
  const child = tracked(spawn(process.execPath, ['dist/cli.js', ...args], { cwd: ROOT, env: { ...process.env, ...env }, stdio: ['ignore', 'pipe', 'pipe'] }))
  let out = ''
  let err = ''
  child.stdout.setEncoding('utf8').on('data', (c: string) => { out += c })
  child.stderr.setEncoding('utf8').on('data', (c: string) => { err += c })
  const code = await new Promise<number | null>((resolve) => child.once('exit', resolve))
  if (code !== 0) throw new Error(`idm ${args.join(' ')} failed (${String(code)}): ${out}${err}`)
  return { out, seconds: (performance.now() - started) / 1000 }
}

/** Rebuilds from PostgreSQL and from SQLite of one log; import rate on the way. */
async function rebuilds (ctx: BenchContext, server: PostgresServer, events: number): Promise<{ pg: number[], sqlite: number[], importRate: number, events: number }> {
  const sqliteDir = join(ctx.root, 'pg-rebuild-sqlite')
  const pgDir = join(ctx.root, 'pg-rebuild-pg')
  mkdirSync(sqliteDir, { recursive: true })
  mkdirSync(pgDir, { recursive: true })
  const seeded = await seedTraffic(sqliteDir, events)
  const db = await createDatabase(server, 'idm_bench')
  try {
    const file = join(ctx.root, 'pg-rebuild.ndjson')
    await cli(['events', 'export', '--output', file], { IDM_DATA_DIR: sqliteDir, IDM_EVENTSTORE: 'sqlite' })
    const imported = await cli(['events', 'import', '--input', file], { IDM_DATA_DIR: pgDir, IDM_EVENTSTORE: db.url })
    const pgRates: number[] = []
    const sqliteRates: number[] = []
    for (let run = 0; run < ctx.runs; run++) {
      const fromSqlite = await cliRebuild(sqliteDir)
      const fromPg = await cliRebuild(pgDir, [], { IDM_EVENTSTORE: db.url })
      sqliteRates.push(fromSqlite.events / fromSqlite.seconds)
      pgRates.push(fromPg.events / fromPg.seconds)
      ctx.log(`    run ${run + 1}: rebuild from SQLite ${Math.round(sqliteRates.at(-1)!)} events/s, from PostgreSQL ${Math.round(pgRates.at(-1)!)} events/s`)
    }
    return { pg: pgRates, sqlite: sqliteRates, importRate: seeded.events / imported.seconds, events: seeded.events }
  } finally {
    await db.drop()
  }
}

export async function measurePostgres (ctx: BenchContext, events: number): Promise<Row[]> {
  const server = await withServer()
  if (typeof server === 'string') {
    ctx.log(`  PostgreSQL lines not measured: ${server}`)
    return [{ id: 'pg-appends', scenario: 'PostgreSQL event store', baseline: '—', ours: null, base: null, ratio: null, target: 'report', met: null, notes: [`not measured: ${server}`] }]
  }
  const seconds = Math.min(5, ctx.seconds)
  const sequential = { ours: [] as number[], base: [] as number[] }
  const concurrent = { ours: [] as number[], base: [] as number[], perCommit: [] as number[] }
  const db = await createDatabase(server, 'idm_bench')
  try {
    for (let run = 0; run < ctx.runs; run++) {
      sequential.base.push(await rawInserts(db.url, 1, seconds))
      sequential.ours.push((await adapterAppends(db.url, 1, seconds)).rate)
      concurrent.base.push(await rawInserts(db.url, RAW_CONNECTIONS, seconds))
      const many = await adapterAppends(db.url, CONCURRENT_WRITERS, seconds)
      concurrent.ours.push(many.rate)
      concurrent.perCommit.push(many.perCommit)
      ctx.log(`    run ${run + 1}: 1 writer ${Math.round(sequential.ours.at(-1)!)} appends/s vs raw ${Math.round(sequential.base.at(-1)!)} tx/s; ${CONCURRENT_WRITERS} writers ${Math.round(many.rate)} appends/s vs raw ${RAW_CONNECTIONS} connections ${Math.round(concurrent.base.at(-1)!)} tx/s`)
    }
  } finally {
    await db.drop()
  }
  const durability = `synchronous_commit=${await setting(server.adminUrl, 'synchronous_commit')}, fsync=${await setting(server.adminUrl, 'fsync')}, both sides`

  ctx.log(`  role changes over HTTP on PostgreSQL, 1 and 3 nodes, ${WRITE_CONNECTIONS} connections`)
  const roles = await httpRoles(ctx, server)
  ctx.log(`  idm projections rebuild from PostgreSQL vs SQLite, ${events.toLocaleString('en-US')} events`)
  const rebuilt = await rebuilds(ctx, server, events)

  return [
    {
      id: 'pg-append-1',
      scenario: 'PostgreSQL event store: 1 writer, each append awaited',
      baseline: 'raw single-row INSERT transactions, 1 connection, same server',
      ours: figure(sequential.ours, 'appends/s'),
      base: figure(sequential.base, 'tx/s'),
      ratio: ratio(median(sequential.ours), median(sequential.base)),
      target: 'report',
      met: null,
      notes: [durability, 'each append: validation, the idm_append_v1 call (checks and insert inside the critical section), commit, then a NOTIFY outside the transaction']
    },
    {
      id: 'pg-append-64',
      scenario: `PostgreSQL event store: ${CONCURRENT_WRITERS} writers on their own streams, group commit`,
      baseline: `raw single-row INSERT transactions, ${RAW_CONNECTIONS} connections, same server`,
      ours: figure(concurrent.ours, 'appends/s'),
      base: figure(concurrent.base, 'tx/s'),
      ratio: ratio(median(concurrent.ours), median(concurrent.base)),
      target: 'report',
      met: null,
      notes: [durability, `${median(concurrent.perCommit).toFixed(1)} appends per commit (median)`, 'one process, one group commit in flight at a time']
    },
    {
      id: 'pg-roles',
      scenario: `PostgreSQL: POST + DELETE /v1/users/{id}/roles, ${WRITE_CONNECTIONS} connections, 3 nodes vs 1`,
      baseline: 'the same on 1 node',
      ours: figure(roles.three, 'req/s'),
      base: figure(roles.one, 'req/s'),
      ratio: ratio(median(roles.three), median(roles.one)),
      target: 'report',
      met: null,
      notes: [`p99 1 node ${median(roles.p99One)} ms, 3 nodes ${median(roles.p99Three)} ms`, 'all nodes and PostgreSQL share this machine\'s cores: the factor says what a second and third node cost or buy here, not on separate machines']
    },
    {
      id: 'pg-rebuild',
      scenario: `idm projections rebuild of ${rebuilt.events.toLocaleString('en-US')} events from PostgreSQL`,
      baseline: 'the same rebuild of the same log from SQLite',
      ours: figure(rebuilt.pg, 'events/s'),
      base: figure(rebuilt.sqlite, 'events/s'),
      ratio: ratio(median(rebuilt.pg), median(rebuilt.sqlite)),
      target: 'report',
      met: null,
      notes: [`idm events import into PostgreSQL: ${Math.round(rebuilt.importRate).toLocaleString('en-US')} events/s (process start included)`]
    }
  ]
}
