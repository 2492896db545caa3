/**
 * Concurrency. Over HTTP (a real socket): 100 concurrent, conflicting commands against one user —
 * role assignments and revocations, status flips, profile updates with and without If-Match —
 * in several rounds. Every answer is 2xx, 409 or 412 (412 only with If-Match); every 2xx that
 * changes something is in the user's stream under its request id, every refusal left nothing;
 * and the user the API shows (body and ETag) is exactly the fold of the stored stream.
 *
 * At the event-store level: 64 concurrent appends expecting the same revision, 1,000 rounds,
 * exactly one winner per round — on SQLite through two connections to one file in this thread,
 * on SQLite across 8 worker threads with a connection each (the file lock arbitrates), and on
 * EventStoreDB when EVENTSTORE_CONNECTION_STRING is set.
 */
import { randomUUID } from 'node:crypto'
import { writeFileSync } from 'node:fs'
import { dirname, join } from 'node:path'
import { Worker } from 'node:worker_threads'
import t, { type Test } from 'tap'
import { streams } from '../../src/domain/events.js'
import { openEventStoreDbEventStore } from '../../src/eventstore/eventstoredb.js'
import { WrongExpectedRevisionError, type EventStore } from '../../src/eventstore/port.js'
import { openSqliteEventStore } from '../../src/eventstore/sqlite.js'
import { openApiService, profileOf, type UserView } from '../helpers/api.js'
import { client, compiledMain, envInt, foldUser, tempDir } from '../helpers/torture.js'

const HTTP_ROUNDS = envInt('TORTURE_CONCURRENCY_ROUNDS', 5)
const STORE_ROUNDS = envInt('TORTURE_APPEND_ROUNDS', 1000)
const CONTENDERS = 64

t.test(`100 concurrent conflicting commands against one user, ${HTTP_ROUNDS} rounds`, async (t) => {
  const svc = await openApiService(t)
  const base = await svc.app.listen({ host: '127.0.0.1', port: 0 })
  const call = client(base)
  const admin = svc.admin
  const assignRoles = Array.from({ length: 40 }, (_, i) => `cc-assign-${i}`)
  const revokeRoles = Array.from({ length: 10 }, (_, i) => `cc-revoke-${i}`)
  for (const id of [...assignRoles, ...revokeRoles]) {
    t.equal((await call('POST', '/v1/roles', { token: admin, body: { id, name: id } })).status, 201)
  }
  const statuses = new Map<number, number>()
  let acknowledged = 0

  for (let round = 1; round <= HTTP_ROUNDS; round++) {
    await t.test(`round ${round}`, async (t) => {
      const user = await svc.createUser({ roles: revokeRoles })
      const version = user.version
      type Sent = { id: string, kind: 'assign' | 'revoke' | 'status' | 'profile' | 'profile-if-match', detail: string, send: () => ReturnType<typeof call> }
      const requests: Sent[] = []
      const add = (kind: Sent['kind'], detail: string, send: (headers: Record<string, string>) => ReturnType<typeof call>): void => {
        const id = `r${round}-${kind}-${requests.length}`
        requests.push({ id, kind, detail, send: () => send({ 'x-request-id': id }) })
      }
      for (const roleId of assignRoles) add('assign', roleId, (headers) => call('POST', `/v1/users/${user.id}/roles`, { token: admin, headers, body: { roleId } }))
      for (const roleId of revokeRoles) add('revoke', roleId, (headers) => call('DELETE', `/v1/users/${user.id}/roles/${roleId}`, { token: admin, headers }))
      for (let i = 0; i < 20; i++) {
        const status = i % 2 === 0 ? 'inactive' : 'active'
        add('status', status, (headers) => call('PUT', `/v1/users/${user.id}/status`, { token: admin, headers, body: { status } }))
      }
      for (let i = 0; i < 15; i++) {
        const firstName = `Plain${round}x${i}`
        add('profile', firstName, (headers) => call('PUT', `/v1/users/${user.id}`, { token: admin, headers, body: { ...profileOf(user), firstName } }))
      }
      for (let i = 0; i < 15; i++) {
        const firstName = `Matched${round}x${i}`
        add('profile-if-match', firstName, (headers) => call('PUT', `/v1/users/${user.id}`, {
          token: admin, headers: { ...headers, 'if-match': `"${version}"` }, body: { ...profileOf(user), firstName }
        }))
      }
      t.equal(requests.length, 100)
      // Shuffled, then all at once.
      requests.sort(() => Math.random() - 0.5)
      const answers = await Promise.all(requests.map(async (r) => ({ request: r, res: await r.send() })))

      const stream = await svc.store.readStream(streams.user(user.id))
      const byRequest = new Map<string, typeof stream>()
      for (const e of stream) {
        const id = String(e.metadata.correlationId)
        byRequest.set(id, [...(byRequest.get(id) ?? []), e])
      }
      const bad: string[] = []
      for (const { request, res } of answers) {
        statuses.set(res.status, (statuses.get(res.status) ?? 0) + 1)
        const ok = res.status >= 200 && res.status < 300
        const allowed = ok || res.status === 409 || (res.status === 412 && request.kind === 'profile-if-match')
        if (!allowed) bad.push(`${request.id}: ${res.status} ${res.text.slice(0, 200)}`)
        const events = byRequest.get(request.id) ?? []
        if (ok) {
          acknowledged++
          // A status flip may find the user already in that status (a no-op); everything else here always changes something.
          const wanted = { assign: 'UserRoleAssigned', revoke: 'UserRoleRevoked', profile: 'UserProfileUpdated', 'profile-if-match': 'UserProfileUpdated', status: null }[request.kind]
          if (wanted !== null && !events.some((e) => e.type === wanted)) bad.push(`${request.id}: acknowledged ${res.status} but ${wanted} is not in the stream`)
        } else if (events.length > 0) {
          bad.push(`${request.id}: refused ${res.status} but appended ${events.map((e) => e.type).join(', ')}`)
        }
      }
      t.strictSame(bad, [], 'every answer is 2xx, 409 or 412, and the stream agrees with every answer')

      const folded = foldUser(stream)
      const res = await call('GET', `/v1/users/${user.id}`, { token: admin })
      const shown = res.body as UserView
      if (folded.status === 'none') throw new Error('the user vanished')
      t.strictSame({
        roles: [...shown.roles].sort(),
        status: shown.status,
        profile: profileOf(shown)
      }, {
        roles: [...folded.roles].sort(),
        status: folded.status,
        profile: profileOf({ ...folded, phone: folded.phone } as unknown as UserView)
      }, 'the API shows exactly the fold of the stored events')
      t.equal(shown.version, stream.at(-1)!.revision, 'version is the stream revision')
      t.equal(res.headers.get('etag'), `"${stream.at(-1)!.revision}"`, 'and so is the ETag')
      const matched = answers.filter((a) => a.request.kind === 'profile-if-match' && a.res.status === 200).length
      t.ok(matched <= 1, `at most one If-Match update of version ${version} won (${matched})`)
    })
  }
  const figures = Object.fromEntries([...statuses].sort(([a], [b]) => a - b))
  t.comment(`concurrency over HTTP: ${HTTP_ROUNDS * 100} requests, ${acknowledged} acknowledged and found in the streams; statuses ${JSON.stringify(figures)}`)
})

