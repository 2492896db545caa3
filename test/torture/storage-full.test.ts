/**
 * Storage full at the service level: the running service's event store cannot grow any more
 * (SQLite's max_page_count set to the file's current size on the store's own connection, the
 * same SQLITE_FULL a full disk gives, with nothing special needed in CI). Every write then answers
 * a clean 503 problem with Retry-After and stores nothing at all; reads and existing tokens keep
 * working; once space is back the same writes succeed, without a restart.
 * (test/eventstore-sqlite.test.ts covers the same fault at the event-store level.)
 */
import t from 'tap'
import type { RecordedEvent } from '../../src/eventstore/port.js'
import type { SqliteEventStore } from '../../src/eventstore/sqlite.js'
import { expectProblem, openApiService, PASSWORD, profileOf, userBody, type UserView } from '../helpers/api.js'

const UNLIMITED = 1073741823

t.test('a full event store: clean 503s, nothing partial, reads work, writes resume without a restart', async (t) => {
  const svc = await openApiService(t)
  const store = svc.store as SqliteEventStore
  const admin = svc.admin
  t.equal((await svc.call('POST', '/v1/roles', { token: admin, body: { id: 'full-role', name: 'Full' } })).statusCode, 201)
  const victim = await svc.createUser()
  const victimToken = await svc.login(victim.username)

  store.db.pragma(`max_page_count = ${Number(store.db.pragma('page_count', { simple: true }))}`)

  // Fill what is left of the last pages until the store refuses. A registration appends its
  // reservations first (one stream each) and the user after: when the space runs out between
  // the two, the reservations stay, and the compensating releases are refused too. They are then
  // owed: stored before the next reservation, so the refused registration can simply be retried.
  const refusedBodies: Array<Record<string, unknown>> = []
  const leftovers: RecordedEvent[] = []
  let accepted = 0
  for (let i = 0; i < 500 && refusedBodies.length < 3; i++) {
    const body = userBody({ firstName: 'F'.repeat(100), lastName: 'L'.repeat(100) })
    const head = await store.headPosition()
    const res = await svc.call('POST', '/v1/users', { token: admin, body })
    if (res.statusCode === 201) { accepted++; continue }
    expectProblem(t, res, 503, {}, `registration ${i} on a full store`)
    t.ok(Number(res.headers['retry-after']) > 0, 'with Retry-After')
    const stored = await store.readAll({ after: head })
    t.ok(stored.every(e => e.type === 'ValueReserved' && e.stream.startsWith('reservation-')),
      `registration ${i}: no user, no other event stored (${stored.map(e => e.type).join(', ') || 'nothing'})`)
    leftovers.push(...stored)
    refusedBodies.push(body)
  }
  t.equal(refusedBodies.length, 3, `the store filled up (after ${accepted} more registrations)`)

  await t.test('every kind of write is refused whole', async (t) => {
    const writes: Array<[string, string, string, unknown]> = [
      ['assign role', 'POST', `/v1/users/${victim.id}/roles`, { roleId: 'full-role' }],
      ['deactivate', 'PUT', `/v1/users/${victim.id}/status`, { status: 'inactive' }],
      ['profile update', 'PUT', `/v1/users/${victim.id}`, { ...profileOf(victim), email: 'changed.full@example.com', identificationNumber: 'FULL1' }],
      ['password reset', 'PUT', `/v1/users/${victim.id}/password`, { newPassword: 'a brand new passphrase here' }],
      ['catalog entry', 'POST', '/v1/companies', { id: 'full-co', name: 'Full Co' }],
      ['login', 'POST', '/v1/authentication', { username: victim.username, password: PASSWORD }],
      ['failed login', 'POST', '/v1/authentication', { username: victim.username, password: 'not the password at all' }]
    ]
    for (const [name, method, url, body] of writes) {
      const before = await svc.eventCount()
      const res = await svc.call(method, url, { token: admin, body })
      expectProblem(t, res, 503, {}, name)
      t.ok(Number(res.headers['retry-after']) > 0, `${name}: Retry-After`)
      t.equal(await svc.eventCount(), before, `${name}: nothing stored`)
    }
  })

  await t.test('reads and existing tokens keep working', async (t) => {
    t.equal((await svc.call('GET', '/v1/users?limit=5', { token: admin })).statusCode, 200, 'list users')
    t.equal((await svc.call('GET', `/v1/users/${victim.id}`, { token: admin })).statusCode, 200, 'read a user')
    t.equal((await svc.call('GET', '/v1/users/me', { token: victimToken })).statusCode, 200, 'a user reads itself')
    t.equal((await svc.call('GET', '/v1/roles', { token: admin })).statusCode, 200, 'catalogs')
    t.equal((await svc.call('GET', '/health/live')).statusCode, 200, 'liveness')
    t.equal(svc.runner.state, 'running', 'the projection runner is still running')
  })

  store.db.pragma(`max_page_count = ${UNLIMITED}`)

  await t.test('with space back, the refused writes succeed without a restart', async (t) => {
    for (const body of refusedBodies) {
      const res = await svc.call('POST', '/v1/users', { token: admin, body })
      t.equal(res.statusCode, 201, `the refused registration of ${String(body.username)} now succeeds: ${res.body.slice(0, 200)}`)
    }
    for (const reserved of leftovers) {
      const stream = await store.readStream(reserved.stream)
      const released = stream.some(e => e.type === 'ValueReleased' && e.data.userId === reserved.data.userId && e.position > reserved.position)
      t.ok(released, `the reservation ${reserved.stream} of the refused attempt was released`)
    }
    const assigned = await svc.call('POST', `/v1/users/${victim.id}/roles`, { token: admin, body: { roleId: 'full-role' } })
    t.equal(assigned.statusCode, 200)
    t.strictSame((assigned.json() as UserView).roles, ['full-role'])
    t.equal((await svc.call('POST', '/v1/companies', { token: admin, body: { id: 'full-co', name: 'Full Co' } })).statusCode, 201)
    t.equal((await svc.call('POST', '/v1/authentication', { body: { username: victim.username, password: PASSWORD } })).statusCode, 200, 'login')
    t.equal(svc.runner.state, 'running')
  })
  t.comment(`storage full: ${accepted} registrations fitted after the limit, ${refusedBodies.length} refused and replayed after; ${leftovers.length} reservations left by refused attempts, all released`)
})

