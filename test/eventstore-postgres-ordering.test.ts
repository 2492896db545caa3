/**
 * The ordering hazard of PostgreSQL event stores, shown and then survived. A sequence hands out
 * positions in one order while transactions commit in another; a reader of "everything after N"
 * skips the event that commits late with a lower number. First the hazard made deterministic
 * (a naive reader loses an event; the adapter's subscription does not), then the proof under
 * load: writers in three child processes and on four connections here, transactions held open
 * on purpose (some rolled back), and four subscribers on their own connections that must each
 * deliver every committed event exactly once, in one and the same order: the table's.
 */
import { randomUUID } from 'node:crypto'
import pg from 'pg'
import t, { type Test } from 'tap'
import type { EventToAppend, RecordedEvent, Subscription } from '../src/eventstore/port.js'
import { openPostgresEventStore, type PostgresEventStore } from '../src/eventstore/postgres.js'
import { SQL } from '../src/eventstore/postgres-schema.js'
import { spawnAppender } from './fixtures/eventstore-spawn.js'
import { requirePostgres, testDatabase } from './helpers/postgres.js'

const server = await requirePostgres(t, 'ordering suite')

const anEvent = (data: Record<string, unknown> = {}): EventToAppend =>
  ({ id: randomUUID(), type: 'OrderingTested', data, metadata: {} })

const sleep = async (ms: number): Promise<void> => await new Promise((resolve) => setTimeout(resolve, ms))

function openStore (t: Test, url: string): PostgresEventStore {
  const store = openPostgresEventStore({ connectionString: url, poolSize: 2, pollIntervalMs: 100 })
  t.teardown(async () => await store.close())
  return store
}

async function connect (t: Test, url: string): Promise<pg.Client> {
  const client = new pg.Client({ connectionString: url })
  await client.connect()
  t.teardown(async () => await client.end().catch(() => {}))
  return client
}

/** The adapter's own write path, called by hand inside a transaction the test keeps open. */
async function appendInOpenTransaction (client: pg.Client, stream: string, events: EventToAppend[]): Promise<number> {
  await client.query('BEGIN')
  const { rows } = await client.query<{ outcome: string, last_position: string }>(SQL.append, [
    [stream], ['no_stream'], [events.length],
    events.map((event) => event.id), events.map((event) => event.type),
    events.map((event) => JSON.stringify(event.data)), events.map((event) => JSON.stringify(event.metadata))
  ])
  if (rows[0]?.outcome !== 'ok') throw new Error(`append in open transaction: ${rows[0]?.outcome}`)
  return Number(rows[0].last_position)
}

/** Collects every delivered event of a subscription until stopped. */
function collect (subscription: Subscription): { events: RecordedEvent[], done: Promise<void> } {
  const events: RecordedEvent[] = []
  const done = (async () => {
    for await (const batch of subscription) events.push(...batch)
  })()
  return { events, done }
}

