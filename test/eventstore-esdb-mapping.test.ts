/**
 * The EventStoreDB adapter without a server: every conversion in eventstoredb-mapping.ts, fed
 * with the client's own error classes and with gRPC messages converted by the client's own
 * converter (so the shapes are the ones a server's replies produce), plus the adapter against an
 * address that refuses connections.
 */
import { randomUUID } from 'node:crypto'
import t from 'tap'
import {
  ANY, EventStoreDBClient, NO_STREAM, STREAM_EXISTS,
  AccessDeniedError, CancelledError, DeadlineExceededError, InvalidArgumentError, NotLeaderError,
  StreamNotFoundError, TimeoutError, UnavailableError, UnsupportedError, WrongExpectedVersionError,
  convertToCommandError, type AllStreamResolvedEvent, type ResolvedEvent
} from '@eventstore/db-client'
import { convertGrpcEvent } from '@eventstore/db-client/dist/utils/convertGrpcEvent.js'
import sharedPb from '@eventstore/db-client/generated/shared_pb.js'
import streamsPb from '@eventstore/db-client/generated/streams_pb.js'
import {
  IdempotencyConflictError, StoreUnavailableError, WrongExpectedRevisionError, type RecordedEvent
} from '../src/eventstore/port.js'
import {
  backoffDelay, confirmAppended, expectationMet, fromClientCurrentRevision, fromClientExpectedRevision,
  isAfter, isPermanentError, isSystemEvent, isUnavailableError, matchStoredBatch, toClientExpectedRevision,
  toPosition, toReadPosition, toRecordedEvent, toStoreError, toUserEvent, toWrongExpectedRevisionError,
  userEventsAfter, validateConnectionString
} from '../src/eventstore/eventstoredb-mapping.js'
import { openEventStoreDbEventStore, type SubscriptionErrorInfo } from '../src/eventstore/eventstoredb.js'
import { validateAppend } from '../src/eventstore/validation.js'

// ── helpers: what the server sends, through the client's own code ───────────────────────────

/** A gRPC ServiceError as @grpc/grpc-js hands it to the client: code, details, trailers. */
function serviceError (code: number, details: string, trailers: Record<string, string> = {}): Error {
  return Object.assign(new Error(`${code} ${details}`), {
    code,
    details,
    metadata: { getMap: () => ({ ...trailers }) }
  })
}

interface WireEvent {
  readonly stream: string
  readonly revision: number
  readonly type: string
  readonly id?: string
  readonly data?: unknown
  readonly metadata?: unknown
  readonly contentType?: string
  /** Raw bytes instead of JSON.stringify(data). */
  readonly rawData?: Uint8Array
  /** Commit and prepare position as the server sends them (uint64 as decimal strings). */
  readonly commit?: string
  readonly prepare?: string
  readonly created?: Date
}

const TICKS_PER_MS = 10_000n

/** A ReadResp.ReadEvent as the server sends it, converted by the client's convertGrpcEvent. */
function fromWire (wire: WireEvent): ResolvedEvent & AllStreamResolvedEvent {
  const recorded = new streamsPb.ReadResp.ReadEvent.RecordedEvent()
  const id = new sharedPb.UUID()
  id.setString(wire.id ?? randomUUID())
  recorded.setId(id)
  const identifier = new sharedPb.StreamIdentifier()
  identifier.setStreamName(Buffer.from(wire.stream, 'utf8'))
  recorded.setStreamIdentifier(identifier)
  recorded.setStreamRevision(String(wire.revision))
  recorded.setCommitPosition(wire.commit ?? '1000')
  recorded.setPreparePosition(wire.prepare ?? wire.commit ?? '1000')
  const created = wire.created ?? new Date('2024-05-01T12:34:56.789Z')
  recorded.getMetadataMap().set('type', wire.type)
  recorded.getMetadataMap().set('content-type', wire.contentType ?? 'application/json')
  // .NET ticks (100 ns) since the Unix epoch, with a sub-millisecond remainder to truncate.
  recorded.getMetadataMap().set('created', String(BigInt(created.getTime()) * TICKS_PER_MS + 1234n))
  recorded.setData(wire.rawData ?? Buffer.from(JSON.stringify(wire.data ?? {}), 'utf8'))
  if (wire.metadata !== undefined) recorded.setCustomMetadata(Buffer.from(JSON.stringify(wire.metadata), 'utf8'))
  const read = new streamsPb.ReadResp.ReadEvent()
  read.setEvent(recorded)
  read.setCommitPosition(wire.commit ?? '1000')
  return convertGrpcEvent(read) as ResolvedEvent & AllStreamResolvedEvent
}

