/**
 * Idempotent retries: a write retried with the same Idempotency-Key appends its events once and
 * answers as the first time — 1,000 retries of one key (sequential and in parallel bursts), every
 * kind of write, a retry after the first response was lost on the wire (the client hung up), and
 * a retry after someone else changed the user in between (the old write is not re-applied).
 * (test/http/api-idempotency.test.ts covers 5 parallel retries of a registration.)
 */
import { request as httpRequest } from 'node:http'
import t from 'tap'
import { openApiService, profileOf, userBody, type UserView } from '../helpers/api.js'
import { envInt, sleep } from '../helpers/torture.js'

const RETRIES = envInt('TORTURE_IDEMPOTENT_RETRIES', 1000)

const svc = await openApiService(t)
const admin = svc.admin
t.equal((await svc.call('POST', '/v1/roles', { token: admin, body: { id: 'idem-role', name: 'Idem' } })).statusCode, 201)

t.test(`${RETRIES} retries of one registration give one user and one set of events`, async (t) => {
  const body = userBody()
  const key = 'registration-retried'
  const send = async () => await svc.call('POST', '/v1/users', { token: admin, body, headers: { 'idempotency-key': key } })
  const first = await send()
  t.equal(first.statusCode, 201)
  const head = await svc.store.headPosition()
  const user = first.json() as UserView
  let same = 0
  const differ: string[] = []
  const check = (res: Awaited<ReturnType<typeof send>>): void => {
    if (res.statusCode === 201 && res.body === first.body && res.headers.location === first.headers.location && res.headers.etag === first.headers.etag) same++
    else differ.push(`${res.statusCode} ${res.body.slice(0, 200)}`)
  }
  const sequential = Math.floor(RETRIES * 0.7)
  for (let i = 0; i < sequential; i++) check(await send())
  for (let done = sequential; done < RETRIES; done += 50) {
    const burst = await Promise.all(Array.from({ length: Math.min(50, RETRIES - done) }, send))
    burst.forEach(check)
  }
  t.strictSame(differ.slice(0, 5), [], 'every retry answers 201 with the same body, Location and ETag')
  t.equal(same, RETRIES)
  t.equal(await svc.store.headPosition(), head, `${RETRIES} retries appended nothing`)
  const users = (await svc.call('GET', `/v1/users?username=${String(body.username)}`, { token: admin })).json().items as UserView[]
  t.strictSame(users.map((u) => u.id), [user.id], 'one user with that username')
  t.comment(`idempotency: ${RETRIES} retries (${sequential} sequential, ${RETRIES - sequential} in bursts of 50) of one registration, 0 events appended by them`)
})

t.test('every kind of write, retried, appends once and answers the same', async (t) => {
  const user = await svc.createUser()
  const writes: Array<[string, string, string, unknown]> = [
    ['assign role', 'POST', `/v1/users/${user.id}/roles`, { roleId: 'idem-role' }],
    ['revoke role', 'DELETE', `/v1/users/${user.id}/roles/idem-role`, undefined],
    ['profile', 'PUT', `/v1/users/${user.id}`, { ...profileOf(user), firstName: 'Retried' }],
    ['deactivate', 'PUT', `/v1/users/${user.id}/status`, { status: 'inactive' }],
    ['activate', 'PUT', `/v1/users/${user.id}/status`, { status: 'active' }],
    ['password reset', 'PUT', `/v1/users/${user.id}/password`, { newPassword: 'a retried brand new passphrase' }],
    ['company', 'POST', '/v1/companies', { id: 'idem-co', name: 'Idem Co' }],
    ['link company', 'POST', `/v1/users/${user.id}/companies`, { companyId: 'idem-co' }]
  ]
  for (const [name, method, url, body] of writes) {
    const headers = { 'idempotency-key': `every-kind-${name.replaceAll(' ', '-')}` }
    const first = await svc.call(method, url, { token: admin, body, headers })
    t.ok(first.statusCode >= 200 && first.statusCode < 300, `${name}: ${first.statusCode}`)
    const head = await svc.store.headPosition()
    const retries = await Promise.all(Array.from({ length: 20 }, async () => await svc.call(method, url, { token: admin, body, headers })))
    t.ok(retries.every((r) => r.statusCode === first.statusCode && r.body === first.body), `${name}: 20 retries answer as the first time`)
    t.equal(await svc.store.headPosition(), head, `${name}: and append nothing`)
  }
})

t.test('a retry after a concurrent change does not re-apply the old write', async (t) => {
  const user = await svc.createUser()
  const headers = { 'idempotency-key': 'assign-then-someone-revokes' }
  t.equal((await svc.call('POST', `/v1/users/${user.id}/roles`, { token: admin, body: { roleId: 'idem-role' }, headers })).statusCode, 200)
  t.equal((await svc.call('DELETE', `/v1/users/${user.id}/roles/idem-role`, { token: admin })).statusCode, 204, 'someone else revokes it')
  const head = await svc.store.headPosition()
  const retry = await svc.call('POST', `/v1/users/${user.id}/roles`, { token: admin, body: { roleId: 'idem-role' }, headers })
  t.equal(retry.statusCode, 200)
  t.strictSame((retry.json() as UserView).roles, [], 'the retry answers with the current user; the revocation stands')
  t.equal(await svc.store.headPosition(), head, 'nothing appended')
})

t.test('a response lost on the wire: the client hangs up, retries, and gets the one user', async (t) => {
  const base = await svc.app.listen({ host: '127.0.0.1', port: 0 })
  const body = userBody()
  const key = 'lost-response'
  const payload = JSON.stringify(body)
  // Send the whole request, then hang up before any answer arrives.
  await new Promise<void>((resolve) => {
    const req = httpRequest(new URL('/v1/users', base), {
      method: 'POST',
      agent: false,
      headers: { authorization: `Bearer ${admin}`, 'content-type': 'application/json', 'content-length': Buffer.byteLength(payload), 'idempotency-key': key }
    })
    req.on('error', () => resolve())
    req.on('response', () => { req.destroy(); resolve() })
    req.end(payload, () => { setTimeout(() => { req.destroy(); resolve() }, 5) })
  })
  await sleep(200)
  const headAfterLoss = await svc.store.headPosition()
  const retried = await fetch(`${base}/v1/users`, {
    method: 'POST',
    headers: { authorization: `Bearer ${admin}`, 'content-type': 'application/json', 'idempotency-key': key },
    body: payload
  })
  t.equal(retried.status, 201, 'the retry is answered 201')
  const user = await retried.json() as UserView
  const again = await fetch(`${base}/v1/users`, {
    method: 'POST',
    headers: { authorization: `Bearer ${admin}`, 'content-type': 'application/json', 'idempotency-key': key },
    body: payload
  })
  t.equal((await again.json() as UserView).id, user.id, 'and a second retry names the same user')
  const registered = (await svc.store.readAll({ after: 0, limit: 1e6 })).filter((e) => e.type === 'UserRegistered' && e.data.username === body.username)
  t.equal(registered.length, 1, 'one UserRegistered for that username, whether or not the lost request had been processed')
  t.comment(`lost response: the hung-up request ${headAfterLoss > 0 && registered[0]!.position <= headAfterLoss ? 'had' : 'had not'} been processed before the retry`)
})
