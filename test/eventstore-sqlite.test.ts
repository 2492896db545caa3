import { randomUUID } from 'node:crypto'
import { mkdtempSync, rmSync } from 'node:fs'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import t, { type Test } from 'tap'
import { StoreUnavailableError, WrongExpectedRevisionError, type EventToAppend, type RecordedEvent } from '../src/eventstore/port.js'
import { openSqliteEventStore, type SqliteEventStore, type SqliteEventStoreOptions } from '../src/eventstore/sqlite.js'
import { runEventStoreContract } from './eventstore-contract.js'
import { spawnAppender } from './fixtures/eventstore-spawn.js'

/** A fresh directory per test, removed when the test ends. */
function tempFile (t: Test): string {
  const dir = mkdtempSync(join(tmpdir(), 'idm-eventstore-'))
  t.teardown(() => rmSync(dir, { recursive: true, force: true }))
  return join(dir, 'events.db')
}

/** Opens a store that the test closes on teardown (before its directory is removed). */
function openStore (t: Test, options: SqliteEventStoreOptions): SqliteEventStore {
  const store = openSqliteEventStore(options)
  t.teardown(async () => await store.close())
  return store
}

const anEvent = (data: Record<string, unknown> = {}): EventToAppend =>
  ({ id: randomUUID(), type: 'SqliteTested', data, metadata: {} })

async function rejectionOf (promise: Promise<unknown>): Promise<unknown> {
  try {
    await promise
  } catch (error) {
    return error
  }
  throw new Error('expected a rejection, got a result')
}

/** Pulls batches until `count` events arrived. */
async function take (iterator: AsyncIterator<readonly RecordedEvent[]>, count: number): Promise<RecordedEvent[]> {
  const events: RecordedEvent[] = []
  while (events.length < count) {
    const next = await iterator.next()
    if (next.done === true) break
    events.push(...next.value)
  }
  return events
}

const positionsOf = (events: readonly RecordedEvent[]): number[] => events.map((event) => event.position)
const range = (from: number, count: number): number[] => Array.from({ length: count }, (_, i) => from + i)

const contractDir = mkdtempSync(join(tmpdir(), 'idm-eventstore-contract-'))
await runEventStoreContract(t, 'sqlite', async () => openSqliteEventStore({ path: join(contractDir, 'events.db') }), {
  cleanup: () => rmSync(contractDir, { recursive: true, force: true }),
  gapFreePositions: true
})

t.test('appends issued in one tick share one transaction', async (t) => {
  const store = openStore(t, { path: tempFile(t) })
  const before = store.stats().transactions
  const results = await Promise.all(range(0, 64).map(async (n) =>
    await store.append(`group-${n}`, [anEvent()], { expectedRevision: 'no_stream' })))
  t.equal(store.stats().transactions - before, 1)
  t.strictSame(results.map((result) => result.position).sort((x, y) => x - y), range(1, 64))
})

t.test('in a group commit a failed expectation rejects alone and sees earlier appends', async (t) => {
  const store = openStore(t, { path: tempFile(t) })
  const [a, b, c] = [anEvent(), anEvent(), anEvent()]
  const outcomes = await Promise.allSettled([
    store.append('shared', [a], { expectedRevision: 'no_stream' }),
    store.append('shared', [b], { expectedRevision: 'no_stream' }),
    store.append('shared', [c], { expectedRevision: 0 })
  ])
  t.strictSame(outcomes.map((outcome) => outcome.status), ['fulfilled', 'rejected', 'fulfilled'])
  const error = (outcomes[1] as PromiseRejectedResult).reason as WrongExpectedRevisionError
  t.ok(error instanceof WrongExpectedRevisionError)
  t.equal(error.actual, 0, 'the second append saw the first one')
  t.strictSame((await store.readStream('shared')).map((event) => event.id), [a.id, c.id])
  t.equal(store.stats().transactions, 1)
})

t.test('synchronous is FULL by default, also on a file already in WAL mode', async (t) => {
  const path = tempFile(t)
  const first = openStore(t, { path })
  t.equal(first.db.pragma('journal_mode', { simple: true }), 'wal')
  t.equal(first.db.pragma('synchronous', { simple: true }), 2)
  // A second connection to a WAL file is where better-sqlite3 12 would quietly use NORMAL.
  const second = openStore(t, { path })
  t.equal(second.db.pragma('synchronous', { simple: true }), 2)
  const relaxed = openStore(t, { path, synchronous: 'NORMAL' })
  t.equal(relaxed.db.pragma('synchronous', { simple: true }), 1)
})