async function rejectionOf (promise: Promise<unknown>): Promise<unknown> {
  try {
    await promise
  } catch (error) {
    return error
  }
  throw new Error('expected a rejection, got a result')
}

const recorded = (id: string, revision: number, position: number, stream = 's'): RecordedEvent =>
  ({ id, stream, revision, position, type: 'T', data: {}, metadata: {}, recordedAt: '2024-01-01T00:00:00.000Z' })

// ── expected revisions ───────────────────────────────────────────────────────────────────────

t.test('expected revisions map both ways', async (t) => {
  t.equal(toClientExpectedRevision('any'), ANY)
  t.equal(toClientExpectedRevision('no_stream'), NO_STREAM)
  t.equal(toClientExpectedRevision('stream_exists'), STREAM_EXISTS)
  t.equal(toClientExpectedRevision(0), 0n)
  t.equal(toClientExpectedRevision(41), 41n)
  t.equal(toClientExpectedRevision(Number.MAX_SAFE_INTEGER), 9007199254740991n)
  for (const expected of ['any', 'no_stream', 'stream_exists', 0, 41] as const) {
    t.equal(fromClientExpectedRevision(toClientExpectedRevision(expected)), expected, `round trip ${expected}`)
  }
  t.throws(() => fromClientExpectedRevision(2n ** 60n), RangeError, 'a revision beyond 2^53 is refused')
})

t.test("the client's current revision: -1, undefined and NO_STREAM all mean no stream", async (t) => {
  t.equal(fromClientCurrentRevision(NO_STREAM), 'no_stream')
  t.equal(fromClientCurrentRevision(-1n), 'no_stream')
  t.equal(fromClientCurrentRevision(-1), 'no_stream')
  t.equal(fromClientCurrentRevision(undefined), 'no_stream')
  t.equal(fromClientCurrentRevision(0n), 0)
  t.equal(fromClientCurrentRevision(7n), 7)
})

t.test('expectations are checked like SQLite checks them', async (t) => {
  const cases: Array<[Parameters<typeof expectationMet>[0], number | 'no_stream', boolean]> = [
    ['any', 'no_stream', true], ['any', 3, true],
    ['no_stream', 'no_stream', true], ['no_stream', 0, false],
    ['stream_exists', 'no_stream', false], ['stream_exists', 0, true],
    [2, 2, true], [2, 3, false], [0, 'no_stream', false]
  ]
  for (const [expected, actual, met] of cases) t.equal(expectationMet(expected, actual), met, `${expected} vs ${actual}`)
})

// ── errors ───────────────────────────────────────────────────────────────────────────────────

