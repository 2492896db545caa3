/**
 * WAL checkpoints run on the store's checkpoint thread, not inside commits: the writing connection
 * has automatic checkpoints off, the WAL is copied back into the database file while appends go on,
 * an idle store's WAL is truncated, and a second store on the file (another process's view) reads
 * everything. Durability across kill -9 is test/eventstore-crash.test.ts.
 */
import { randomUUID } from 'node:crypto'
import { mkdtempSync, rmSync, statSync } from 'node:fs'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import t from 'tap'
import { openSqliteEventStore } from '../src/eventstore/sqlite.js'

const sizeOf = (path: string): number => { try { return statSync(path).size } catch { return 0 } }

async function until (check: () => boolean, what: string, timeoutMs = 20_000): Promise<void> {
  const started = Date.now()
  while (!check()) {
    if (Date.now() - started > timeoutMs) throw new Error(`timed out waiting for ${what}`)
    await new Promise(resolve => setTimeout(resolve, 20))
  }
}

t.test('the checkpoint thread copies the WAL back while appends go on, and truncates it when idle', async t => {
  const dir = mkdtempSync(join(tmpdir(), 'idm-checkpoint-'))
  t.teardown(() => rmSync(dir, { recursive: true, force: true }))
  const path = join(dir, 'events.db')
  const store = openSqliteEventStore({ path, checkpointIntervalMs: 20 })
  t.teardown(async () => await store.close())
  t.equal(store.db.pragma('wal_autocheckpoint', { simple: true }), 0, 'no checkpoint inside a commit')
  t.equal(store.db.pragma('synchronous', { simple: true }), 2, 'still FULL')

  const payload = 'x'.repeat(4000)
  const before = sizeOf(path)
  // About 12 MB in 3,000 events over 60 group commits: far past the 1,000-page automatic checkpoint.
  for (let round = 0; round < 60; round++) {
    await Promise.all(Array.from({ length: 50 }, async (_, i) =>
      await store.append(`s-${round}-${i}`, [{ id: randomUUID(), type: 'Big', data: { payload }, metadata: {} }], { expectedRevision: 'no_stream' })))
  }
  t.equal(await store.headPosition(), 3000)
  await until(() => sizeOf(path) > before + 12_000_000, 'the events to reach the database file')
  t.pass(`database file ${sizeOf(path)} bytes without a checkpoint by the writer`)
  await until(() => sizeOf(`${path}-wal`) === 0, 'the idle WAL to be truncated')
  t.pass('an idle WAL is truncated')

  // Writes go on after the truncation, and another connection reads them all.
  await store.append('after', [{ id: randomUUID(), type: 'Small', data: {}, metadata: {} }], { expectedRevision: 'no_stream' })
  const reader = openSqliteEventStore({ path })
  t.teardown(async () => await reader.close())
  t.equal(await reader.headPosition(), 3001)
  t.equal((await reader.readAll({ after: 2990, limit: 100 })).length, 11)
})

t.test('close leaves no WAL behind, and the next store reads everything', async t => {
  const dir = mkdtempSync(join(tmpdir(), 'idm-checkpoint-'))
  t.teardown(() => rmSync(dir, { recursive: true, force: true }))
  const path = join(dir, 'events.db')
  const writer = openSqliteEventStore({ path })
  await writer.append('a', [{ id: randomUUID(), type: 'A', data: {}, metadata: {} }], { expectedRevision: 'no_stream' })
  await writer.close()
  t.equal(sizeOf(`${path}-wal`), 0, 'the last close checkpointed and removed the WAL')
  const reader = openSqliteEventStore({ path })
  t.equal((await reader.readStream('a')).length, 1)
  await reader.close()
})