t.test('a write whose clean-up the store refuses still answers for the write it stored', async (t) => {
  // Fault injection on the store's own connection: every ValueReleased insert fails, as a write
  // hitting a bad sector or a full disk would (a TEMP trigger lives only on this connection).
  const svc = await openApiService(t)
  const store = svc.store as SqliteEventStore
  const user = await svc.createUser()
  const oldEmail = user.email
  store.db.exec("CREATE TEMP TRIGGER refuse_release BEFORE INSERT ON events WHEN NEW.type = 'ValueReleased' BEGIN SELECT RAISE(ABORT, 'injected write failure'); END")

  const res = await svc.call('PUT', `/v1/users/${user.id}`, { token: svc.admin, body: { ...profileOf(user), email: `moved.${oldEmail}` } })
  t.equal(res.statusCode, 200, `the profile change was stored, so it is answered 200 (not 503): ${res.body.slice(0, 200)}`)
  t.equal((res.json() as UserView).email, `moved.${oldEmail}`)
  const taken = await svc.call('POST', '/v1/users', { token: svc.admin, body: userBody({ email: oldEmail }) })
  t.equal(taken.statusCode, 409, 'while the release is refused, the old email stays reserved')

  store.db.exec('DROP TRIGGER refuse_release')
  const reused = await svc.call('POST', '/v1/users', { token: svc.admin, body: userBody({ email: oldEmail }) })
  t.equal(reused.statusCode, 201, `once writes work, the owed release is stored first and the old email is free: ${reused.body.slice(0, 200)}`)
})