t.test("the client's WrongExpectedVersionError becomes WrongExpectedRevisionError", async (t) => {
  // As the client builds it from an append reply (append.js / batchAppend.js).
  const fromReply = new WrongExpectedVersionError(undefined, { streamName: 'user-1', expected: 2n, current: 4n })
  const mapped = toWrongExpectedRevisionError('user-1', 2, fromReply)
  t.ok(mapped instanceof WrongExpectedRevisionError)
  t.strictSame({ code: mapped.code, stream: mapped.stream, expected: mapped.expected, actual: mapped.actual },
    { code: 'WRONG_EXPECTED_REVISION', stream: 'user-1', expected: 2, actual: 4 })

  const missing = new WrongExpectedVersionError(undefined, { streamName: 'user-2', expected: STREAM_EXISTS, current: NO_STREAM })
  t.equal(toWrongExpectedRevisionError('user-2', 'stream_exists', missing).actual, 'no_stream')
  t.equal(toWrongExpectedRevisionError('user-2', 'stream_exists', missing).expected, 'stream_exists', 'our expectation, not the client\'s copy')

  // As the client builds it from gRPC trailers (older servers): -1 or no actual version.
  const trailers = { exception: 'wrong-expected-version', 'stream-name': 'user-3', 'expected-version': '0' }
  const minusOne = convertToCommandError(serviceError(9, 'wrong expected version', { ...trailers, 'actual-version': '-1' }))
  t.ok(minusOne instanceof WrongExpectedVersionError, 'the client recognizes the trailers')
  t.equal(toWrongExpectedRevisionError('user-3', 0, minusOne as WrongExpectedVersionError).actual, 'no_stream')
  const absent = convertToCommandError(serviceError(9, 'wrong expected version', trailers))
  t.equal(toWrongExpectedRevisionError('user-3', 0, absent as WrongExpectedVersionError).actual, 'no_stream')
  const five = convertToCommandError(serviceError(9, 'wrong expected version', { ...trailers, 'actual-version': '5' }))
  t.equal(toWrongExpectedRevisionError('user-3', 0, five as WrongExpectedVersionError).actual, 5)
})

t.test('unreachable, timed out and not-leader errors become StoreUnavailableError with the cause', async (t) => {
  const unavailable: Array<[string, unknown]> = [
    ['UnavailableError (gRPC 14)', convertToCommandError(serviceError(14, 'UNAVAILABLE: No connection established'))],
    ['DeadlineExceededError (gRPC 4)', convertToCommandError(serviceError(4, 'Deadline exceeded'))],
    ['TimeoutError (gRPC 10, commit timeout)', convertToCommandError(serviceError(10, 'Commit timeout'))],
    ['CancelledError (gRPC 1, by the server)', convertToCommandError(serviceError(1, 'Cancelled by server'))],
    ['NotLeaderError', convertToCommandError(serviceError(5, 'Leader info available', {
      exception: 'not-leader', 'leader-endpoint-host': 'node2.example.com', 'leader-endpoint-port': '2113'
    }))],
    // The first call on a connection fetches server capabilities; its failure is not converted.
    ['raw gRPC UNAVAILABLE', serviceError(14, 'UNAVAILABLE: No connection established')],
    ['cluster discovery gave up', new Error('Failed to discover after 10 attempts.')]
  ]
  t.ok(unavailable[0]?.[1] instanceof UnavailableError && unavailable[1]?.[1] instanceof DeadlineExceededError &&
    unavailable[2]?.[1] instanceof TimeoutError && unavailable[3]?.[1] instanceof CancelledError &&
    unavailable[4]?.[1] instanceof NotLeaderError, 'the client converts each status to its own class')
  t.strictSame((unavailable[4]?.[1] as NotLeaderError).leader, { address: 'node2.example.com', port: 2113 })
  for (const [label, error] of unavailable) {
    t.ok(isUnavailableError(error), label)
    const mapped = toStoreError(error, 'append to s')
    t.ok(mapped instanceof StoreUnavailableError, `${label} → StoreUnavailableError`)
    t.equal((mapped as StoreUnavailableError).cause, error, `${label}: cause attached`)
    t.equal((mapped as StoreUnavailableError).code, 'STORE_UNAVAILABLE')
  }

  const others: Array<[string, unknown]> = [
    ['WrongExpectedVersionError', new WrongExpectedVersionError(undefined, { streamName: 's', expected: 0n, current: 1n })],
    ['StreamNotFoundError', new StreamNotFoundError(undefined, 's')],
    ['AccessDeniedError (gRPC 16)', convertToCommandError(serviceError(16, 'Access denied'))],
    ['a TypeError', new TypeError('bad input')],
    ['not an Error', 'boom']
  ]
  for (const [label, error] of others) {
    t.notOk(isUnavailableError(error), label)
    t.equal(toStoreError(error, 'append'), error, `${label} is passed through`)
  }
  const already = new StoreUnavailableError('closed')
  t.equal(toStoreError(already, 'append'), already)
})

