import t from 'tap'
import { openApiService, userBody } from '../helpers/api.js'

t.test('parallel retries of POST /v1/users with one Idempotency-Key create one user', async t => {
  const svc = await openApiService(t)
  const admin = await svc.adminToken()
  for (let round = 0; round < 10; round++) {
    const body = userBody()
    const responses = await Promise.all(Array.from({ length: 5 }, () =>
      svc.call('POST', '/v1/users', { token: admin, body, headers: { 'idempotency-key': `round-${round}` } })))
    t.same(responses.map(r => r.statusCode), [201, 201, 201, 201, 201])
    t.equal(new Set(responses.map(r => r.json().id)).size, 1, `round ${round}: the same user in every answer`)
    const list = await svc.call('GET', `/v1/users?username=${String(body.username)}`, { token: admin })
    t.equal(list.json().items.length, 1, `round ${round}: one user with that username`)
  }
})

t.test('a retried catalog POST with the same Idempotency-Key replays the 201', async t => {
  const svc = await openApiService(t)
  const admin = await svc.adminToken()
  const send = () => svc.call('POST', '/v1/roles', { token: admin, body: { id: 'rr', name: 'R' }, headers: { 'idempotency-key': 'c1' } })
  const first = await send()
  const again = await send()
  t.equal(first.statusCode, 201)
  t.equal(again.statusCode, 201)
  t.same(again.json(), first.json())
  const plain = await svc.call('POST', '/v1/roles', { token: admin, body: { id: 'rr', name: 'R' } })
  t.equal(plain.statusCode, 409, 'without the key it is a conflict')
})
