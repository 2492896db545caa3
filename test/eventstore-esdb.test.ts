/**
 * The EventStoreDB adapter against a real server: the shared contract suite, plus what only
 * EventStoreDB has (system events, connections that drop). Needs EVENTSTORE_CONNECTION_STRING;
 * without it the file reports one skip with the reason. To run it:
 *
 *   docker run --rm -d -p 2113:2113 --name esdb eventstore/eventstore:23.10.0-bookworm-slim \
 *     --insecure --run-projections=All --enable-atom-pub-over-http
 *   EVENTSTORE_CONNECTION_STRING="esdb://localhost:2113?tls=false" npx tap test/eventstore-esdb.test.ts
 */
import { randomUUID } from 'node:crypto'
import { createServer, connect, type Socket } from 'node:net'
import t, { type Test } from 'tap'
import type { EventToAppend, RecordedEvent } from '../src/eventstore/port.js'
import { openEventStoreDbEventStore, type EventStoreDbEventStore, type EventStoreDbOptions } from '../src/eventstore/eventstoredb.js'
import { runEventStoreContract } from './eventstore-contract.js'

const connectionString = process.env.EVENTSTORE_CONNECTION_STRING?.trim() ?? ''

if (connectionString === '') {
  const run = 'EVENTSTORE_CONNECTION_STRING="esdb://localhost:2113?tls=false" npx tap test/eventstore-esdb.test.ts'
  t.comment(`EventStoreDB contract suite skipped: EVENTSTORE_CONNECTION_STRING is not set. Start a server and run: ${run}`)
  t.test('EventStoreDB contract suite', {
    skip: `EVENTSTORE_CONNECTION_STRING is not set; no EventStoreDB server can run on this machine. Run: ${run}`
  }, async () => {})
} else {
  await runEventStoreContract(t, 'eventstoredb', async () => openEventStoreDbEventStore({ connectionString }), {
    gapFreePositions: false,
    globalEventIds: false
  })
  serverOnlyTests(connectionString)
}

const anEvent = (n: number): EventToAppend => ({ id: randomUUID(), type: 'EsdbTested', data: { n }, metadata: {} })

function openStore (t: Test, options: Partial<EventStoreDbOptions> = {}): EventStoreDbEventStore {
  const store = openEventStoreDbEventStore({ connectionString, ...options })
  t.teardown(async () => await store.close())
  return store
}

/** Pulls batches until `count` events of `stream` arrived. */
async function take (iterator: AsyncIterator<readonly RecordedEvent[]>, stream: string, count: number): Promise<RecordedEvent[]> {
  const events: RecordedEvent[] = []
  while (events.length < count) {
    const next = await iterator.next()
    if (next.done === true) break
    events.push(...next.value.filter((event) => event.stream === stream))
  }
  return events
}

function serverOnlyTests (connectionString: string): void {
  t.test('system events ($ streams and types) never reach readAll, headPosition or a subscription', { timeout: 30_000 }, async (t) => {
    const store = openStore(t)
    const head = await store.headPosition()
    const stream = `esdb-system-${randomUUID()}`
    const written = await store.append(stream, [anEvent(0)], { expectedRevision: 'no_stream' })
    // Stream metadata is an event of type $metadata in the stream $$<stream>, written after ours.
    await store.client.setStreamMetadata(stream, { maxCount: 100 })
    const all = await store.readAll({ after: head })
    t.ok(all.every((event) => !event.stream.startsWith('$') && !event.type.startsWith('$')), 'readAll has no system event')
    t.ok(all.some((event) => event.stream === stream))
    t.ok(await store.headPosition() >= written.position)
    const subscription = store.subscribeToAll({ after: head })
    t.teardown(async () => await subscription.close())
    const delivered = await take(subscription[Symbol.asyncIterator](), stream, 1)
    t.equal(delivered[0]?.position, written.position)
  })

  const target = /^esdb:\/\/(?:[^@/?]+@)?([^,/?:]+)(?::(\d+))?\/?(\?.*)?$/.exec(connectionString)
  const insecure = /[?&]tls=false(&|$)/i.test(connectionString)
  if (target === null || !insecure) {
    t.test('a subscription whose connection drops resubscribes and delivers no gap and no duplicate', {
      skip: 'needs a single-node esdb://host:port?tls=false connection string to put a TCP proxy in front of'
    }, async () => {})
    return
  }
  const [, host = 'localhost', port = '2113', query = ''] = target

  t.test('a subscription whose connection drops resubscribes and delivers no gap and no duplicate', { timeout: 60_000 }, async (t) => {
    const sockets = new Set<Socket>()
    const proxy = createServer((downstream) => {
      const upstream = connect(Number(port), host)
      for (const socket of [downstream, upstream]) {
        sockets.add(socket)
        socket.on('close', () => sockets.delete(socket))
        socket.on('error', () => {})
      }
      downstream.pipe(upstream).pipe(downstream)
    })
    await new Promise<void>((resolve) => proxy.listen(0, '127.0.0.1', resolve))
    t.teardown(() => { for (const socket of sockets) socket.destroy(); proxy.close() })
    const address = proxy.address()
    if (address === null || typeof address === 'string') throw new Error('proxy has no port')

    const errors: unknown[] = []
    const viaProxy = openEventStoreDbEventStore({
      connectionString: `esdb://127.0.0.1:${address.port}${query}`,
      onError: (error) => errors.push(error),
      subscriptionRetry: { initialDelayMs: 50, maxDelayMs: 500 }
    })
    t.teardown(async () => await viaProxy.close())
    const writer = openStore(t)

    const stream = `esdb-drop-${randomUUID()}`
    const head = await writer.headPosition()
    const before = [anEvent(0), anEvent(1), anEvent(2)]
    await writer.append(stream, before, { expectedRevision: 'no_stream' })
    const subscription = viaProxy.subscribeToAll({ after: head, batchSize: 2 })
    t.teardown(async () => await subscription.close())
    const iterator = subscription[Symbol.asyncIterator]()
    const first = await take(iterator, stream, 3)

    for (const socket of sockets) socket.destroy()
    const after = [anEvent(3), anEvent(4), anEvent(5)]
    for (const [index, event] of after.entries()) {
      await writer.append(stream, [event], { expectedRevision: 2 + index })
    }
    const second = await take(iterator, stream, 3)
    t.ok(errors.length >= 1, `the drop was reported (${errors.length})`)
    t.strictSame([...first, ...second].map((event) => event.id), [...before, ...after].map((event) => event.id))
    t.strictSame([...first, ...second].map((event) => event.revision), [0, 1, 2, 3, 4, 5])
  })
}