t.test('permanent errors stop a resubscription loop, transient ones do not', async (t) => {
  t.ok(isPermanentError(new AccessDeniedError()))
  t.ok(isPermanentError(new InvalidArgumentError('bad filter')))
  t.ok(isPermanentError(new UnsupportedError('filtered subscriptions', '21.10')))
  t.ok(isPermanentError(new RangeError('position')))
  t.notOk(isPermanentError(convertToCommandError(serviceError(14, 'UNAVAILABLE'))))
  t.notOk(isPermanentError(new Error('EventStoreDB ended the subscription')))
})

// ── positions ────────────────────────────────────────────────────────────────────────────────

t.test('a position is the event\'s commit position, a safe integer ≥ 1', async (t) => {
  t.equal(toPosition({ commit: 42n, prepare: 42n }), 42)
  t.equal(toPosition({ commit: 2n ** 53n - 1n, prepare: 2n ** 53n - 1n }), Number.MAX_SAFE_INTEGER)
  t.throws(() => toPosition({ commit: 2n ** 53n, prepare: 2n ** 53n }), RangeError, 'beyond 2^53 is refused')
  t.throws(() => toPosition({ commit: 2n ** 64n - 1n, prepare: 2n ** 64n - 1n }), RangeError,
    'the "no position" value of servers before 22.6 is refused')
  t.throws(() => toPosition(undefined), /22\.6/, 'a missing position names the server version that has it')
  t.throws(() => toPosition({ commit: 0n, prepare: 0n }), RangeError)
  t.throws(() => toPosition({ commit: 300n, prepare: 200n }), /explicit transaction/, 'legacy transaction events are refused')
})

t.test('reading after a position starts there and skips it (EventStoreDB reads inclusively)', async (t) => {
  t.equal(toReadPosition(0), 'start')
  t.strictSame(toReadPosition(1234), { commit: 1234n, prepare: 1234n })
  t.notOk(isAfter(1234, 1234), 'the event at `after` is not after it')
  t.ok(isAfter(1235, 1234))
  t.notOk(isAfter(1000, 1234))
})

// ── recorded events ──────────────────────────────────────────────────────────────────────────

t.test('a recorded event converts field by field, data and metadata exactly', async (t) => {
  const id = randomUUID()
  const data = { name: 'Zoë 名前', control: 'nul\u0000tab\t', numbers: [0, -1.5, 1e-7, Number.MAX_SAFE_INTEGER], nested: { a: [{}, []] } }
  const metadata = { actorId: randomUUID(), note: 'ünïcödé' }
  const created = new Date('2024-05-01T12:34:56.789Z')
  const event = toRecordedEvent(fromWire({
    id: id.toUpperCase(), stream: 'user-7', revision: 3, type: 'UserRenamed', data, metadata, commit: '98765', created
  }))
  t.strictSame(event, {
    id, stream: 'user-7', revision: 3, position: 98765, type: 'UserRenamed', data, metadata, recordedAt: '2024-05-01T12:34:56.789Z'
  })
  t.equal(JSON.stringify(event.data), JSON.stringify(data), 'key order preserved')
})

t.test('missing metadata reads as {}; JSON in a binary event is accepted; anything else is refused', async (t) => {
  t.strictSame(toRecordedEvent(fromWire({ stream: 's', revision: 0, type: 'T', data: { a: 1 } })).metadata, {})
  const binaryJson = fromWire({ stream: 's', revision: 0, type: 'T', contentType: 'application/octet-stream', rawData: Buffer.from('{"a":1}') })
  t.strictSame(toRecordedEvent(binaryJson).data, { a: 1 })
  const binary = fromWire({ stream: 's', revision: 0, type: 'T', contentType: 'application/octet-stream', rawData: Uint8Array.from([0xff, 0x00]) })
  t.throws(() => toRecordedEvent(binary), TypeError)
  const malformed = fromWire({ stream: 's', revision: 0, type: 'T', rawData: Buffer.from('{not json') })
  t.throws(() => toRecordedEvent(malformed), /not a JSON object/, 'the client hands malformed JSON over as a string')
  t.throws(() => toRecordedEvent(fromWire({ stream: 's', revision: 0, type: 'T', data: [1, 2] })), /not a JSON object/)
  t.throws(() => toRecordedEvent({}), TypeError, 'a resolved event without an event')
  const oldServer = fromWire({ stream: 's', revision: 0, type: 'T', commit: '18446744073709551615' })
  t.throws(() => toRecordedEvent(oldServer), RangeError, 'a stream read from a server before 22.6 has no position')
})

