import { existsSync, readdirSync, writeFileSync } from 'node:fs'
import { join } from 'node:path'
import t from 'tap'
import { streams } from '../../src/domain/events.js'
import { defaultProjections } from '../../src/projections/default-projections.js'
import { dumpReadModel } from '../../src/projections/dump.js'
import { rebuildReadModel } from '../../src/projections/rebuild.js'
import { createProjectionRunner } from '../../src/projections/runner.js'
import { openReadModel, SCHEMA_VERSION } from '../../src/projections/schema.js'
import { EventWriter, openStore, tempDir } from './fixtures/harness.js'
import { writeHistory } from './fixtures/history.js'

t.test('a rebuild holds exactly the rows of the live read model', async t => {
  const dir = tempDir(t)
  const store = openStore(t, join(dir, 'events.db'))
  const w = new EventWriter(store)
  const path = join(dir, 'read.db')

  // The live model applies the history as it is written: many small batches.
  const live = openReadModel(path)
  const runner = createProjectionRunner({ store, readModel: live })
  await runner.start()
  const batches: number[] = []
  runner.on('batch', b => batches.push(b.events))
  await writeHistory(w, 60)
  const head = await store.headPosition()
  t.ok(await runner.waitFor(head, 10_000))
  await runner.stop()
  t.ok(batches.length > 100, `live: ${batches.length} batches`)
  const liveDump = dumpReadModel(live.db)
  const schemaOf = (db: typeof live.db): unknown => db.prepare('SELECT type, name, tbl_name, sql FROM sqlite_master ORDER BY name').all()
  const liveSchema = schemaOf(live.db)
  live.close()

  t.equal(liveDump.users?.length, 60)
  for (const table of ['user_roles', 'user_companies', 'user_providers', 'roles', 'companies', 'providers', 'identification_types', 'checkpoints']) {
    t.ok((liveDump[table]?.length ?? 0) > 0, `${table} has rows`)
  }

  t.test('into a fresh file', async t => {
    const other = join(dir, 'other.db')
    const progress: Array<[number, number]> = []
    const result = await rebuildReadModel({ store, path: other, onProgress: (done, total) => progress.push([done, total]), batchSize: 250 })
    t.strictSame(result, { events: head })
    t.strictSame(progress.at(-1), [head, head])
    t.ok(progress.length >= Math.ceil(head / 250))
    const rebuilt = openReadModel(other)
    t.teardown(() => rebuilt.close())
    t.equal(rebuilt.needsRebuild, false)
    t.equal(rebuilt.db.pragma('journal_mode', { simple: true }), 'wal')
    t.strictSame(dumpReadModel(rebuilt.db), liveDump)
    t.strictSame(schemaOf(rebuilt.db), liveSchema, 'the same tables and indexes')
  })

  t.test('over the live file, which then goes on projecting', async t => {
    writeFileSync(`${path}-wal`, 'stale')
    writeFileSync(`${path}-shm`, 'stale')
    const result = await rebuildReadModel({ store, path })
    t.strictSame(result, { events: head })
    t.strictSame(readdirSync(dir).filter(f => f.startsWith('read.db')).sort(), ['read.db'], 'no temp file, no stale sidecars')
    const rebuilt = openReadModel(path)
    t.teardown(() => rebuilt.close())
    t.strictSame(dumpReadModel(rebuilt.db), liveDump)

    await w.append(streams.role('late'), 'RoleDefined', { id: 'late', name: 'Late', description: '', system: false })
    const resumed = createProjectionRunner({ store, readModel: rebuilt })
    const seen: number[] = []
    resumed.on('batch', b => seen.push(b.from))
    await resumed.start()
    await resumed.stop()
    t.strictSame(seen, [head + 1], 'resumes from the rebuilt checkpoint')
    t.equal((rebuilt.db.prepare('SELECT count(*) AS n FROM roles').get() as { n: number }).n, 4)
  })
})

t.test('a read model of another schema version is rebuilt into the current one', async t => {
  const dir = tempDir(t)
  const store = openStore(t, join(dir, 'events.db'))
  await writeHistory(new EventWriter(store), 5)
  const path = join(dir, 'read.db')
  const old = openReadModel(path)
  old.db.exec('DROP TABLE users; CREATE TABLE users (legacy TEXT)')
  old.db.pragma(`user_version = ${SCHEMA_VERSION + 7}`)
  old.close()
  t.equal(openReadModel(path).needsRebuild, true)

  await rebuildReadModel({ store, path })
  const rm = openReadModel(path)
  t.teardown(() => rm.close())
  t.equal(rm.needsRebuild, false)
  t.equal(rm.storedSchemaVersion, SCHEMA_VERSION)
  t.equal((rm.db.prepare('SELECT count(*) AS n FROM users').get() as { n: number }).n, 5)
})

t.test('a failed rebuild leaves the old file alone and no temp file', async t => {
  const dir = tempDir(t)
  const store = openStore(t, join(dir, 'events.db'))
  await writeHistory(new EventWriter(store), 3)
  const path = join(dir, 'read.db')
  await rebuildReadModel({ store, path })
  const before = openReadModel(path)
  const dump = dumpReadModel(before.db)
  before.close()

  const failing = [...defaultProjections, { name: 'boom', handles: ['UserRegistered'], project: () => { throw new Error('boom') } }]
  await t.rejects(rebuildReadModel({ store, path, projections: failing }), { code: 'PROJECTION_FAILED' })
  t.notOk(existsSync(`${path}.rebuild`))
  const after = openReadModel(path)
  t.teardown(() => after.close())
  t.strictSame(dumpReadModel(after.db), dump)
})

t.test('rebuilding an empty store gives an empty read model', async t => {
  const dir = tempDir(t)
  const store = openStore(t, join(dir, 'events.db'))
  const path = join(dir, 'read.db')
  t.strictSame(await rebuildReadModel({ store, path }), { events: 0 })
  const rm = openReadModel(path)
  t.teardown(() => rm.close())
  t.ok(Object.values(dumpReadModel(rm.db)).every(rows => rows.length === 0))
})

t.test('the read model is read through a memory map, and a live model and a rebuild of it read alike', async t => {
  const dir = tempDir(t)
  const store = openStore(t, join(dir, 'events.db'))
  const path = join(dir, 'read.db')
  await writeHistory(new EventWriter(store), 10)
  await rebuildReadModel({ store, path })
  const mapped = openReadModel(path)
  const unmapped = openReadModel(path, { mmapSizeBytes: 0 })
  t.teardown(() => { mapped.close(); unmapped.close() })
  t.equal(mapped.db.pragma('mmap_size', { simple: true }), 2 ** 30, 'default: 1 GiB mapped')
  t.equal(unmapped.db.pragma('mmap_size', { simple: true }), 0, 'mmapSizeBytes 0: pread')
  t.same(dumpReadModel(mapped.db), dumpReadModel(unmapped.db), 'the same rows either way')
})
