/**
 * Roles held in a company, and who may change a user (src/domain/company-scope.ts), as
 * given/when/then: the decider for the events, the plan for the authority.
 */
import t from 'tap'
import { authorizeUserCommand, type Authority } from '../../src/domain/company-scope.js'
import { DomainError } from '../../src/domain/errors.js'
import type { EventOf, UserEvent } from '../../src/domain/events.js'
import { planUserCommand } from '../../src/domain/user-plan.js'
import { userDecider, type UserCommand, type UserState } from '../../src/domain/user.js'
import { fold } from '../../src/domain/decider.js'
import { ALICE, catalog, specification } from './given-when-then.js'

const user = specification(userDecider)
const roles = { ...catalog.roles, 'company-admin': 'active', 'company-auditor': 'active', 'identity-auditor': 'active', 'identity-subscriber': 'active' } as const
const snapshot = { ...catalog, roles }

const registered = (data: Partial<EventOf<'UserRegistered'>['data']> = {}): UserEvent => ({
  type: 'UserRegistered',
  data: {
    userId: ALICE, username: 'alice', email: 'alice@example.com', firstName: 'Alice', lastName: 'Liddell',
    identificationType: 'CC', identificationNumber: '1', phone: null, passwordHash: 'h', roles: [], companies: ['acme'], providers: [], ...data
  }
})
const granted = (companyId: string, roleId: string): UserEvent => ({ type: 'UserCompanyRoleAssigned', data: { userId: ALICE, companyId, roleId } })
const revoked = (companyId: string, roleId: string): UserEvent => ({ type: 'UserCompanyRoleRevoked', data: { userId: ALICE, companyId, roleId } })
const grant = (companyId: string, roleId: string): UserCommand => ({ type: 'AssignCompanyRole', data: { userId: ALICE, companyId, roleId, catalog: snapshot } })
const remove = (companyId: string, roleId: string): UserCommand => ({ type: 'RevokeCompanyRole', data: { userId: ALICE, companyId, roleId } })

t.test('company roles', async t => {
  t.test('a role in a company the user is linked to', async t => {
    const state = user(t).given([registered()]).when(grant('acme', 'dispatcher')).then([granted('acme', 'dispatcher')])
    t.strictSame(state.status !== 'none' && state.companyRoles, [{ companyId: 'acme', roleId: 'dispatcher' }])
  })
  t.test('granting it again appends nothing', async t => {
    user(t).given([registered(), granted('acme', 'dispatcher')]).when(grant('acme', 'dispatcher')).thenNothing()
  })
  t.test('a company the user is not linked to is COMPANY_NOT_LINKED', async t => {
    user(t).given([registered()]).when(grant('globex', 'dispatcher')).thenThrows('COMPANY_NOT_LINKED', { companyId: 'globex' })
  })
  t.test('an unknown or inactive role is refused as for a global grant', async t => {
    user(t).given([registered()]).when(grant('acme', 'pilot')).thenThrows('ROLE_UNKNOWN')
    user(t).given([registered()]).when(grant('acme', 'retired')).thenThrows('ROLE_INACTIVE')
  })
  t.test('identity-admin and identity-auditor are global only', async t => {
    user(t).given([registered()]).when(grant('acme', 'identity-admin')).thenThrows('ROLE_GLOBAL_ONLY')
    user(t).given([registered()]).when(grant('acme', 'identity-auditor')).thenThrows('ROLE_GLOBAL_ONLY')
  })
  t.test('company-admin and company-auditor are in a company only', async t => {
    user(t).given([registered()]).when({ type: 'AssignRole', data: { userId: ALICE, roleId: 'company-admin', catalog: snapshot } }).thenThrows('ROLE_COMPANY_ONLY')
    user(t).given([]).when({
      type: 'RegisterUser',
      data: { ...(registered().data as EventOf<'UserRegistered'>['data']), roles: ['company-auditor'], catalog: snapshot }
    }).thenThrows('ROLE_COMPANY_ONLY')
  })
  t.test('identity-subscriber may be held in a company', async t => {
    user(t).given([registered()]).when(grant('acme', 'identity-subscriber')).then([granted('acme', 'identity-subscriber')])
  })
  t.test('removing one held in that company; the same role elsewhere stays', async t => {
    const given = [registered({ companies: ['acme', 'globex'] }), granted('acme', 'dispatcher'), granted('globex', 'dispatcher')]
    const state = user(t).given(given).when(remove('acme', 'dispatcher')).then([revoked('acme', 'dispatcher')])
    t.strictSame(state.status !== 'none' && state.companyRoles, [{ companyId: 'globex', roleId: 'dispatcher' }])
  })
  t.test('removing one not held appends nothing', async t => {
    user(t).given([registered()]).when(remove('acme', 'dispatcher')).thenNothing()
  })
  t.test('unlinking a company revokes its roles first, then unlinks', async t => {
    const given = [registered({ companies: ['acme', 'globex'] }), granted('acme', 'company-admin'), granted('acme', 'dispatcher'), granted('globex', 'dispatcher')]
    const state = user(t).given(given).when({ type: 'UnlinkCompany', data: { userId: ALICE, companyId: 'acme' } }).then([
      revoked('acme', 'company-admin'), revoked('acme', 'dispatcher'), { type: 'UserCompanyUnlinked', data: { userId: ALICE, companyId: 'acme' } }
    ])
    t.strictSame(state.status !== 'none' && [state.companies, state.companyRoles], [['globex'], [{ companyId: 'globex', roleId: 'dispatcher' }]])
  })
  t.test('global roles are unchanged by company roles', async t => {
    const state = user(t).given([registered({ roles: ['dispatcher'] })]).when(grant('acme', 'company-admin')).then([granted('acme', 'company-admin')])
    t.strictSame(state.status !== 'none' && state.roles, ['dispatcher'])
  })
})

