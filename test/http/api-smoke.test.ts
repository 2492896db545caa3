import t from 'tap'
import { openTestService } from '../helpers/service.js'

t.test('the bootstrapped admin logs in, creates a user and reads it back', async t => {
  const svc = await openTestService(t)
  const admin = await svc.adminToken()
  const created = await svc.call('POST', '/v1/users', {
    token: admin,
    body: { username: 'JDoe', email: 'jdoe@example.com', firstName: 'John', lastName: 'Doe', identificationType: 'CC', identificationNumber: '1020304050', password: 'correct horse battery staple', roles: ['identity-auditor'] }
  })
  t.equal(created.statusCode, 201, created.body)
  const user = created.json()
  t.equal(created.headers.location, `/v1/users/${user.id}`)
  t.equal(created.headers.etag, '"0"')
  t.match(user, { username: 'jdoe', status: 'active', roles: ['identity-auditor'], version: 0 })
  const read = await svc.call('GET', `/v1/users/${user.id}`, { token: admin })
  t.same(read.json(), user, 'read-your-writes: the next read sees the write')
  const own = await svc.token('jdoe', 'correct horse battery staple')
  t.equal((await svc.call('GET', '/v1/users/me', { token: own })).json().id, user.id)
})