t.test('a second store on the same file sees the first one\'s appends', async (t) => {
  const path = tempFile(t)
  const writer = openStore(t, { path })
  const reader = openStore(t, { path, pollIntervalMs: 10 })
  const subscription = reader.subscribeToAll({ after: await reader.headPosition() })
  t.teardown(async () => await subscription.close())

  const written = [anEvent(), anEvent(), anEvent()]
  await writer.append('other', written, { expectedRevision: 'no_stream' })
  const received = await take(subscription[Symbol.asyncIterator](), 3)
  t.strictSame(received.map((event) => event.id), written.map((event) => event.id))

  const next = await reader.append('other', [anEvent()], { expectedRevision: 2 })
  t.equal(next.position, 4, 'the reader appends after what the writer committed')
  t.strictSame(positionsOf(await writer.readAll()), [1, 2, 3, 4])
})

t.test('a child process appending to the file is seen by a subscription', async (t) => {
  const path = tempFile(t)
  const store = openStore(t, { path, pollIntervalMs: 10 })
  const subscription = store.subscribeToAll()
  t.teardown(async () => await subscription.close())

  const appender = spawnAppender(path, 'child', 2, 10)
  t.equal(await appender.exited, 0)
  const expected = appender.acks.length
  t.ok(expected >= 20, 'the child acknowledged every event it appended')
  const received = await take(subscription[Symbol.asyncIterator](), expected)
  t.strictSame(positionsOf(received), range(1, expected))
  t.strictSame(new Set(received.map((event) => event.id)), new Set(appender.acks.map((ack) => ack.id)))
})

t.test('a failed commit rejects the whole batch, writes nothing, and writes resume after', async (t) => {
  const store = openStore(t, { path: tempFile(t) })
  await store.append('before', [anEvent()], { expectedRevision: 'no_stream' })
  const head = await store.headPosition()
  // The file cannot grow any more: the next commit that needs a page fails with SQLITE_FULL.
  store.db.pragma(`max_page_count = ${Number(store.db.pragma('page_count', { simple: true }))}`)

  const big = { payload: 'x'.repeat(20_000) }
  const outcomes = await Promise.allSettled(['full-a', 'full-b', 'full-c'].map(async (stream) =>
    await store.append(stream, [anEvent(big)], { expectedRevision: 'no_stream' })))
  for (const outcome of outcomes) {
    const error = outcome.status === 'rejected' ? outcome.reason as StoreUnavailableError : undefined
    t.ok(error instanceof StoreUnavailableError, 'rejected with StoreUnavailableError')
    t.equal((error?.cause as { code?: string } | undefined)?.code, 'SQLITE_FULL')
  }
  t.equal(await store.headPosition(), head, 'nothing stored')
  t.strictSame(await store.readStream('full-a'), [])
  t.equal(store.stats().failedTransactions, 1)

  store.db.pragma('max_page_count = 1073741823')
  const recovered = await store.append('full-a', [anEvent(big)], { expectedRevision: 'no_stream' })
  t.equal(recovered.position, head + 1, 'positions stay gap-free after the rollback')
})

t.test('a connection closed underneath the store turns appends into StoreUnavailableError', async (t) => {
  const store = openStore(t, { path: tempFile(t) })
  store.db.close()
  const error = await rejectionOf(store.append('gone', [anEvent()], { expectedRevision: 'any' }))
  t.ok(error instanceof StoreUnavailableError)
  t.ok((error as Error).cause instanceof Error, 'the cause is attached')
})

t.test('close commits queued appends, ends subscriptions, then refuses calls', async (t) => {
  const path = tempFile(t)
  const store = openSqliteEventStore({ path })
  const subscription = store.subscribeToAll()
  const ended = (async () => { for await (const _ of subscription) { /* drain */ } })()
  const queued = store.append('closing', [anEvent()], { expectedRevision: 'no_stream' })
  await store.close()
  t.strictSame(await queued, { nextRevision: 0, position: 1 })
  await ended
  t.throws(() => store.subscribeToAll(), StoreUnavailableError)
  t.ok(await rejectionOf(store.append('closing', [anEvent()], { expectedRevision: 'any' })) instanceof StoreUnavailableError)

  const reopened = openStore(t, { path })
  t.equal((await reopened.readStream('closing')).length, 1, 'the queued append is on disk')
})

t.test('read options are validated', async (t) => {
  const store = openStore(t, { path: tempFile(t) })
  t.ok(await rejectionOf(store.readStream('s', { maxCount: -1 })) instanceof TypeError)
  t.ok(await rejectionOf(store.readAll({ limit: 1.5 })) instanceof TypeError)
  t.throws(() => store.subscribeToAll({ batchSize: 0 }), TypeError)
})
