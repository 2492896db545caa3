/**
 * Issue 13 item 5: access tokens carry `companies` and `company_roles` as routing hints, and
 * authorization still comes from the read model: a token that still carries a revoked company
 * role is refused at once (the attack: keep using the old token after the revoke).
 */
import t from 'tap'
import { A, B, openCompanyWorld } from './company-fixture.js'

const claimsOf = (token: string): Record<string, unknown> =>
  JSON.parse(Buffer.from(token.split('.')[1]!, 'base64url').toString('utf8')) as Record<string, unknown>

t.test('the token carries companies and company roles; a revoke applies at once', async t => {
  const { svc, users, caller } = await openCompanyWorld(t)
  const { user, token } = await caller({ companies: [A, B], companyRoles: [[A, 'company-admin'], [A, 'dispatcher'], [B, 'dispatcher']] })
  const claims = claimsOf(token)
  t.strictSame(claims.companies, [A, B].sort(), 'companies: the linked companies')
  t.strictSame(claims.company_roles, { [A]: ['company-admin', 'dispatcher'], [B]: ['dispatcher'] }, 'company_roles: roles by company')

  const plain = claimsOf(await svc.login(users.inNone.username))
  t.notOk('companies' in plain || 'company_roles' in plain, 'a user in no company carries neither claim')

  t.equal((await svc.call('GET', `/v1/users/${users.inA.id}`, { token })).statusCode, 200, 'A\'s admin reads a user of A')
  const revoke = await svc.call('DELETE', `/v1/users/${user.id}/roles/company-admin?companyId=${A}`, { token: svc.admin })
  t.ok(revoke.statusCode === 200 || revoke.statusCode === 204, `revoked (${revoke.statusCode})`)
  t.strictSame((claimsOf(token).company_roles as Record<string, string[]>)[A], ['company-admin', 'dispatcher'], 'the old token still says company-admin')
  const read = await svc.call('GET', `/v1/users/${users.inA.id}`, { token })
  t.equal(read.statusCode, 403, 'the old token is refused at once (a plain user now): the read model decides')
  const edit = await svc.call('PUT', `/v1/users/${users.inA.id}/status`, { token, body: { status: 'inactive' } })
  t.not(edit.statusCode, 200, `and cannot change the user (${edit.statusCode})`)

  const fresh = claimsOf(await svc.login(user.username))
  t.strictSame(fresh.company_roles, { [A]: ['dispatcher'], [B]: ['dispatcher'] }, 'a new sign-in carries the roles as they are now')
})