if (server !== undefined) {
  t.test('a late commit with a lower position: a naive reader skips it, a subscription does not', { timeout: 60_000 }, async (t) => {
    const url = await testDatabase(t, server)
    const store = openStore(t, url)
    const start = await store.headPosition()
    const subscription = store.subscribeToAll({ after: start })
    t.teardown(async () => await subscription.close())
    const received = collect(subscription)

    const holder = await connect(t, url)
    const late = anEvent({ late: true })
    const latePosition = await appendInOpenTransaction(holder, `late-${randomUUID()}`, [late])
    const early = anEvent({ late: false })
    const earlyResult = await store.append(`early-${randomUUID()}`, [early], { expectedRevision: 'no_stream' })
    t.ok(earlyResult.position > latePosition, `the event committed first has the higher position (${earlyResult.position} > ${latePosition})`)

    const naive = await connect(t, url)
    const naiveRead = async (after: number) => (await naive.query<{ id: string, position: string }>(
      'SELECT id, position FROM idm_events WHERE position > $1 ORDER BY position', [after])).rows
    const firstNaive = await naiveRead(start)
    t.strictSame(firstNaive.map((row) => row.id), [early.id], 'the naive reader sees the early commit…')
    await sleep(300)
    t.strictSame(received.events, [], '…the subscription holds back while a transaction older than it is in flight')

    await holder.query('COMMIT')
    const naiveCursor = Number(firstNaive[0]?.position)
    t.strictSame(await naiveRead(naiveCursor), [], 'and after the late commit the naive cursor has skipped it for good')
    while (received.events.length < 2) await sleep(10)
    t.strictSame(received.events.map((event) => event.id), [late.id, early.id], 'the subscription delivers both, in position order')
    t.ok((await store.readAll({ after: start })).length === 2, 'readAll too')
  })

  t.test('many appenders (processes and connections), transactions held open, four subscribers: every event once, one order', { timeout: 240_000 }, async (t) => {
    const url = await testDatabase(t, server)
    const setup = openStore(t, url)
    const start = await setup.headPosition()

    const subscribers: PostgresEventStore[] = Array.from({ length: 3 }, () => openStore(t, url))
    const subscriptions = subscribers.map((store, i) => store.subscribeToAll({ after: start, batchSize: [1, 7, 1000][i] }))
    t.teardown(async () => { for (const subscription of subscriptions) await subscription.close() })
    const collected = subscriptions.map(collect)

    let stop = false
    let naiveStop = false
    // A naive reader beside them, for contrast: what "after position N" loses under this load.
    const naive = await connect(t, url)
    const naiveSeen: string[] = []
    const naiveReader = (async () => {
      let cursor = start
      for (let last = false; !last;) {
        last = naiveStop
        const { rows } = await naive.query<{ id: string, position: string }>('SELECT id, position FROM idm_events WHERE position > $1 ORDER BY position', [cursor])
        for (const row of rows) naiveSeen.push(row.id)
        cursor = Number(rows[rows.length - 1]?.position ?? cursor)
        await sleep(5)
      }
    })()
    const acknowledged = new Set<string>()
    const rolledBack = new Set<string>()

    // Three processes, four writers each, 150 appends per writer.
    const children = Array.from({ length: 3 }, (_, c) => spawnAppender(url, `child${c}`, 4, 150))
    t.teardown(() => { for (const child of children) if (child.child.exitCode === null) child.child.kill('SIGKILL') })

    // Four connections here, each with eight writers appending 1–3 events to their own streams.
    const writers = Array.from({ length: 4 }, () => openStore(t, url))
    const local = Promise.all(writers.flatMap((store, s) => Array.from({ length: 8 }, async (_, w) => {
      const stream = `local-${s}-${w}-${randomUUID()}`
      let revision = -1
      for (let n = 0; n < 60; n++) {
        const events = Array.from({ length: 1 + (n % 3) }, () => anEvent({ s, w, n }))
        const result = await store.append(stream, events, { expectedRevision: revision === -1 ? 'no_stream' : revision })
        for (const event of events) acknowledged.add(event.id)
        revision = result.nextRevision
      }
    })))

    // Four connections holding transactions open for 20–300 ms; one in four rolls back.
    const holders = await Promise.all(Array.from({ length: 4 }, async () => await connect(t, url)))
    let held = 0
    const holding = Promise.all(holders.map(async (client) => {
      while (!stop) {
        const events = [anEvent({ held: true }), anEvent({ held: true })]
        await appendInOpenTransaction(client, `held-${randomUUID()}`, events)
        held++
        await sleep(20 + Math.floor(Math.random() * 280))
        if (Math.random() < 0.25) {
          await client.query('ROLLBACK')
          for (const event of events) rolledBack.add(event.id)
        } else {
          await client.query('COMMIT')
          for (const event of events) acknowledged.add(event.id)
        }
      }
    }))

    // A fourth subscriber joins late: it catches up through the same boundary while writes go on.
    await sleep(500)
    const lateStore = openStore(t, url)
    const lateSubscription = lateStore.subscribeToAll({ after: start, batchSize: 50 })
    subscriptions.push(lateSubscription)
    collected.push(collect(lateSubscription))

    await local
    const exits = await Promise.all(children.map(async (child) => await child.exited))
    t.strictSame(exits, [0, 0, 0], 'the child processes finished')
    for (const child of children) for (const ack of child.acks) acknowledged.add(ack.id)
    stop = true
    await holding
    naiveStop = true
    await naiveReader
    t.ok(held >= 8, `${held} transactions were held open on purpose`)

    const table = (await (await connect(t, url)).query<{ id: string }>('SELECT id FROM idm_events WHERE position > $1 ORDER BY position', [start])).rows.map((row) => row.id)
    const stored = new Set(table)
    t.equal(stored.size, table.length)
    t.ok([...acknowledged].every((id) => stored.has(id)), `every acknowledged event is stored (${acknowledged.size})`)
    t.ok([...rolledBack].every((id) => !stored.has(id)), `no rolled-back event is (${rolledBack.size})`)
    const naiveMissed = table.length - new Set(naiveSeen).size
    t.comment(`the naive reader missed ${naiveMissed} of ${table.length} events (committed late with lower positions: the hazard is real under this load)`)

    const deadline = Date.now() + 60_000
    while (collected.some((c) => c.events.length < table.length) && Date.now() < deadline) await sleep(20)
    for (const [i, c] of collected.entries()) {
      const ids = c.events.map((event) => event.id)
      t.equal(new Set(ids).size, ids.length, `subscriber ${i}: no duplicate`)
      t.equal(ids.length, table.length, `subscriber ${i}: ${ids.length} of ${table.length} events`)
      t.ok(ids.every((id, n) => id === table[n]), `subscriber ${i}: exactly the table's order`)
      t.ok(c.events.every((event, n) => n === 0 || event.position > c.events[n - 1]!.position), `subscriber ${i}: positions strictly increase`)
    }
    t.comment(`${table.length} events from ${3 * 4 + 4 * 8} writers and ${held} held transactions, delivered identically to 4 subscribers`)
  })
}
