import { spawn } from 'node:child_process'
import { join } from 'node:path'
import { fileURLToPath } from 'node:url'
import t from 'tap'
import { streams } from '../../src/domain/events.js'
import { ProjectionError } from '../../src/projections/apply.js'
import { defaultProjections } from '../../src/projections/default-projections.js'
import type { Projection } from '../../src/projections/projection.js'
import { createProjectionRunner, ReadModelNeedsRebuildError, type AppliedBatch } from '../../src/projections/runner.js'
import { openReadModel, SCHEMA_VERSION } from '../../src/projections/schema.js'
import { EventWriter, harness, openStore, tempDir } from './fixtures/harness.js'
import { createLedgerTables, ledgerProjection, ledgerState } from './fixtures/ledger.js'

const CHILD = fileURLToPath(new URL('./fixtures/runner-child.ts', import.meta.url))

/** `users` users with three password changes each, then `padding` events the default projections skip. */
async function backlog (w: EventWriter, users: number, padding: number, prefix = 'user'): Promise<string[]> {
  const ids: string[] = []
  for (let i = 0; i < users; i++) {
    const id = await w.register({ username: `${prefix}${String(i).padStart(5, '0')}` })
    await w.appendMany(streams.user(id), [1, 2, 3].map(n => ({ type: 'UserPasswordChanged', data: { userId: id, passwordHash: `h${n}` } })))
    ids.push(id)
  }
  for (let done = 0; done < padding; done += 500) {
    const n = Math.min(500, padding - done)
    await w.appendMany(streams.adminSeats, Array.from({ length: n }, () => ({ type: 'AdminSeatClaimed', data: { userId: ids[0] ?? '01920a3b-4c5d-7e6f-8a9b-0c1d2e3f4a5b' } })))
  }
  return ids
}

const credentialVersions = (db: import('better-sqlite3').Database): number[] =>
  (db.prepare('SELECT credential_version AS v FROM users ORDER BY username').all() as Array<{ v: number }>).map(r => r.v)

const count = (db: import('better-sqlite3').Database, table: string): number =>
  (db.prepare(`SELECT count(*) AS n FROM ${table}`).get() as { n: number }).n

t.test('catches up a backlog in batches and resolves start once at the head', async t => {
  const dir = tempDir(t)
  const store = openStore(t, join(dir, 'events.db'))
  await backlog(new EventWriter(store), 10, 2460)
  const head = await store.headPosition()
  t.equal(head, 2500)
  const readModel = openReadModel(join(dir, 'read.db'))
  t.teardown(() => readModel.close())
  const runner = createProjectionRunner({ store, readModel })
  t.teardown(async () => await runner.stop())
  const batches: AppliedBatch[] = []
  const off = runner.on('batch', b => batches.push(b))
  t.equal(runner.state, 'idle')
  t.equal(runner.caughtUp, false)
  await runner.start()
  t.equal(runner.position, head)
  t.equal(runner.caughtUp, true)
  t.equal(runner.state, 'running')
  t.strictSame(batches.map(b => [b.from, b.to, b.events]), [[1, 1000, 1000], [1001, 2000, 1000], [2001, 2500, 500]])
  t.ok(batches.every(b => b.durationMs >= 0))
  t.equal(count(readModel.db, 'users'), 10)
  t.strictSame(credentialVersions(readModel.db), Array(10).fill(3))
  off()
  await new EventWriter(store).append(streams.adminSeats, 'AdminSeatReleased', { userId: '01920a3b-4c5d-7e6f-8a9b-0c1d2e3f4a5b' })
  t.equal(await runner.waitFor(head + 1, 5000), true)
  t.equal(batches.length, 3, 'an unsubscribed listener hears nothing')
  await t.rejects(runner.start(), /running/, 'start twice')
})

t.test('start on an empty store resolves at once', async t => {
  const h = await harness(t)
  t.equal(h.runner.position, 0)
  t.equal(h.runner.caughtUp, true)
})