async function appendRace (t: Test, name: string, stores: readonly EventStore[], rounds: number): Promise<void> {
  const stream = `race-${randomUUID()}`
  let expected: number | 'no_stream' = 'no_stream'
  const bad: string[] = []
  let losers = 0
  const started = Date.now()
  for (let round = 0; round < rounds; round++) {
    const outcomes = await Promise.allSettled(Array.from({ length: CONTENDERS }, async (_, i) =>
      await stores[i % stores.length]!.append(stream, [{ id: randomUUID(), type: 'RaceWon', data: { round, contender: i }, metadata: {} }], { expectedRevision: expected })))
    const winners = outcomes.filter((o) => o.status === 'fulfilled')
    const wrong = outcomes.filter((o) => o.status === 'rejected' && !(o.reason instanceof WrongExpectedRevisionError))
    losers += outcomes.length - winners.length
    if (winners.length !== 1 || wrong.length > 0) {
      bad.push(`round ${round}: ${winners.length} winners, ${wrong.length} unexpected errors ${wrong.map((o) => String((o as PromiseRejectedResult).reason)).join('; ').slice(0, 200)}`)
      if (bad.length > 5) break
    }
    expected = round
  }
  t.strictSame(bad, [], `${name}: exactly one winner in each of ${rounds} rounds of ${CONTENDERS}`)
  const events = await stores[0]!.readStream(stream)
  t.equal(events.length, rounds, `${name}: the stream holds one event per round`)
  t.ok(events.every((e, i) => e.revision === i && e.data.round === i), `${name}: in round order`)
  t.comment(`${name}: ${rounds} rounds × ${CONTENDERS} concurrent appends, ${rounds} winners, ${losers} WrongExpectedRevision, ${Date.now() - started} ms`)
}

t.test('event store: 64 concurrent appends with one expected revision, exactly one winner', async (t) => {
  await t.test('SQLite, two connections to one file', async (t) => {
    const dir = tempDir(t)
    const path = join(dir, 'events.db')
    const a = openSqliteEventStore({ path })
    const b = openSqliteEventStore({ path })
    t.teardown(async () => { await a.close(); await b.close() })
    await appendRace(t, 'sqlite', [a, b], STORE_ROUNDS)
  })

  await t.test(`SQLite, ${THREADS} threads with a connection each`, async (t) => {
    const path = join(tempDir(t), 'events.db')
    await threadedAppendRace(t, path, STORE_ROUNDS)
  })

  const connectionString = process.env.EVENTSTORE_CONNECTION_STRING?.trim() ?? ''
  await t.test('EventStoreDB', {
    skip: connectionString === '' ? 'EVENTSTORE_CONNECTION_STRING is not set; no EventStoreDB server to race on (see test/eventstore-esdb.test.ts)' : false
  }, async (t) => {
    const store = openEventStoreDbEventStore({ connectionString })
    t.teardown(async () => await store.close())
    await appendRace(t, 'eventstoredb', [store], STORE_ROUNDS)
  })
})