t.test('system events are recognized by stream or type and skipped', async (t) => {
  t.ok(isSystemEvent('$ce-user', '$>'))
  t.ok(isSystemEvent('$$user-1', '$metadata'))
  t.ok(isSystemEvent('$projections-mine-result', 'Result'), 'a projection result has an ordinary type')
  t.ok(isSystemEvent('user-1', '$UserTouched'))
  t.notOk(isSystemEvent('user-1', 'UserCreated'))
  t.equal(toUserEvent(fromWire({ stream: '$et-UserCreated', revision: 0, type: '$>' })), undefined)
  t.equal(toUserEvent({}), undefined)
  t.equal(toUserEvent(fromWire({ stream: 'user-1', revision: 0, type: 'UserCreated', commit: '77' }))?.position, 77)
})

t.test('a page of $all keeps the user events strictly after `after`', async (t) => {
  const page = [
    fromWire({ stream: 'user-1', revision: 0, type: 'UserCreated', commit: '100' }),
    fromWire({ stream: '$ce-user', revision: 0, type: '$>', commit: '200' }),
    fromWire({ stream: 'user-1', revision: 1, type: 'UserRenamed', commit: '300' }),
    fromWire({ stream: '$projections-x-result', revision: 0, type: 'Result', commit: '350' }),
    fromWire({ stream: 'user-2', revision: 0, type: 'UserCreated', commit: '400' })
  ]
  t.strictSame(userEventsAfter(page, 100).map((event) => event.position), [300, 400])
  t.strictSame(userEventsAfter(page, 0).map((event) => event.position), [100, 300, 400])
  t.strictSame(userEventsAfter(page, 400), [])
})

// ── idempotency ──────────────────────────────────────────────────────────────────────────────

t.test('a confirmed append is the batch at the reported revisions, in order', async (t) => {
  const [a, b] = [randomUUID(), randomUUID()]
  t.strictSame(confirmAppended('s', [a, b], [recorded(a, 3, 30), recorded(b, 4, 40)], 4), { nextRevision: 4, position: 40 })
  // EventStoreDB's best-effort `any` idempotency reports success for ids stored in another order.
  t.throws(() => confirmAppended('s', [b, a], [recorded(a, 0, 10)], 0), IdempotencyConflictError)
  t.throws(() => confirmAppended('s', [a, b], [recorded(b, 3, 30), recorded(a, 4, 40)], 4), IdempotencyConflictError)
  t.throws(() => confirmAppended('s', [a, b], [recorded(a, 3, 30), recorded(b, 4, 40)], 5), IdempotencyConflictError)
})

t.test('after a wrong expected version, a stored batch gives its original result', async (t) => {
  const [a, b, c] = [randomUUID(), randomUUID(), randomUUID()]
  const found = (...events: RecordedEvent[]) => new Map(events.map((event) => [event.id, event]))
  t.equal(matchStoredBatch('s', [a, b], found()), undefined, 'not stored: a real conflict of expectations')
  t.strictSame(matchStoredBatch('s', [a, b], found(recorded(a, 0, 10), recorded(b, 1, 20))), { nextRevision: 1, position: 20 })
  t.throws(() => matchStoredBatch('s', [b, c], found(recorded(b, 1, 20))), IdempotencyConflictError, 'partly stored')
  t.throws(() => matchStoredBatch('s', [c, b], found(recorded(b, 1, 20))), IdempotencyConflictError, 'first id missing')
  t.throws(() => matchStoredBatch('s', [b, a], found(recorded(a, 0, 10), recorded(b, 1, 20))), IdempotencyConflictError, 'another order')
  t.throws(() => matchStoredBatch('s', [a, b], found(recorded(a, 0, 10), recorded(b, 2, 30))), IdempotencyConflictError, 'not consecutive')
})

