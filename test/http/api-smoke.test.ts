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

t.test('/metrics counts group commits and the appends they carried', async t => {
  const svc = await openTestService(t)
  const admin = await svc.adminToken()
  const counters = async (): Promise<{ commits: number, appends: number }> => {
    const text = (await svc.call('GET', '/metrics')).body
    const value = (name: string): number => Number(new RegExp(`^${name} (\\d+)$`, 'm').exec(text)?.[1] ?? Number.NaN)
    return { commits: value('idm_eventstore_group_commits'), appends: value('idm_eventstore_group_commit_appends') }
  }
  const before = await counters()
  t.ok(before.commits >= 1 && before.appends >= before.commits, `bootstrap and login committed: ${JSON.stringify(before)}`)
  // A registration appends four streams (three reservations, then the user): at least two commits.
  const created = await svc.call('POST', '/v1/users', {
    token: admin,
    body: { username: 'metered', email: 'metered@example.com', firstName: 'M', lastName: 'Etered', identificationType: 'CC', identificationNumber: '77001', password: 'correct horse battery staple' }
  })
  t.equal(created.statusCode, 201, created.body)
  const after = await counters()
  t.equal(after.appends - before.appends, 4, 'three reservations and the user stream')
  t.ok(after.commits - before.commits >= 1 && after.commits - before.commits <= 4, `commits ${after.commits - before.commits}`)
})