// ── the same race across threads ────────────────────────────────────────────────────────────
// In one thread better-sqlite3 is synchronous, so the contenders above take turns. Here each of
// THREADS worker threads has its own connection (its own group commit) and sends its share of
// the 64 appends at once, released together by a barrier: the file's lock is what arbitrates.

const THREADS = 8

const WORKER_SOURCE = `
import { workerData, parentPort } from 'node:worker_threads'
import { openSqliteEventStore } from './eventstore/sqlite.js'
import { WrongExpectedRevisionError } from './eventstore/port.js'
const { path, stream, share, index } = workerData
const store = openSqliteEventStore({ path })
const go = new Int32Array(workerData.go)
parentPort.on('message', async ({ round, expected }) => {
  if (round === -1) { await store.close(); parentPort.postMessage('closed'); return }
  parentPort.postMessage({ ready: round })
  Atomics.wait(go, 0, round)
  const outcomes = await Promise.all(Array.from({ length: share }, async (_, i) => {
    try {
      await store.append(stream, [{ id: crypto.randomUUID(), type: 'RaceWon', data: { round, contender: index * share + i }, metadata: {} }], { expectedRevision: expected })
      return 'won'
    } catch (err) {
      return err instanceof WrongExpectedRevisionError ? 'lost' : 'error: ' + String(err)
    }
  }))
  parentPort.postMessage({ round, outcomes })
})
`

async function threadedAppendRace (t: Test, path: string, rounds: number): Promise<void> {
  // The worker runs the compiled copy of src/ (test/helpers/torture.ts): no TypeScript loader in workers.
  const script = join(dirname(compiledMain()), `append-race-${process.pid}.mjs`)
  writeFileSync(script, WORKER_SOURCE)
  const stream = `race-${randomUUID()}`
  await openSqliteEventStore({ path }).close() // the schema exists before the threads race
  const go = new SharedArrayBuffer(4)
  const flag = new Int32Array(go)
  // Round r waits while the flag is r; the main thread sets r + 1 to release it.
  Atomics.store(flag, 0, 0)
  const share = CONTENDERS / THREADS
  const workers = Array.from({ length: THREADS }, (_, index) => new Worker(script, { workerData: { path, stream, share, index, go } }))
  t.teardown(async () => { await Promise.all(workers.map(async (w) => await w.terminate())) })
  const next = (w: Worker): Promise<any> => new Promise((resolve, reject) => { w.once('message', resolve); w.once('error', reject) })

  const bad: string[] = []
  let losers = 0
  let expected: number | 'no_stream' = 'no_stream'
  const started = Date.now()
  for (let round = 0; round < rounds; round++) {
    const ready = workers.map(next)
    for (const w of workers) w.postMessage({ round, expected })
    await Promise.all(ready)
    const results = workers.map(next)
    // Every thread is parked on the barrier (or about to be): release them together.
    Atomics.store(flag, 0, round + 1)
    Atomics.notify(flag, 0)
    const outcomes = (await Promise.all(results)).flatMap((r: { outcomes: string[] }) => r.outcomes)
    const won = outcomes.filter((o) => o === 'won').length
    const errors = outcomes.filter((o) => o.startsWith('error'))
    losers += outcomes.filter((o) => o === 'lost').length
    if (won !== 1 || errors.length > 0 || outcomes.length !== CONTENDERS) {
      bad.push(`round ${round}: ${won} winners of ${outcomes.length}, errors ${errors.slice(0, 2).join('; ').slice(0, 200)}`)
      if (bad.length > 5) break
    }
    expected = round
  }
  await Promise.all(workers.map(async (w) => { const closed = next(w); w.postMessage({ round: -1 }); await closed }))
  t.strictSame(bad, [], `sqlite, ${THREADS} threads: exactly one winner in each of ${rounds} rounds of ${CONTENDERS}`)
  const store = openSqliteEventStore({ path })
  const events = await store.readStream(stream)
  await store.close()
  t.equal(events.length, rounds, `sqlite, ${THREADS} threads: the stream holds one event per round`)
  t.ok(events.every((e, i) => e.revision === i && e.data.round === i), `sqlite, ${THREADS} threads: in round order`)
  t.comment(`sqlite, ${THREADS} threads × ${share} appends: ${rounds} rounds × ${CONTENDERS} concurrent appends, ${rounds} winners, ${losers} WrongExpectedRevision, ${Date.now() - started} ms`)
}