t.test('waitFor', async t => {
  const h = await harness(t)
  const w = h.writer
  t.equal(await h.runner.waitFor(0, 0), true, 'a position already applied answers at once')
  const pending = h.runner.waitFor(2, 5000)
  const started = Date.now()
  await w.register({ username: 'first' })
  await w.register({ username: 'second' })
  t.equal(await pending, true, 'resolves from the apply path once the position is applied')
  t.ok(Date.now() - started < 2000)
  t.equal(await h.runner.waitFor(1, 0), true)
  const t0 = Date.now()
  t.equal(await h.runner.waitFor(1000, 50), false, 'false on timeout')
  t.ok(Date.now() - t0 >= 45)

  const never = h.runner.waitFor(1000, 60_000)
  await h.runner.stop()
  t.equal(await never, false, 'stop answers pending waits with false')
  t.equal(await h.runner.waitFor(1000, 60_000), false, 'and later ones at once')
  t.equal(await h.runner.waitFor(2, 0), true, 'what was applied stays applied')
  t.equal(h.runner.state, 'stopped')
  await h.runner.stop()
})

t.test('the checkpoint commits with the rows: stop, reopen, continue, nothing applied twice', async t => {
  const dir = tempDir(t)
  const store = openStore(t, join(dir, 'events.db'))
  const w = new EventWriter(store)
  const path = join(dir, 'read.db')
  const projections = [...defaultProjections, ledgerProjection]

  const first = openReadModel(path)
  createLedgerTables(first.db)
  const runner1 = createProjectionRunner({ store, readModel: first, projections, batchSize: 64 })
  await runner1.start()
  await backlog(w, 20, 300)
  t.ok(await runner1.waitFor(await store.headPosition(), 10_000))
  await runner1.stop()
  const stoppedAt = runner1.position
  first.close()

  const ids = await backlog(w, 5, 123, 'later')
  await w.appendMany(streams.user(ids[0] as string), [{ type: 'UserPasswordReset', data: { userId: ids[0], passwordHash: 'r' } }])
  const head = await store.headPosition()

  const second = openReadModel(path)
  t.teardown(() => second.close())
  t.equal(second.needsRebuild, false)
  const runner2 = createProjectionRunner({ store, readModel: second, projections, batchSize: 64 })
  t.teardown(async () => await runner2.stop())
  const batches: AppliedBatch[] = []
  runner2.on('batch', b => batches.push(b))
  await runner2.start()
  t.equal(batches[0]?.from, stoppedAt + 1, 'resumes right after the stored checkpoint')
  t.equal(runner2.position, head)
  t.strictSame(ledgerState(second.db), { rows: head, tally: head, min: 1, max: head }, 'every event exactly once')
  t.strictSame(credentialVersions(second.db), [4, ...Array(24).fill(3)], 'counters are exact (the reset user sorts first)')
  t.strictSame(second.db.prepare('SELECT DISTINCT position FROM checkpoints').all(), [{ position: head }])
})