// ── authority ───────────────────────────────────────────────────────────────────────────────
const adminOf = (...companies: string[]): Authority => ({ kind: 'company', companies })
const stateOf = (...events: UserEvent[]): UserState => fold(userDecider, events)

/** The code planUserCommand throws, or 'ok'. */
function verdict (authority: Authority, command: UserCommand, before: UserState): string {
  try {
    planUserCommand(command, before, authority)
    return 'ok'
  } catch (error) {
    if (error instanceof DomainError) return error.code
    throw error
  }
}

const profile = { type: 'UpdateProfile', data: { userId: ALICE, catalog: snapshot, email: 'new@example.com', firstName: 'A', lastName: 'L', identificationType: 'CC', identificationNumber: '1', phone: null } } as const
const status: UserCommand = { type: 'ChangeStatus', data: { userId: ALICE, status: 'inactive', reason: null } }
const reset: UserCommand = { type: 'ResetPassword', data: { userId: ALICE, passwordHash: 'h2' } }

t.test('a company admin and the users of its company', async t => {
  const inAcme = stateOf(registered())
  t.equal(verdict(adminOf('acme'), profile, inAcme), 'ok', 'edits the profile')
  t.equal(verdict(adminOf('acme'), status, inAcme), 'ok', 'changes the status')
  t.equal(verdict(adminOf('acme'), reset, inAcme), 'ok', 'resets the password')
  t.equal(verdict(adminOf('acme'), grant('acme', 'dispatcher'), inAcme), 'ok', 'grants a business role in its company')
  t.equal(verdict(adminOf('acme'), grant('acme', 'company-admin'), inAcme), 'ok', 'grants company-admin of its company')
  t.equal(verdict(adminOf('acme'), grant('acme', 'company-auditor'), inAcme), 'ok', 'grants company-auditor of its company')
  t.equal(verdict(adminOf('acme'), grant('acme', 'identity-subscriber'), inAcme), 'OUT_OF_COMPANY_SCOPE', 'not another system role')
  t.equal(verdict(adminOf('acme'), { type: 'AssignRole', data: { userId: ALICE, roleId: 'dispatcher', catalog: snapshot } }, inAcme), 'OUT_OF_COMPANY_SCOPE', 'no global role')
  t.equal(verdict(adminOf('acme'), { type: 'RevokeRole', data: { userId: ALICE, roleId: 'dispatcher' } }, inAcme), 'OUT_OF_COMPANY_SCOPE', 'removes no global role')
  t.equal(verdict(adminOf('acme'), { type: 'LinkCompany', data: { userId: ALICE, companyId: 'globex', catalog: snapshot } }, inAcme), 'OUT_OF_COMPANY_SCOPE', 'links no other company')
  t.equal(verdict(adminOf('acme'), { type: 'UnlinkCompany', data: { userId: ALICE, companyId: 'acme' } }, inAcme), 'ok', 'unlinks its company')
  t.equal(verdict(adminOf('acme'), { type: 'LinkProvider', data: { userId: ALICE, providerId: 'carrier-x', externalUserId: null, catalog: snapshot } }, inAcme), 'OUT_OF_COMPANY_SCOPE', 'links no provider')
})

