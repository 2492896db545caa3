/**
 * PUT /v1/users/{id}/status and PUT /v1/users/{id}/password on the real service: deactivation
 * revokes tokens at once, the last active admin is protected, activation ends a lockout, and a
 * password change or reset needs the right credentials and kills the old tokens.
 */
import t, { type Test } from 'tap'
import {
  ADMIN_PASSWORD, INVALID_TOKEN, OTHER_PASSWORD, PASSWORD, UNKNOWN_ID, errorPaths, expectProblem, loadApiDocument, openApiService, type UserView
} from '../helpers/api.js'

const svc = await openApiService(t)
const api = await loadApiDocument(svc)
const admin = svc.admin
const adminId = (await svc.call('GET', '/v1/users/me', { token: admin })).json().id as string

const auditor = await svc.createUser({ roles: ['identity-auditor'] })
const auditorToken = await svc.login(auditor.username)

const read = async (id: string) => (await svc.call('GET', `/v1/users/${id}`, { token: admin })).json() as UserView
const loginStatus = async (username: string, password: string) =>
  (await svc.call('POST', '/v1/authentication', { body: { username, password } })).statusCode
const expectRevoked = async (t: Test, token: string, what: string) => {
  const res = await svc.call('GET', '/v1/users/me', { token })
  expectProblem(t, res, 401, {}, what)
  t.equal(res.headers['www-authenticate'], INVALID_TOKEN, `${what}: WWW-Authenticate`)
}

t.test('deactivate and activate, with a reason', async t => {
  const user = await svc.createUser()
  const token = await svc.login(user.username)
  const off = await svc.call('PUT', `/v1/users/${user.id}/status`, { token: admin, body: { status: 'inactive', reason: 'left the company' } })
  t.equal(off.statusCode, 200)
  api.check(t, 'PUT', '/v1/users/{id}/status', off)
  t.match(off.json(), { id: user.id, status: 'inactive', version: user.version + 1 })
  t.equal(off.headers.etag, `"${user.version + 1}"`)
  await expectRevoked(t, token, 'the token of a deactivated user')
  t.equal(await loginStatus(user.username, PASSWORD), 401, 'an inactive user cannot log in')

  const again = await svc.call('PUT', `/v1/users/${user.id}/status`, { token: admin, body: { status: 'inactive' } })
  t.equal(again.statusCode, 200, 'deactivating again is fine')
  t.equal(again.json().status, 'inactive')

  const on = await svc.call('PUT', `/v1/users/${user.id}/status`, { token: admin, body: { status: 'active', reason: null } })
  t.equal(on.statusCode, 200)
  t.equal(on.json().status, 'active')
  t.equal(await loginStatus(user.username, PASSWORD), 200, 'active again: the password works')
  await expectRevoked(t, token, 'a token revoked by deactivation stays revoked after activation')
})

t.test('status: invalid bodies, unknown users, non-admins', async t => {
  const user = await svc.createUser()
  const own = await svc.login(user.username)
  const before = await svc.eventCount()
  for (const [body, path] of [
    [{ status: 'locked' }, '/body/status'],
    [{ status: 'deleted' }, '/body/status'],
    [{}, '/body/status'],
    [{ status: 'inactive', reason: 'x'.repeat(501) }, '/body/reason'],
    [{ status: 'inactive', until: '2030-01-01' }, '/body/until']
  ] as const) {
    const problem = expectProblem(t, await svc.call('PUT', `/v1/users/${user.id}/status`, { token: admin, body }), 400, {}, JSON.stringify(body).slice(0, 60))
    t.ok(errorPaths(problem).includes(path), JSON.stringify(problem.errors))
  }
  const missing = await svc.call('PUT', `/v1/users/${UNKNOWN_ID}/status`, { token: admin, body: { status: 'inactive' } })
  expectProblem(t, missing, 404, {}, 'unknown user')
  api.check(t, 'PUT', '/v1/users/{id}/status', missing)
  t.same(errorPaths(expectProblem(t, await svc.call('PUT', '/v1/users/nope/status', { token: admin, body: { status: 'inactive' } }), 400)), ['/params/id'])
  for (const [name, token, id] of [['auditor', auditorToken, user.id], ['the user itself', own, user.id]] as const) {
    expectProblem(t, await svc.call('PUT', `/v1/users/${id}/status`, { token, body: { status: 'inactive' } }), 403, {}, name)
  }
  t.equal(await svc.eventCount(), before)
  t.equal((await read(user.id)).status, 'active')
})