t.test('a failing projection stops the runner; its batch is not applied; a fixed runner continues', async t => {
  const dir = tempDir(t)
  const store = openStore(t, join(dir, 'events.db'))
  await backlog(new EventWriter(store), 30, 500)
  const head = await store.headPosition()
  const path = join(dir, 'read.db')
  const readModel = openReadModel(path)
  createLedgerTables(readModel.db)

  const FAIL_AT = 150
  const flaky: Projection = {
    name: 'flaky',
    handles: ['AdminSeatClaimed', 'UserRegistered', 'UserPasswordChanged'],
    project: (event) => {
      if (event.position === FAIL_AT) throw new Error('boom')
      return []
    }
  }
  const logged: unknown[] = []
  const heard: Error[] = []
  const runner = createProjectionRunner({
    store, readModel, projections: [...defaultProjections, ledgerProjection, flaky], batchSize: 100, logger: { error: (obj) => logged.push(obj) }
  })
  runner.on('error', e => heard.push(e))
  const error = await runner.start().then(() => null, (e: unknown) => e)
  t.type(error, ProjectionError, 'start rejects with the failure')
  t.match(error, { code: 'PROJECTION_FAILED', projection: 'flaky', position: FAIL_AT, eventType: String })
  t.match((error as Error).cause, { message: 'boom' })
  t.equal(runner.state, 'failed')
  t.equal(runner.lastError, error)
  t.equal(heard[0], error, 'listeners hear it')
  t.match(logged, [{ err: error }], 'the logger gets it')
  t.equal(runner.position, 100, 'stopped after the last committed batch')
  t.strictSame(ledgerState(readModel.db), { rows: 100, tally: 100, min: 1, max: 100 }, 'nothing of the failed batch was written')
  t.strictSame(readModel.db.prepare('SELECT DISTINCT position FROM checkpoints').all(), [{ position: 100 }])
  t.equal(await runner.waitFor(head, 60_000), false, 'a stuck runner answers waits at once')
  await runner.stop()
  t.equal(runner.state, 'failed', 'stop keeps the failure visible')

  const fixed = createProjectionRunner({ store, readModel, projections: [...defaultProjections, ledgerProjection], batchSize: 100 })
  t.teardown(async () => { await fixed.stop(); readModel.close() })
  await fixed.start()
  t.strictSame(ledgerState(readModel.db), { rows: head, tally: head, min: 1, max: head })
  t.strictSame(credentialVersions(readModel.db), Array(30).fill(3))
})

t.test('a projection whose SQL fails surfaces the SQLite error', async t => {
  const broken: Projection = { name: 'broken', handles: ['UserRegistered'], project: () => [{ sql: 'INSERT INTO missing_table VALUES (1)', params: [] }] }
  const h = await harness(t, { projections: [...defaultProjections, broken], logger: { error: () => {} } })
  await h.writer.register({ username: 'someone' })
  t.equal(await h.runner.waitFor(1, 5000), false)
  t.match(h.runner.lastError, { code: 'PROJECTION_FAILED', projection: 'broken', message: /missing_table/ })
  t.equal(Number((h.readModel.db.prepare('SELECT count(*) AS n FROM users').get() as { n: number }).n), 0)
})

t.test('a projection added later replays alone from zero', async t => {
  const dir = tempDir(t)
  const store = openStore(t, join(dir, 'events.db'))
  await backlog(new EventWriter(store), 3, 10)
  const readModel = openReadModel(join(dir, 'read.db'))
  t.teardown(() => readModel.close())
  const r1 = createProjectionRunner({ store, readModel })
  await r1.start()
  await r1.stop()
  createLedgerTables(readModel.db)
  const r2 = createProjectionRunner({ store, readModel, projections: [...defaultProjections, ledgerProjection] })
  await r2.start()
  await r2.stop()
  const head = await store.headPosition()
  t.strictSame(ledgerState(readModel.db), { rows: head, tally: head, min: 1, max: head })
  t.strictSame(credentialVersions(readModel.db), [3, 3, 3], 'the others did not apply anything twice')
})

t.test('refuses a read model of another schema version', async t => {
  const dir = tempDir(t)
  const store = openStore(t, join(dir, 'events.db'))
  const path = join(dir, 'read.db')
  const rm = openReadModel(path)
  t.equal(rm.storedSchemaVersion, 0)
  rm.db.pragma(`user_version = ${SCHEMA_VERSION + 1}`)
  rm.close()
  const stale = openReadModel(path)
  t.teardown(() => stale.close())
  t.equal(stale.needsRebuild, true)
  t.equal(stale.storedSchemaVersion, SCHEMA_VERSION + 1)
  const runner = createProjectionRunner({ store, readModel: stale })
  await t.rejects(runner.start(), ReadModelNeedsRebuildError)
  t.equal(stale.db.pragma('user_version', { simple: true }), SCHEMA_VERSION + 1, 'left untouched')
  t.equal(stale.db.pragma('journal_mode', { simple: true }), 'wal')
  t.equal(stale.db.pragma('synchronous', { simple: true }), 1, 'NORMAL')
})

