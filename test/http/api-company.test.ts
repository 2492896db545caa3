/**
 * Company-scoped administration over the API (issue 13): company roles, and what a company
 * admin and a company auditor see and change. The exhaustive route × caller × target check is
 * company-matrix.test.ts; this file walks the rules one by one.
 */
import t from 'tap'
import { expectProblem, UNKNOWN_ID, userBody, type UserView } from '../helpers/api.js'
import { A, B, openCompanyWorld } from './company-fixture.js'

t.test('company roles: granted, shown, removed, and removed with the company link', async t => {
  const { svc, users } = await openCompanyWorld(t)
  const admin = svc.admin
  const granted = await svc.call('POST', `/v1/users/${users.inA.id}/roles`, { token: admin, body: { roleId: 'company-admin', companyId: A } })
  t.equal(granted.statusCode, 200)
  const view = granted.json() as UserView
  t.strictSame(view.companyRoles, [{ companyId: A, roleId: 'company-admin' }])
  t.strictSame(view.roles, ['dispatcher'], 'global roles unchanged')

  expectProblem(t, await svc.call('POST', `/v1/users/${users.inA.id}/roles`, { token: admin, body: { roleId: 'dispatcher', companyId: B } }),
    422, { code: 'COMPANY_NOT_LINKED' }, 'a company the user is not linked to')
  expectProblem(t, await svc.call('POST', `/v1/users/${users.inA.id}/roles`, { token: admin, body: { roleId: 'company-admin' } }),
    422, { code: 'ROLE_COMPANY_ONLY' }, 'company-admin globally')
  expectProblem(t, await svc.call('POST', `/v1/users/${users.inA.id}/roles`, { token: admin, body: { roleId: 'identity-admin', companyId: A } }),
    422, { code: 'ROLE_GLOBAL_ONLY' }, 'identity-admin in a company')

  await svc.call('POST', `/v1/users/${users.inA.id}/roles`, { token: admin, body: { roleId: 'dispatcher', companyId: A } })
  const removed = await svc.call('DELETE', `/v1/users/${users.inA.id}/roles/dispatcher?companyId=${A}`, { token: admin })
  t.equal(removed.statusCode, 204)
  const after = (await svc.call('GET', `/v1/users/${users.inA.id}`, { token: admin })).json() as UserView
  t.strictSame(after.companyRoles, [{ companyId: A, roleId: 'company-admin' }], 'the company role went, the global dispatcher stayed')
  t.strictSame(after.roles, ['dispatcher'])

  const before = await svc.eventCount()
  t.equal((await svc.call('DELETE', `/v1/users/${users.inA.id}/companies/${A}`, { token: admin })).statusCode, 204)
  const unlinked = (await svc.call('GET', `/v1/users/${users.inA.id}`, { token: admin })).json() as UserView
  t.strictSame([unlinked.companies, unlinked.companyRoles], [[], []], 'unlinking removed the company role too')
  // Read past the leak guard: history items carry the redacted passwordHash key.
  const history = (await svc.app.inject({ method: 'GET', url: `/v1/users/${users.inA.id}/history?limit=200`, headers: { authorization: `Bearer ${admin}` } })).json() as { items: { type: string, data: Record<string, unknown> }[] }
  t.strictSame(history.items.slice(-2).map(i => i.type), ['UserCompanyRoleRevoked', 'UserCompanyUnlinked'], 'an event for each')
  t.ok(await svc.eventCount() > before)
})