t.test('the last active identity-admin cannot be deactivated or lose the role', async t => {
  const before = await svc.eventCount()
  const res = await svc.call('PUT', `/v1/users/${adminId}/status`, { token: admin, body: { status: 'inactive' } })
  expectProblem(t, res, 422, { code: 'LAST_ADMIN' })
  api.check(t, 'PUT', '/v1/users/{id}/status', res)
  const revoke = await svc.call('DELETE', `/v1/users/${adminId}/roles/identity-admin`, { token: admin })
  expectProblem(t, revoke, 422, { code: 'LAST_ADMIN' }, 'removing the role')
  t.equal(await svc.eventCount(), before, 'nothing appended')
  t.match(await read(adminId), { status: 'active', roles: ['identity-admin'] })
  t.equal((await svc.call('GET', '/v1/users/me', { token: admin })).statusCode, 200, 'the admin token still works')

  // With a second active admin either may go; the last one standing may not. (The first admin is
  // never deactivated here: that would revoke the token the other tests use.)
  const second = await svc.createUser({ roles: ['identity-admin'] })
  const off = await svc.call('PUT', `/v1/users/${second.id}/status`, { token: admin, body: { status: 'inactive' } })
  t.equal(off.statusCode, 200, 'one of two admins may be deactivated')
  expectProblem(t, await svc.call('PUT', `/v1/users/${adminId}/status`, { token: admin, body: { status: 'inactive' } }), 422,
    { code: 'LAST_ADMIN' }, 'an inactive admin does not count')
  t.equal((await svc.call('PUT', `/v1/users/${second.id}/status`, { token: admin, body: { status: 'active' } })).statusCode, 200)
  const secondToken = await svc.login(second.username)
  const demoted = await svc.call('DELETE', `/v1/users/${second.id}/roles/identity-admin`, { token: secondToken })
  t.equal(demoted.statusCode, 204, 'with the first one active, the second may drop its own role')
  expectProblem(t, await svc.call('GET', '/v1/users', { token: secondToken }), 403, {}, 'the role removal applies to its token at once')
  expectProblem(t, await svc.call('DELETE', `/v1/users/${adminId}/roles/identity-admin`, { token: admin }), 422,
    { code: 'LAST_ADMIN' }, 'the first is the last admin again')
  t.equal((await svc.call('GET', '/v1/users/me', { token: admin })).statusCode, 200)
})

t.test('two admins deactivating each other at once leave one active admin', async t => {
  const own = await openApiService(t)
  const first = (await own.call('GET', '/v1/users/me', { token: own.admin })).json().id as string
  const second = await own.createUser({ roles: ['identity-admin'] })
  const secondToken = await own.login(second.username)
  const [a, b] = await Promise.all([
    own.call('PUT', `/v1/users/${second.id}/status`, { token: own.admin, body: { status: 'inactive' } }),
    own.call('PUT', `/v1/users/${first}/status`, { token: secondToken, body: { status: 'inactive' } })
  ])
  t.equal([a, b].filter(r => r.statusCode === 200).length, 1, `one wins: ${a.statusCode} ${b.statusCode}`)
  const loser = a.statusCode === 200 ? b : a
  // The loser is the last admin now (422), or, had the winner finished before the loser's token
  // was even checked, a revoked caller (401).
  if (loser.statusCode === 422) t.equal(loser.json().code, 'LAST_ADMIN')
  else expectProblem(t, loser, 401, {}, 'the loser was deactivated first')
  const survivor = a.statusCode === 200 ? 'admin' : second.username
  const token = await own.login(survivor, survivor === 'admin' ? ADMIN_PASSWORD : PASSWORD)
  const admins = (await own.call('GET', '/v1/users?role=identity-admin&status=active', { token })).json().items as UserView[]
  t.same(admins.map(u => u.username), [survivor], 'exactly one active admin')
})