t.test('duplicate projection names are refused', async t => {
  const h = await harness(t)
  const runner = createProjectionRunner({ store: h.store, readModel: h.readModel, projections: [ledgerProjection, ledgerProjection] })
  await t.rejects(runner.start(), /two projections are named ledger/)
})

t.test('the store closing underneath stops the runner', async t => {
  const dir = tempDir(t)
  const store = openStore(t, join(dir, 'events.db'))
  const readModel = openReadModel(join(dir, 'read.db'))
  t.teardown(() => readModel.close())
  const runner = createProjectionRunner({ store, readModel })
  await runner.start()
  const pending = runner.waitFor(5, 60_000)
  await store.close()
  t.equal(await pending, false)
  t.equal(runner.state, 'stopped')
  await runner.stop()
})

t.test('a process killed mid-catch-up loses nothing and doubles nothing', async t => {
  const dir = tempDir(t)
  const storePath = join(dir, 'events.db')
  const readPath = join(dir, 'read.db')
  const store = openStore(t, storePath)
  await backlog(new EventWriter(store), 40, 6000)
  const head = await store.headPosition()

  const child = spawn(process.execPath, [...process.execArgv, CHILD, storePath, readPath, '20'], { stdio: ['ignore', 'pipe', 'inherit'] })
  const exited = new Promise<string | number | null>(resolve => child.on('exit', (code, signal) => resolve(signal ?? code)))
  let printed = ''
  await new Promise<void>((resolve, reject) => {
    child.stdout.setEncoding('utf8').on('data', (chunk: string) => {
      printed += chunk
      // Kill it once it is well into the backlog.
      if (printed.split('\n').length > 30) resolve()
    })
    child.on('exit', () => reject(new Error(`child exited early: ${printed.slice(-200)}`)))
  })
  child.kill('SIGKILL')
  t.equal(await exited, 'SIGKILL')
  const reported = printed.split('\n').filter(l => /^\d+$/.test(l)).map(Number)
  const lastReported = reported.at(-1) as number
  t.ok(lastReported < head, `killed mid-way (${lastReported} of ${head})`)

  const readModel = openReadModel(readPath)
  t.teardown(() => readModel.close())
  const { position: checkpoint } = readModel.db.prepare("SELECT position FROM checkpoints WHERE projection = 'ledger'").get() as { position: number }
  t.ok(checkpoint >= lastReported, 'every reported batch was committed')
  t.strictSame(ledgerState(readModel.db), { rows: checkpoint, tally: checkpoint, min: 1, max: checkpoint }, 'the rows match the checkpoint exactly')

  const runner = createProjectionRunner({ store, readModel, projections: [...defaultProjections, ledgerProjection] })
  t.teardown(async () => await runner.stop())
  await runner.start()
  t.equal(runner.state, 'running')
  t.strictSame(ledgerState(readModel.db), { rows: head, tally: head, min: 1, max: head })
  t.strictSame(credentialVersions(readModel.db), Array(40).fill(3))
})

t.test('a throwing listener is logged and does not stop the runner', async t => {
  const logged: unknown[] = []
  const h = await harness(t, { logger: { error: (obj) => logged.push(obj) } })
  h.runner.on('batch', () => { throw new Error('metrics bug') })
  await h.writer.register({ username: 'one' })
  await h.sync()
  await h.writer.register({ username: 'two' })
  await h.sync()
  t.equal(h.runner.state, 'running')
  t.equal(h.runner.position, 2)
  t.match(logged, [{ err: { message: 'metrics bug' } }, { err: { message: 'metrics bug' } }])
})

t.test('waitFor with a timeout beyond the timer range waits instead of firing at once', async t => {
  const h = await harness(t)
  const pending = h.runner.waitFor(1, 2 ** 40)
  await h.writer.register({ username: 'late' })
  t.equal(await pending, true)
})