t.test('a company admin runs its company and sees nothing of another', async t => {
  const { svc, users, caller } = await openCompanyWorld(t)
  const { user: me, token } = await caller({ companies: [A], companyRoles: [[A, 'company-admin']] })

  const list = (await svc.call('GET', '/v1/users?limit=200', { token })).json() as { items: UserView[] }
  t.strictSame(list.items.map(u => u.id).sort(), [users.inA.id, users.inAB.id, users.adminInA.id, me.id].sort(), 'only the users linked to its company')
  const both = list.items.find(u => u.id === users.inAB.id)!
  t.strictSame([both.companies, both.companyRoles], [[A], []], 'of a user in two companies, only its own company shows')
  t.strictSame(((await svc.call('GET', `/v1/users?companyId=${B}`, { token })).json() as { items: unknown[] }).items, [], 'a filter on another company finds nobody')
  t.strictSame(((await svc.call('GET', `/v1/users?q=${encodeURIComponent(users.inB.username)}`, { token })).json() as { items: unknown[] }).items, [], 'search finds nobody outside')

  const hidden = await svc.call('GET', `/v1/users/${users.inB.id}`, { token })
  const missing = await svc.call('GET', `/v1/users/${UNKNOWN_ID}`, { token })
  expectProblem(t, hidden, 404)
  t.strictSame(hidden.json(), missing.json(), 'a user of another company reads exactly as one that does not exist')
  const byName = await svc.call('GET', `/v1/users/by-username/${users.inB.username}`, { token })
  t.strictSame([byName.statusCode, byName.json()], [404, (await svc.call('GET', '/v1/users/by-username/nobody-here', { token })).json()])

  const edit = (id: string, body: Record<string, unknown>) => svc.call('PUT', `/v1/users/${id}`, { token, body })
  const newProfile = { email: `x${Date.now()}@example.com`, firstName: 'New', lastName: 'Name', identificationType: 'CC', identificationNumber: `N${Date.now()}` }
  t.equal((await edit(users.inA.id, newProfile)).statusCode, 200, 'edits a user of its company')
  const outside = await edit(users.inB.id, newProfile)
  const nowhere = await edit(UNKNOWN_ID, newProfile)
  t.strictSame([outside.statusCode, outside.json()], [404, { ...(nowhere.json() as object), userId: users.inB.id }], 'a user of another company: 404, the body of a missing user')
  expectProblem(t, await edit(users.adminInA.id, { ...newProfile, email: 'other@example.com', identificationNumber: 'OTHER1' }), 403, { code: 'OUT_OF_COMPANY_SCOPE' }, 'never an identity-admin')

  const created = await svc.call('POST', '/v1/users', { token, body: userBody() })
  t.equal(created.statusCode, 201)
  t.strictSame((created.json() as UserView).companies, [A], 'created users are linked to its company')
  expectProblem(t, await svc.call('POST', '/v1/users', { token, body: userBody({ companies: [B] }) }), 403, { code: 'OUT_OF_COMPANY_SCOPE' })
  expectProblem(t, await svc.call('POST', '/v1/users', { token, body: userBody({ roles: ['dispatcher'] }) }), 403, { code: 'OUT_OF_COMPANY_SCOPE' })

  const grant = (id: string, body: Record<string, unknown>) => svc.call('POST', `/v1/users/${id}/roles`, { token, body })
  t.equal((await grant(users.inA.id, { roleId: 'dispatcher', companyId: A })).statusCode, 200, 'a business role in its company')
  t.equal((await grant(users.inA.id, { roleId: 'company-auditor', companyId: A })).statusCode, 200, 'company-auditor of its company')
  expectProblem(t, await grant(users.inA.id, { roleId: 'dispatcher' }), 403, {}, 'no global role')
  expectProblem(t, await grant(users.inAB.id, { roleId: 'dispatcher', companyId: B }), 403, {}, 'not in another company')
  expectProblem(t, await grant(users.inA.id, { roleId: 'identity-subscriber', companyId: A }), 403, {}, 'no other system role')
  expectProblem(t, await svc.call('DELETE', `/v1/users/${users.inAB.id}/companies/${B}`, { token }), 403, {}, 'not another company\'s link')
  expectProblem(t, await svc.call('POST', '/v1/roles', { token, body: { id: 'pilot', name: 'Pilot' } }), 403, {}, 'no catalog edits')

  t.equal((await svc.call('PUT', `/v1/users/${users.inA.id}/password`, { token, body: { newPassword: 'a brand new passphrase 42' } })).statusCode, 204, 'resets a password')
  t.equal((await svc.call('PUT', `/v1/users/${users.inA.id}/status`, { token, body: { status: 'inactive' } })).statusCode, 200, 'deactivates')
  t.equal((await svc.call('DELETE', `/v1/users/${users.inA.id}/companies/${A}`, { token })).statusCode, 204, 'unlinks its company')
  expectProblem(t, await svc.call('GET', `/v1/users/${users.inA.id}`, { token }), 404, {}, 'and then no longer sees the user')
})

t.test('a company auditor reads its company, with history and as-of, and changes nothing', async t => {
  const { svc, users, caller } = await openCompanyWorld(t)
  const { token } = await caller({ companies: [A], companyRoles: [[A, 'company-auditor']] })
  t.equal((await svc.call('GET', `/v1/users/${users.inA.id}`, { token })).statusCode, 200)
  const read = (url: string) => svc.app.inject({ method: 'GET', url, headers: { authorization: `Bearer ${token}` } })
  t.equal((await read(`/v1/users/${users.inA.id}/history`)).statusCode, 200)
  const asOf = await svc.call('GET', `/v1/users/${users.inAB.id}?asOf=${encodeURIComponent(new Date().toISOString())}`, { token })
  t.equal(asOf.statusCode, 200)
  t.strictSame((asOf.json() as UserView).companies, [A], 'as-of shows its own company only')
  const history = (await read(`/v1/users/${users.inAB.id}/history`)).json() as { items: { type: string, data: Record<string, unknown> }[] }
  t.notOk(JSON.stringify(history.items).includes(B), 'the history of a user in two companies leaves the other company out')
  expectProblem(t, await read(`/v1/users/${users.inB.id}/history`), 404)
  expectProblem(t, await svc.call('PUT', `/v1/users/${users.inA.id}/status`, { token, body: { status: 'inactive' } }), 403)
})