t.test('activating a locked user ends the lockout', async t => {
  const user = await svc.createUser()
  for (let i = 0; i < 5; i++) await loginStatus(user.username, `wrong password ${i}!!`)
  t.equal((await read(user.id)).status, 'locked')
  t.equal(await loginStatus(user.username, PASSWORD), 401, 'locked')
  const res = await svc.call('PUT', `/v1/users/${user.id}/status`, { token: admin, body: { status: 'active', reason: 'verified by phone' } })
  t.equal(res.statusCode, 200)
  t.equal(res.json().status, 'active', 'the answer already shows the unlock')
  t.equal((await read(user.id)).status, 'active')
  t.equal(await loginStatus(user.username, PASSWORD), 200, 'the user logs in again')
  for (let i = 0; i < 4; i++) t.equal(await loginStatus(user.username, `wrong again ${i}!!`), 401)
  t.equal((await read(user.id)).status, 'active', 'the failure count started over')
})

t.test('a user changes its own password', async t => {
  const user = await svc.createUser()
  const token = await svc.login(user.username)
  const res = await svc.call('PUT', `/v1/users/${user.id}/password`, { token, body: { currentPassword: PASSWORD, newPassword: OTHER_PASSWORD } })
  t.equal(res.statusCode, 204, res.body)
  t.equal(res.body, '')
  api.check(t, 'PUT', '/v1/users/{id}/password', res)
  await expectRevoked(t, token, 'the token issued before the change')
  t.equal(await loginStatus(user.username, PASSWORD), 401, 'the old password is gone')
  t.equal(await loginStatus(user.username, OTHER_PASSWORD), 200, 'the new password works')
  const after = await read(user.id)
  t.equal(after.version, user.version + 1)
})

t.test('own password: currentPassword is required, must be right, and a wrong one counts toward the lockout', async t => {
  const user = await svc.createUser()
  const token = await svc.login(user.username)
  const before = await read(user.id)
  const missing = await svc.call('PUT', `/v1/users/${user.id}/password`, { token, body: { newPassword: OTHER_PASSWORD } })
  t.same(errorPaths(expectProblem(t, missing, 400, {}, 'no currentPassword')), ['/body/currentPassword'])
  api.check(t, 'PUT', '/v1/users/{id}/password', missing)
  for (let i = 0; i < 4; i++) {
    const wrong = await svc.call('PUT', `/v1/users/${user.id}/password`, { token, body: { currentPassword: `not it ${i} at all`, newPassword: OTHER_PASSWORD } })
    expectProblem(t, wrong, 403, {}, `wrong currentPassword ${i + 1}`)
    api.check(t, 'PUT', '/v1/users/{id}/password', wrong)
  }
  t.equal((await read(user.id)).version, before.version, 'the password did not change')
  t.equal(await loginStatus(user.username, 'a fifth wrong guess'), 401)
  t.equal((await read(user.id)).status, 'locked', 'four wrong current passwords and one wrong login lock the account')
  // A lockout stops guessing; it ends no token already issued (issue 18).
  t.equal((await svc.call('GET', `/v1/users/${user.id}`, { token })).statusCode, 200, 'the token of a locked user still works')
})

