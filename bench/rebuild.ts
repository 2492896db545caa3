/**
 * Read-model rebuild on a large log, beside raw SQLite inserts on the same disk in the same run,
 * and the cost of loading one user aggregate of 50 events.
 *
 *   TS_NODE_TRANSPILE_ONLY=1 node --import @tapjs/typescript/import bench/rebuild.ts [events]
 *
 * The log is realistic identity traffic written through the real event store API with the real
 * command metadata: per user one UserRegistered, then role assignments/revocations, a company
 * link and profile updates (5 events per user by default). Baseline: raw better-sqlite3 inserts
 * of one-row-per-event into a table with a primary key, 1,000 rows per transaction.
 */
import { mkdtempSync, rmSync } from 'node:fs'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import Database from 'better-sqlite3'
import { v7 as uuidv7 } from 'uuid'
import { foldRecorded, stamp } from '../src/commands/handler.js'
import { streams, type DomainEvent } from '../src/domain/events.js'
import { userDecider } from '../src/domain/user.js'
import { openSqliteEventStore } from '../src/eventstore/sqlite.js'
import { rebuildReadModel } from '../src/projections/rebuild.js'

const TOTAL = Number(process.argv[2] ?? 1_000_000)
const PER_USER = 5
const RUNS = 3
const median = (xs: number[]) => [...xs].sort((a, b) => a - b)[Math.floor(xs.length / 2)]!

const ctx = { actor: { id: null, username: 'bench' }, correlationId: 'bench', commandId: uuidv7() }
const deps = { clock: () => new Date(), newId: uuidv7 }

function userEvents (i: number, userId: string): DomainEvent[] {
  const profile = { email: `user${i}@example.com`, firstName: `First${i % 997}`, lastName: `Last${i % 1009}`, identificationType: 'CC', identificationNumber: `${1_000_000 + i}`, phone: null }
  return [
    { type: 'UserRegistered', data: { userId, username: `user${i}`, ...profile, passwordHash: 'x'.repeat(128), roles: ['dispatcher'], companies: [], providers: [] } },
    { type: 'UserRoleAssigned', data: { userId, roleId: 'identity-auditor' } },
    { type: 'UserCompanyLinked', data: { userId, companyId: `company-${i % 50}` } },
    { type: 'UserProfileUpdated', data: { userId, ...profile, phone: '+573001234567' } },
    { type: 'UserRoleRevoked', data: { userId, roleId: 'dispatcher' } }
  ]
}

async function seed (dir: string): Promise<number> {
  const store = openSqliteEventStore({ path: join(dir, 'events.db'), synchronous: 'NORMAL' })
  const users = Math.ceil(TOTAL / PER_USER)
  const started = performance.now()
  for (let base = 0; base < users; base += 256) {
    const batch = []
    for (let i = base; i < Math.min(users, base + 256); i++) {
      const userId = uuidv7()
      const stream = streams.user(userId)
      batch.push(store.append(stream, stamp(deps, stream, userEvents(i, userId), ctx, undefined, 'per-revision'), { expectedRevision: 'no_stream' }))
    }
    await Promise.all(batch)
  }
  const seconds = (performance.now() - started) / 1000
  await store.close()
  return (users * PER_USER) / seconds
}

function rawInserts (dir: string, rows: number): number {
  const db = new Database(join(dir, `raw-${Math.random()}.db`))
  db.pragma('journal_mode = WAL')
  db.pragma('synchronous = NORMAL')
  db.exec('CREATE TABLE t (id TEXT PRIMARY KEY, a TEXT, b TEXT, c INTEGER)')
  const insert = db.prepare('INSERT INTO t VALUES (?, ?, ?, ?)')
  const tx = db.transaction((from: number) => { for (let i = from; i < from + 1000; i++) insert.run(`id-${i}`, `user${i}@example.com`, `Name ${i}`, i) })
  const started = performance.now()
  for (let from = 0; from < rows; from += 1000) tx(from)
  const rate = rows / ((performance.now() - started) / 1000)
  db.close()
  return rate
}

async function loadAggregate (dir: string): Promise<number> {
  const store = openSqliteEventStore({ path: join(dir, 'agg.db') })
  const userId = uuidv7()
  const stream = streams.user(userId)
  const events: DomainEvent[] = [userEvents(0, userId)[0]!]
  for (let i = 1; i < 50; i++) events.push({ type: i % 2 === 1 ? 'UserRoleAssigned' : 'UserRoleRevoked', data: { userId, roleId: 'r1' } })
  await store.append(stream, stamp(deps, stream, events, ctx, undefined, 'per-revision'), { expectedRevision: 'no_stream' })
  const loads = 5000
  const started = performance.now()
  for (let i = 0; i < loads; i++) foldRecorded(userDecider, await store.readStream(stream))
  const micros = ((performance.now() - started) * 1000) / loads
  await store.close()
  return micros
}

const dir = mkdtempSync(join(tmpdir(), 'idm-bench-rebuild-'))
try {
  process.stdout.write(`seeding ${TOTAL} events through the event store…\n`)
  const seedRate = await seed(dir)
  const rebuild: number[] = []
  const raw: number[] = []
  for (let run = 0; run < RUNS; run++) {
    raw.push(rawInserts(dir, TOTAL))
    const started = performance.now()
    const { events } = await rebuildReadModel({ store: openSqliteEventStore({ path: join(dir, 'events.db') }), path: join(dir, `read-${run}.db`) })
    rebuild.push(events / ((performance.now() - started) / 1000))
  }
  const aggregate = [await loadAggregate(dir), await loadAggregate(dir), await loadAggregate(dir)]
  const r = median(rebuild)
  const b = median(raw)
  console.log(`seed through the event store (64-way group commit, NORMAL): ${Math.round(seedRate)} events/s`)
  console.log(`rebuild of ${TOTAL} events: median ${Math.round(r)} events/s (runs ${rebuild.map(Math.round).join(' / ')})`)
  console.log(`raw SQLite inserts, 1,000-row transactions: median ${Math.round(b)} rows/s (runs ${raw.map(Math.round).join(' / ')})`)
  console.log(`ratio rebuild / raw: ${(r / b).toFixed(2)}`)
  console.log(`load a 50-event user aggregate (read + fold): median ${median(aggregate).toFixed(0)} µs`)
} finally {
  rmSync(dir, { recursive: true, force: true })
}