t.test('a user outside its companies is answered as one that does not exist', async t => {
  const inGlobex = stateOf(registered({ companies: ['globex'] }))
  const nobody = stateOf()
  for (const command of [profile, status, reset, grant('acme', 'dispatcher'), { type: 'AssignRole', data: { userId: ALICE, roleId: 'dispatcher', catalog: snapshot } } as UserCommand]) {
    t.equal(verdict(adminOf('acme'), command, inGlobex), 'USER_NOT_FOUND', `${command.type} on a user of another company`)
    t.equal(verdict(adminOf('acme'), command, nobody), 'USER_NOT_FOUND', `${command.type} on a user that does not exist`)
  }
  let hidden: DomainError | undefined
  let missing: DomainError | undefined
  try { authorizeUserCommand(adminOf('acme'), profile, inGlobex) } catch (e) { hidden = e as DomainError }
  try { planUserCommand(profile, nobody, adminOf('acme')) } catch (e) { missing = e as DomainError }
  t.strictSame([hidden?.message, hidden?.details], [missing?.message, missing?.details], 'same message and details')
})

t.test('a user unlinked from the company a moment ago is refused', async t => {
  const before = stateOf(registered(), { type: 'UserCompanyUnlinked', data: { userId: ALICE, companyId: 'acme' } })
  t.equal(verdict(adminOf('acme'), profile, before), 'USER_NOT_FOUND')
})

t.test('users a company admin sees but may not change', async t => {
  t.equal(verdict(adminOf('acme'), profile, stateOf(registered({ roles: ['identity-admin'] }))), 'OUT_OF_COMPANY_SCOPE', 'an identity-admin')
  t.equal(verdict(adminOf('acme'), reset, stateOf(registered({ roles: ['identity-auditor'] }))), 'OUT_OF_COMPANY_SCOPE', 'an identity-auditor')
  const adminElsewhere = stateOf(registered({ companies: ['acme', 'globex'] }), granted('globex', 'company-admin'))
  t.equal(verdict(adminOf('acme'), reset, adminElsewhere), 'OUT_OF_COMPANY_SCOPE', 'the admin of another company')
  t.equal(verdict(adminOf('acme', 'globex'), reset, adminElsewhere), 'ok', 'unless it administers that company too')
  t.equal(verdict(adminOf('acme'), profile, stateOf(registered({ companies: ['acme', 'globex'], roles: ['dispatcher'] }))), 'ok', 'a dispatcher in two companies')
})

t.test('a company admin creates users in its companies only', async t => {
  const base = { ...(registered().data as EventOf<'UserRegistered'>['data']), catalog: snapshot }
  const create = (data: Partial<typeof base>): UserCommand => ({ type: 'RegisterUser', data: { ...base, ...data } })
  const none = stateOf()
  t.equal(verdict(adminOf('acme'), create({ companies: ['acme'] }), none), 'ok')
  t.equal(verdict(adminOf('acme'), create({ companies: [] }), none), 'COMPANY_REQUIRED')
  t.equal(verdict(adminOf('acme'), create({ companies: ['acme', 'globex'] }), none), 'OUT_OF_COMPANY_SCOPE')
  t.equal(verdict(adminOf('acme'), create({ roles: ['dispatcher'] }), none), 'OUT_OF_COMPANY_SCOPE')
  t.equal(verdict(adminOf('acme'), create({ providers: [{ providerId: 'carrier-x', externalUserId: null }] }), none), 'OUT_OF_COMPANY_SCOPE')
  t.equal(verdict({ kind: 'global' }, create({ companies: [] }), none), 'ok', 'an identity-admin needs no company')
})