t.test('admins too need currentPassword for their own password', async t => {
  const second = await svc.createUser({ roles: ['identity-admin'] })
  const token = await svc.login(second.username)
  const missing = await svc.call('PUT', `/v1/users/${second.id}/password`, { token, body: { newPassword: OTHER_PASSWORD } })
  expectProblem(t, missing, 400, {}, 'an admin on itself without currentPassword')
  const wrong = await svc.call('PUT', `/v1/users/${adminId}/password`, { token: admin, body: { currentPassword: 'definitely wrong', newPassword: OTHER_PASSWORD } })
  expectProblem(t, wrong, 403, {}, 'the bootstrap admin with a wrong currentPassword')
  t.equal(await loginStatus('admin', ADMIN_PASSWORD), 200, 'unchanged')
})

t.test('an admin resets another user\'s password', async t => {
  const user = await svc.createUser()
  const token = await svc.login(user.username)
  const res = await svc.call('PUT', `/v1/users/${user.id}/password`, { token: admin, body: { newPassword: OTHER_PASSWORD } })
  t.equal(res.statusCode, 204, res.body)
  await expectRevoked(t, token, 'the user\'s token after the reset')
  t.equal(await loginStatus(user.username, OTHER_PASSWORD), 200)
  t.equal(await loginStatus(user.username, PASSWORD), 401)
  t.equal((await svc.call('GET', '/v1/users/me', { token: admin })).statusCode, 200, 'the admin\'s own token is untouched')

  const missing = await svc.call('PUT', `/v1/users/${UNKNOWN_ID}/password`, { token: admin, body: { newPassword: OTHER_PASSWORD } })
  expectProblem(t, missing, 404, {}, 'unknown user')
  api.check(t, 'PUT', '/v1/users/{id}/password', missing)
  t.same(errorPaths(expectProblem(t, await svc.call('PUT', '/v1/users/abc/password', { token: admin, body: { newPassword: OTHER_PASSWORD } }), 400)), ['/params/id'])
})

t.test('who may set a password', async t => {
  const user = await svc.createUser()
  const other = await svc.createUser()
  const token = await svc.login(user.username)
  const before = await svc.eventCount()
  for (const [name, tok, id, body] of [
    ['a plain user on another user', token, other.id, { newPassword: OTHER_PASSWORD }],
    ['a plain user on another user, with its current password', token, other.id, { currentPassword: PASSWORD, newPassword: OTHER_PASSWORD }],
    ['an auditor on another user', auditorToken, user.id, { newPassword: OTHER_PASSWORD }]
  ] as const) {
    const res = await svc.call('PUT', `/v1/users/${id}/password`, { token: tok, body })
    expectProblem(t, res, 403, {}, name)
    api.check(t, 'PUT', '/v1/users/{id}/password', res)
  }
  t.equal(await svc.eventCount(), before)
  t.equal(await loginStatus(other.username, PASSWORD), 200, 'the other user\'s password is unchanged')
})

t.test('weak new passwords are 422 with a reason', async t => {
  const user = await svc.createUser({ username: 'weakling.user' })
  const token = await svc.login(user.username)
  for (const [who, tok, body] of [
    ['self', token, { currentPassword: PASSWORD }],
    ['admin', admin, {}]
  ] as const) {
    for (const [newPassword, reason] of [
      ['tiny pass', 'too_short'],
      ['zzzzzzzzzzzzzzzzzzzz', 'common'],
      ['weakling.user is my password', 'contains_username']
    ]) {
      const res = await svc.call('PUT', `/v1/users/${user.id}/password`, { token: tok, body: { ...body, newPassword } })
      expectProblem(t, res, 422, { code: 'WEAK_PASSWORD', reason }, `${who}: ${reason}`)
      api.check(t, 'PUT', '/v1/users/{id}/password', res)
    }
    const huge = await svc.call('PUT', `/v1/users/${user.id}/password`, { token: tok, body: { ...body, newPassword: 'correct horse battery '.repeat(50) } })
    t.ok([400, 422].includes(huge.statusCode), `${who}: over 1 KiB → ${huge.statusCode}`)
  }
  t.equal(await loginStatus(user.username, PASSWORD), 200, 'the password is unchanged')
  t.equal((await read(user.id)).status, 'active', 'a weak new password is not a failed authentication')
})