// ── connection strings, backoff, shared validation ───────────────────────────────────────────

t.test('connection strings: esdb:// and esdb+discover:// only, and nothing the adapter cannot work with', async (t) => {
  const good = [
    'esdb://localhost:2113?tls=false',
    'esdb://admin:changeit@node1:2113,node2:2113,node3:2113?tls=true&nodePreference=leader',
    'esdb+discover://cluster.example.com:2113?tls=true&defaultDeadline=5000',
    '  esdb://localhost  '
  ]
  for (const connectionString of good) {
    const valid = validateConnectionString(connectionString)
    t.equal(valid, connectionString.trim())
    // The client parses what we accept (no connection is made until the first call).
    await EventStoreDBClient.connectionString(valid).dispose()
  }
  const bad: Array<[unknown, RegExp]> = [
    ['http://localhost:2113', /esdb:\/\//],
    ['esdb://', /no host/],
    ['esdb+discover://a.example.com,b.example.com', /one DNS name/],
    ['esdb://localhost?throwOnAppendFailure=false', /throwOnAppendFailure/],
    ['esdb://localhost?tls=false&throw-on-append-failure=false', /throwOnAppendFailure/],
    [undefined, /must be a string/]
  ]
  for (const [connectionString, message] of bad) t.throws(() => validateConnectionString(connectionString), message, String(connectionString))
  t.throws(() => openEventStoreDbEventStore({ connectionString: 'esdb://localhost:notaport' }), TypeError,
    'what the client cannot parse is a TypeError too')
})

t.test('resubscription backoff doubles from the initial delay up to the cap, half of it jittered', async (t) => {
  const none = () => 0
  const full = () => 1
  t.equal(backoffDelay(1, {}, none), 50)
  t.equal(backoffDelay(1, {}, full), 100)
  t.equal(backoffDelay(2, {}, full), 200)
  t.equal(backoffDelay(30, {}, full), 5000)
  t.equal(backoffDelay(30, {}, none), 2500)
  t.equal(backoffDelay(3, { initialDelayMs: 10, maxDelayMs: 25 }, full), 25)
})

t.test('validation is shared with SQLite: same TypeErrors, ids normalized, JSON serialized once', async (t) => {
  const id = randomUUID()
  const { events } = validateAppend('s', [{ id: id.toUpperCase(), type: 'T', data: { a: 1 }, metadata: {} }], { expectedRevision: 'any' })
  t.equal(events[0]?.id, id)
  t.equal(events[0]?.dataJson, '{"a":1}')
  t.throws(() => validateAppend('', [], { expectedRevision: 'any' }), { name: 'TypeError', message: 'stream must be a non-empty string of at most 512 characters' })
  t.throws(() => validateAppend('s', [], { expectedRevision: -1 }), TypeError)
  const cyclic: Record<string, unknown> = {}
  cyclic.self = cyclic
  t.throws(() => validateAppend('s', [{ id, type: 'T', data: cyclic, metadata: {} }], { expectedRevision: 'any' }), TypeError,
    'data JSON cannot represent fails before any write')
})

// ── against an address that refuses connections ──────────────────────────────────────────────

/** Port 1 refuses at once; defaultDeadline bounds anything that would wait. */
const UNREACHABLE = 'esdb://127.0.0.1:1?tls=false&defaultDeadline=2000'
/** Well above the milliseconds a refused connection takes, well below a hang. */
const QUICKLY_MS = 5000

t.test('with the server unreachable, every call fails fast with StoreUnavailableError', async (t) => {
  const store = openEventStoreDbEventStore({ connectionString: UNREACHABLE })
  t.teardown(async () => await store.close())
  const event = { id: randomUUID(), type: 'T', data: {}, metadata: {} }
  const calls: Array<[string, () => Promise<unknown>]> = [
    ['append', async () => await store.append('s', [event], { expectedRevision: 'any' })],
    ['append again (the client reconnects)', async () => await store.append('s', [event], { expectedRevision: 'no_stream' })],
    ['empty append', async () => await store.append('s', [], { expectedRevision: 'any' })],
    ['readStream', async () => await store.readStream('s')],
    ['readAll', async () => await store.readAll()],
    ['headPosition', async () => await store.headPosition()]
  ]
  for (const [label, call] of calls) {
    const started = Date.now()
    const error = await rejectionOf(call())
    const elapsed = Date.now() - started
    t.ok(error instanceof StoreUnavailableError, `${label} rejects with StoreUnavailableError`)
    t.ok((error as Error).cause instanceof Error, `${label}: the client's error is the cause`)
    t.ok(elapsed < QUICKLY_MS, `${label} took ${elapsed} ms`)
  }
  t.ok(await rejectionOf(store.append('s', [{ ...event, id: 'nope' }], { expectedRevision: 'any' })) instanceof TypeError,
    'bad input is still a TypeError, before any I/O')
})

t.test('a subscription that cannot connect retries with backoff, reports it, and ends on close', async (t) => {
  const reports: Array<{ error: unknown, info: SubscriptionErrorInfo }> = []
  const store = openEventStoreDbEventStore({
    connectionString: UNREACHABLE,
    onError: (error, info) => reports.push({ error, info }),
    subscriptionRetry: { initialDelayMs: 10, maxDelayMs: 20 }
  })
  t.teardown(async () => await store.close())
  const subscription = store.subscribeToAll({ after: 1234 })
  const ended = (async () => { for await (const _ of subscription) t.fail('no events without a server') })()
  const deadline = Date.now() + QUICKLY_MS
  while (reports.length < 3 && Date.now() < deadline) await new Promise((resolve) => setTimeout(resolve, 10))
  t.ok(reports.length >= 3, `resubscribed ${reports.length} times`)
  t.strictSame(reports.slice(0, 3).map(({ info }) => info.attempt), [1, 2, 3], 'consecutive attempts are counted')
  t.ok(reports.every(({ error }) => error instanceof StoreUnavailableError), 'errors are reported as StoreUnavailableError')
  t.ok(reports.every(({ info }) => info.resumeAfter === 1234 && info.delayMs >= 5 && info.delayMs <= 20), 'bounded delays, resuming after `after`')
  await subscription.close()
  await ended
  t.strictSame(await subscription[Symbol.asyncIterator]().next(), { done: true, value: undefined })
})

t.test('a subscription gives up after maxAttempts with StoreUnavailableError', async (t) => {
  const store = openEventStoreDbEventStore({ connectionString: UNREACHABLE, subscriptionRetry: { initialDelayMs: 5, maxAttempts: 2 } })
  t.teardown(async () => await store.close())
  const subscription = store.subscribeToAll()
  const error = await rejectionOf((async () => { for await (const _ of subscription) { /* none */ } })())
  t.ok(error instanceof StoreUnavailableError, 'the iteration rejects')
  t.match((error as Error).message, /failed 2 times/)
  t.strictSame(await subscription[Symbol.asyncIterator]().next(), { done: true, value: undefined }, 'and then is done')
})

t.test('closing the store closes its subscriptions and refuses calls', async (t) => {
  const store = openEventStoreDbEventStore({ connectionString: UNREACHABLE, subscriptionRetry: { initialDelayMs: 5 } })
  const subscription = store.subscribeToAll()
  const ended = (async () => { for await (const _ of subscription) { /* none */ } })()
  await store.close()
  await ended
  await store.close()
  t.throws(() => store.subscribeToAll(), StoreUnavailableError)
  t.ok(await rejectionOf(store.readStream('s')) instanceof StoreUnavailableError)
  t.throws(() => store.subscribeToAll({ batchSize: 0 }), StoreUnavailableError, 'closed is checked first')
  const open = openEventStoreDbEventStore({ connectionString: UNREACHABLE })
  t.teardown(async () => await open.close())
  t.throws(() => open.subscribeToAll({ batchSize: 0 }), TypeError, 'subscription options are validated like SQLite\'s')
  t.ok(await rejectionOf(open.readAll({ limit: 1.5 })) instanceof TypeError)
})
