/**
 * The PostgreSQL adapter against the real server: the shared contract suite, then what only a
 * networked store has (several connections racing, group commit, LISTEN/NOTIFY wake-ups,
 * connections the server drops). Each test gets its own database (test/helpers/postgres.ts).
 */
import { randomUUID } from 'node:crypto'
import pg from 'pg'
import t, { type Test } from 'tap'
import { StoreUnavailableError, WrongExpectedRevisionError, type EventToAppend, type RecordedEvent } from '../src/eventstore/port.js'
import { openPostgresEventStore, type PostgresEventStore, type PostgresEventStoreOptions } from '../src/eventstore/postgres.js'
import { runEventStoreContract } from './eventstore-contract.js'
import { createDatabase, requirePostgres, testDatabase } from './helpers/postgres.js'

const server = await requirePostgres(t, 'event store suite')

const anEvent = (data: Record<string, unknown> = {}): EventToAppend =>
  ({ id: randomUUID(), type: 'PostgresTested', data, metadata: {} })

function openStore (t: Test, url: string, options: Partial<PostgresEventStoreOptions> = {}): PostgresEventStore {
  const store = openPostgresEventStore({ connectionString: url, ...options })
  t.teardown(async () => await store.close())
  return store
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

if (server !== undefined) {
  const contractDb = await createDatabase(server)
  await runEventStoreContract(t, 'postgres', async () => openPostgresEventStore({ connectionString: contractDb.url }), {
    cleanup: contractDb.drop,
    gapFreePositions: false
  })

  t.test('64 appends expecting the same revision, 1,000 rounds over 8 connections: exactly one winner each round', { timeout: 300_000 }, async (t) => {
    const url = await testDatabase(t, server)
    const stores = Array.from({ length: 8 }, () => openStore(t, url, { poolSize: 1 }))
    const stream = `race-${randomUUID()}`
    await stores[0]!.append(stream, [anEvent({ round: -1 })], { expectedRevision: 'no_stream' })
    const rounds = 1000
    let badRounds = 0
    for (let round = 0; round < rounds; round++) {
      const contenders = Array.from({ length: 64 }, () => anEvent({ round }))
      const outcomes = await Promise.allSettled(contenders.map(async (event, i) =>
        await stores[i % stores.length]!.append(stream, [event], { expectedRevision: round })))
      const winners = outcomes.filter((outcome) => outcome.status === 'fulfilled').length
      const losersRight = outcomes.every((outcome) => outcome.status === 'fulfilled' ||
        (outcome.reason instanceof WrongExpectedRevisionError && outcome.reason.actual === round + 1))
      if (winners !== 1 || !losersRight) badRounds++
    }
    t.equal(badRounds, 0, 'every round: one winner, 63 WrongExpectedRevision naming the winner\'s revision')
    const read = await stores[0]!.readStream(stream)
    t.strictSame(read.map((event) => event.revision), [...Array(rounds + 1).keys()], 'revisions 0…1000, no gap, no double')
    t.strictSame(read.map((event) => event.data.round), [-1, ...Array(rounds).keys()], 'one event per round')
  })

  t.test('appends issued together share one transaction; a failed check rejects alone', async (t) => {
    const store = openStore(t, await testDatabase(t, server))
    await store.headPosition()
    const before = store.stats().transactions
    const results = await Promise.all(Array.from({ length: 64 }, async (_, n) =>
      await store.append(`group-${n}`, [anEvent()], { expectedRevision: 'no_stream' })))
    t.equal(store.stats().transactions - before, 1, 'one group commit')
    t.equal(new Set(results.map((result) => result.position)).size, 64)

    const [a, b, c] = [anEvent(), anEvent(), anEvent()]
    const outcomes = await Promise.allSettled([
      store.append('shared', [a], { expectedRevision: 'no_stream' }),
      store.append('shared', [b], { expectedRevision: 'no_stream' }),
      store.append('shared', [c], { expectedRevision: 0 })
    ])
    t.strictSame(outcomes.map((outcome) => outcome.status), ['fulfilled', 'rejected', 'fulfilled'])
    t.equal(((outcomes[1] as PromiseRejectedResult).reason as WrongExpectedRevisionError).actual, 0, 'the second append saw the first one')
    t.strictSame((await store.readStream('shared')).map((event) => event.id), [a.id, c.id])
  })

  t.test('text PostgreSQL cannot store is a TypeError before any I/O, not a failed group commit', async (t) => {
    const store = openStore(t, await testDatabase(t, server))
    const neighbour = store.append('neighbour', [anEvent()], { expectedRevision: 'no_stream' })
    await t.rejects(store.append('nul\u0000stream', [anEvent()], { expectedRevision: 'any' }), TypeError)
    await t.rejects(store.append('lone\ud800', [anEvent()], { expectedRevision: 'any' }), TypeError)
    await t.rejects(store.append('ok', [{ ...anEvent(), type: 'T\u0000' }], { expectedRevision: 'any' }), TypeError)
    t.equal((await neighbour).nextRevision, 0, 'the neighbour in the same tick committed')
    t.strictSame(await store.readStream('nul\u0000stream'), [])
  })

  t.test('a live subscription is woken by another node\'s commit through NOTIFY, not the poll', { timeout: 30_000 }, async (t) => {
    const url = await testDatabase(t, server)
    const reader = openStore(t, url, { pollIntervalMs: 60_000 })
    const writer = openStore(t, url)
    const subscription = reader.subscribeToAll({ after: await reader.headPosition() })
    t.teardown(async () => await subscription.close())
    const iterator = subscription[Symbol.asyncIterator]()
    const first = iterator.next()
    await new Promise((resolve) => setTimeout(resolve, 300))
    const started = performance.now()
    const event = anEvent()
    await writer.append('notify-me', [event], { expectedRevision: 'no_stream' })
    const delivered = await first
    const waited = performance.now() - started
    t.equal((delivered.value as RecordedEvent[])[0]?.id, event.id)
    t.ok(waited < 30_000, `delivered after ${waited.toFixed(1)} ms with a 60 s poll: the notification woke it`)
  })

  t.test('the server dropping every connection: calls fail as unavailable, then work again; a subscription resumes with no gap and no duplicate', { timeout: 60_000 }, async (t) => {
    const url = await testDatabase(t, server)
    const errors: unknown[] = []
    const store = openStore(t, url, { onError: (error) => errors.push(error), retry: { initialDelayMs: 20, maxDelayMs: 200 }, pollIntervalMs: 100 })
    const writer = openStore(t, url)
    const stream = `drop-${randomUUID()}`
    const before = [anEvent({ n: 0 }), anEvent({ n: 1 })]
    await writer.append(stream, before, { expectedRevision: 'no_stream' })
    const subscription = store.subscribeToAll({ after: 0, batchSize: 1 })
    t.teardown(async () => await subscription.close())
    const iterator = subscription[Symbol.asyncIterator]()
    const first = await take(iterator, 2)

    // What a server restart does to a client: every backend of this store's application ends.
    const killer = new pg.Client({ connectionString: url })
    await killer.connect()
    t.teardown(async () => await killer.end())
    const { rows } = await killer.query<{ killed: number }>(
      "SELECT count(pg_terminate_backend(pid))::int AS killed FROM pg_stat_activity WHERE datname = current_database() AND application_name LIKE 'identity-manager%' AND pid <> pg_backend_pid()")
    t.ok((rows[0]?.killed ?? 0) >= 2, `terminated ${rows[0]?.killed} connections (pool and LISTEN)`)

    const after = [anEvent({ n: 2 }), anEvent({ n: 3 }), anEvent({ n: 4 })]
    for (const [index, event] of after.entries()) {
      // The writer's own pooled connection was killed too: its first attempt may fail as unavailable.
      for (let attempt = 0; ; attempt++) {
        try {
          await writer.append(stream, [event], { expectedRevision: 1 + index })
          break
        } catch (error) {
          if (!(error instanceof StoreUnavailableError) || attempt > 5) throw error
        }
      }
    }
    const second = await take(iterator, 3)
    t.strictSame([...first, ...second].map((event) => event.id), [...before, ...after].map((event) => event.id), 'every event once, in order')
    t.ok(errors.length >= 1, `the loss was reported, not thrown (${errors.length})`)
    t.equal((await store.readStream(stream)).length, 5, 'the store works again')
  })

  t.test('a closed-off server: calls reject with StoreUnavailableError quickly', { timeout: 30_000 }, async (t) => {
    const store = openStore(t, 'postgresql://root@127.0.0.1:1/none', { connectTimeoutMs: 500 })
    await t.rejects(store.append('s', [anEvent()], { expectedRevision: 'any' }), StoreUnavailableError)
    await t.rejects(store.readStream('s'), StoreUnavailableError)
    await t.rejects(store.headPosition(), StoreUnavailableError)
  })
}
