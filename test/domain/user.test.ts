import t from 'tap'
import { userDecider, isActiveAdmin, ADMIN_ROLE, type UserCommand, type UserProfile } from '../../src/domain/user.js'
import type { EventOf, UserEvent } from '../../src/domain/events.js'
import { fold } from '../../src/domain/decider.js'
import { specification, ALICE, catalog } from './given-when-then.js'

const user = specification(userDecider)

const profile: UserProfile = {
  email: 'Alice@Example.com',
  firstName: 'Alice',
  lastName: 'Liddell',
  identificationType: 'CC',
  identificationNumber: '1020304050',
  phone: '+573001234567'
}

type Register = Extract<UserCommand, { type: 'RegisterUser' }>
const register = (data: Partial<Register['data']> = {}): Register => ({
  type: 'RegisterUser',
  data: { userId: ALICE, username: 'alice', passwordHash: 'scrypt$hash-1', roles: ['dispatcher'], companies: ['acme'], providers: [], catalog, ...profile, ...data }
})

const registered = (data: Partial<EventOf<'UserRegistered'>['data']> = {}): UserEvent => ({
  type: 'UserRegistered',
  data: { userId: ALICE, username: 'alice', ...profile, passwordHash: 'scrypt$hash-1', roles: ['dispatcher'], companies: ['acme'], providers: [], ...data }
})

t.test('RegisterUser', async t => {
  t.test('a new user is registered active with its profile, hash and associations', async t => {
    user(t).given([]).when(register({ providers: [{ providerId: 'carrier-x', externalUserId: 'x-981' }] }))
      .then([registered({ providers: [{ providerId: 'carrier-x', externalUserId: 'x-981' }] })])
  })

  t.test('the registered user folds to an active state', async t => {
    user(t).given([registered()]).thenState({
      status: 'active', userId: ALICE, username: 'alice', passwordHash: 'scrypt$hash-1',
      roles: ['dispatcher'], companies: ['acme'], providers: [], credentialVersion: 0, companyRoles: [], ...profile
    })
  })

  t.test('duplicate roles and companies are dropped and sorted', async t => {
    user(t).given([]).when(register({ roles: ['identity-admin', 'dispatcher', 'identity-admin'], companies: ['globex', 'acme', 'globex'] }))
      .then([registered({ roles: ['dispatcher', 'identity-admin'], companies: ['acme', 'globex'] })])
  })

  t.test('a provider listed twice keeps its first link', async t => {
    const providers = [
      { providerId: 'carrier-y', externalUserId: null },
      { providerId: 'carrier-x', externalUserId: 'x-1' },
      { providerId: 'carrier-y', externalUserId: 'y-2' }
    ]
    user(t).given([]).when(register({ providers }))
      .then([registered({ providers: [{ providerId: 'carrier-y', externalUserId: null }, { providerId: 'carrier-x', externalUserId: 'x-1' }] })])
  })

  t.test('registering an existing user is USER_EXISTS', async t => {
    user(t).given([registered()]).when(register()).thenThrows('USER_EXISTS')
  })

  t.test('a username not in its normalized form is INVALID_USERNAME', async t => {
    user(t).given([]).when(register({ username: 'Alice' })).thenThrows('INVALID_USERNAME')
  })

  t.test('an unknown role is ROLE_UNKNOWN', async t => {
    user(t).given([]).when(register({ roles: ['pilot'] })).thenThrows('ROLE_UNKNOWN', { id: 'pilot' })
  })

  t.test('an inactive role is ROLE_INACTIVE', async t => {
    user(t).given([]).when(register({ roles: ['dispatcher', 'retired'] })).thenThrows('ROLE_INACTIVE', { id: 'retired' })
  })

  t.test('a role named like an Object.prototype member is still unknown', async t => {
    user(t).given([]).when(register({ roles: ['constructor'] })).thenThrows('ROLE_UNKNOWN', { id: 'constructor' })
  })

  t.test('an unknown company is COMPANY_UNKNOWN', async t => {
    user(t).given([]).when(register({ companies: ['initech'] })).thenThrows('COMPANY_UNKNOWN', { id: 'initech' })
  })

  t.test('an inactive company is COMPANY_INACTIVE', async t => {
    user(t).given([]).when(register({ companies: ['defunct'] })).thenThrows('COMPANY_INACTIVE', { id: 'defunct' })
  })

  t.test('an unknown provider is PROVIDER_UNKNOWN', async t => {
    user(t).given([]).when(register({ providers: [{ providerId: 'carrier-z', externalUserId: null }] }))
      .thenThrows('PROVIDER_UNKNOWN', { id: 'carrier-z' })
  })

  t.test('an inactive provider is PROVIDER_INACTIVE', async t => {
    user(t).given([]).when(register({ providers: [{ providerId: 'gone', externalUserId: null }] }))
      .thenThrows('PROVIDER_INACTIVE', { id: 'gone' })
  })

  t.test('an unknown identification type is IDENTIFICATION_TYPE_UNKNOWN', async t => {
    user(t).given([]).when(register({ identificationType: 'XX' })).thenThrows('IDENTIFICATION_TYPE_UNKNOWN', { id: 'XX' })
  })

  t.test('an inactive identification type is IDENTIFICATION_TYPE_INACTIVE', async t => {
    user(t).given([]).when(register({ identificationType: 'OLD' })).thenThrows('IDENTIFICATION_TYPE_INACTIVE', { id: 'OLD' })
  })

  t.test('a snapshot without the kind at all means unknown', async t => {
    user(t).given([]).when(register({ catalog: { identificationTypes: { CC: 'active' } } })).thenThrows('ROLE_UNKNOWN', { id: 'dispatcher' })
  })
})

t.test('every command but RegisterUser needs an existing user: USER_NOT_FOUND', async t => {
  const commands: UserCommand[] = [
    { type: 'UpdateProfile', data: { userId: ALICE, catalog, ...profile } },
    { type: 'AssignRole', data: { userId: ALICE, roleId: 'dispatcher', catalog } },
    { type: 'RevokeRole', data: { userId: ALICE, roleId: 'dispatcher' } },
    { type: 'ChangePassword', data: { userId: ALICE, passwordHash: 'h' } },
    { type: 'ResetPassword', data: { userId: ALICE, passwordHash: 'h' } },
    { type: 'RehashPassword', data: { userId: ALICE, passwordHash: 'h' } },
    { type: 'ChangeStatus', data: { userId: ALICE, status: 'inactive', reason: null } },
    { type: 'LinkCompany', data: { userId: ALICE, companyId: 'acme', catalog } },
    { type: 'UnlinkCompany', data: { userId: ALICE, companyId: 'acme' } },
    { type: 'LinkProvider', data: { userId: ALICE, providerId: 'carrier-x', externalUserId: null, catalog } },
    { type: 'UnlinkProvider', data: { userId: ALICE, providerId: 'carrier-x' } }
  ]
  for (const command of commands) {
    t.test(command.type, async t => { user(t).given([]).when(command).thenThrows('USER_NOT_FOUND') })
  }
})

t.test('UpdateProfile', async t => {
  const update = (change: Partial<UserProfile>, snapshot = catalog): UserCommand =>
    ({ type: 'UpdateProfile', data: { userId: ALICE, catalog: snapshot, ...profile, ...change } })

  t.test('a changed field emits the whole profile', async t => {
    const state = user(t).given([registered()]).when(update({ email: 'alice@wonderland.example', phone: null }))
      .then([{ type: 'UserProfileUpdated', data: { userId: ALICE, ...profile, email: 'alice@wonderland.example', phone: null } }])
    t.match(state, { email: 'alice@wonderland.example', phone: null, username: 'alice', roles: ['dispatcher'] })
  })

  t.test('the same profile emits nothing', async t => {
    user(t).given([registered()]).when(update({})).thenNothing()
  })

  t.test('a new identification type must be active', async t => {
    user(t).given([registered()]).when(update({ identificationType: 'NIT' }))
      .then([{ type: 'UserProfileUpdated', data: { userId: ALICE, ...profile, identificationType: 'NIT' } }])
  })

  t.test('a new unknown identification type is IDENTIFICATION_TYPE_UNKNOWN', async t => {
    user(t).given([registered()]).when(update({ identificationType: 'XX' })).thenThrows('IDENTIFICATION_TYPE_UNKNOWN')
  })

  t.test('a new inactive identification type is IDENTIFICATION_TYPE_INACTIVE', async t => {
    user(t).given([registered()]).when(update({ identificationType: 'OLD' })).thenThrows('IDENTIFICATION_TYPE_INACTIVE')
  })

  t.test('an unchanged identification type is not checked again (it may have been deactivated since)', async t => {
    user(t).given([registered()]).when(update({ firstName: 'Alicia' }, { identificationTypes: { CC: 'inactive' } }))
      .then([{ type: 'UserProfileUpdated', data: { userId: ALICE, ...profile, firstName: 'Alicia' } }])
  })
})

t.test('AssignRole', async t => {
  const assign = (roleId: string): UserCommand => ({ type: 'AssignRole', data: { userId: ALICE, roleId, catalog } })

  t.test('an active role is assigned and kept sorted', async t => {
    const state = user(t).given([registered()]).when(assign('auditor'))
      .then([{ type: 'UserRoleAssigned', data: { userId: ALICE, roleId: 'auditor' } }])
    t.match(state, { roles: ['auditor', 'dispatcher'] })
  })

  t.test('a role already held emits nothing', async t => {
    user(t).given([registered()]).when(assign('dispatcher')).thenNothing()
  })

  t.test('a role already held emits nothing even if it was deactivated since', async t => {
    user(t).given([registered()]).when({ type: 'AssignRole', data: { userId: ALICE, roleId: 'dispatcher', catalog: {} } }).thenNothing()
  })

  t.test('an unknown role is ROLE_UNKNOWN', async t => {
    user(t).given([registered()]).when(assign('pilot')).thenThrows('ROLE_UNKNOWN', { id: 'pilot' })
  })

  t.test('an inactive role is ROLE_INACTIVE', async t => {
    user(t).given([registered()]).when(assign('retired')).thenThrows('ROLE_INACTIVE', { id: 'retired' })
  })
})

t.test('RevokeRole', async t => {
  t.test('a held role is revoked', async t => {
    const state = user(t).given([registered()]).when({ type: 'RevokeRole', data: { userId: ALICE, roleId: 'dispatcher' } })
      .then([{ type: 'UserRoleRevoked', data: { userId: ALICE, roleId: 'dispatcher' } }])
    t.match(state, { roles: [] })
  })

  t.test('a role not held emits nothing, without asking the catalog', async t => {
    user(t).given([registered()]).when({ type: 'RevokeRole', data: { userId: ALICE, roleId: 'pilot' } }).thenNothing()
  })
})

t.test('password commands always emit their event', async t => {
  t.test('ChangePassword emits UserPasswordChanged', async t => {
    const state = user(t).given([registered()]).when({ type: 'ChangePassword', data: { userId: ALICE, passwordHash: 'scrypt$hash-2' } })
      .then([{ type: 'UserPasswordChanged', data: { userId: ALICE, passwordHash: 'scrypt$hash-2' } }])
    t.match(state, { passwordHash: 'scrypt$hash-2' })
  })

  t.test('ResetPassword emits UserPasswordReset', async t => {
    const state = user(t).given([registered()]).when({ type: 'ResetPassword', data: { userId: ALICE, passwordHash: 'scrypt$hash-3' } })
      .then([{ type: 'UserPasswordReset', data: { userId: ALICE, passwordHash: 'scrypt$hash-3' } }])
    t.match(state, { passwordHash: 'scrypt$hash-3' })
  })

  t.test('RehashPassword emits UserPasswordRehashed', async t => {
    const state = user(t).given([registered()]).when({ type: 'RehashPassword', data: { userId: ALICE, passwordHash: 'scrypt$hash-4' } })
      .then([{ type: 'UserPasswordRehashed', data: { userId: ALICE, passwordHash: 'scrypt$hash-4' } }])
    t.match(state, { passwordHash: 'scrypt$hash-4' })
  })

  t.test('the same hash again still emits (tokens must be revoked all the same)', async t => {
    user(t).given([registered()]).when({ type: 'ChangePassword', data: { userId: ALICE, passwordHash: 'scrypt$hash-1' } })
      .then([{ type: 'UserPasswordChanged', data: { userId: ALICE, passwordHash: 'scrypt$hash-1' } }])
  })
})

t.test('ChangeStatus', async t => {
  const deactivated: UserEvent = { type: 'UserDeactivated', data: { userId: ALICE, reason: 'left the company' } }

  t.test('deactivating an active user records the reason', async t => {
    const state = user(t).given([registered()]).when({ type: 'ChangeStatus', data: { userId: ALICE, status: 'inactive', reason: 'left the company' } })
      .then([deactivated])
    t.match(state, { status: 'inactive' })
  })

  t.test('activating an inactive user', async t => {
    const state = user(t).given([registered(), deactivated]).when({ type: 'ChangeStatus', data: { userId: ALICE, status: 'active', reason: null } })
      .then([{ type: 'UserActivated', data: { userId: ALICE, reason: null } }])
    t.match(state, { status: 'active' })
  })

  t.test('the current status emits nothing', async t => {
    user(t).given([registered()]).when({ type: 'ChangeStatus', data: { userId: ALICE, status: 'active', reason: 'again' } }).thenNothing()
    user(t).given([registered(), deactivated]).when({ type: 'ChangeStatus', data: { userId: ALICE, status: 'inactive', reason: null } }).thenNothing()
  })
})

t.test('LinkCompany and UnlinkCompany', async t => {
  const link = (companyId: string): UserCommand => ({ type: 'LinkCompany', data: { userId: ALICE, companyId, catalog } })

  t.test('an active company is linked and kept sorted', async t => {
    const state = user(t).given([registered({ companies: ['globex'] })]).when(link('acme'))
      .then([{ type: 'UserCompanyLinked', data: { userId: ALICE, companyId: 'acme' } }])
    t.match(state, { companies: ['acme', 'globex'] })
  })

  t.test('a company already linked emits nothing', async t => {
    user(t).given([registered()]).when(link('acme')).thenNothing()
  })

  t.test('an unknown company is COMPANY_UNKNOWN', async t => {
    user(t).given([registered()]).when(link('initech')).thenThrows('COMPANY_UNKNOWN', { id: 'initech' })
  })

  t.test('an inactive company is COMPANY_INACTIVE', async t => {
    user(t).given([registered()]).when(link('defunct')).thenThrows('COMPANY_INACTIVE', { id: 'defunct' })
  })

  t.test('a linked company is unlinked', async t => {
    const state = user(t).given([registered()]).when({ type: 'UnlinkCompany', data: { userId: ALICE, companyId: 'acme' } })
      .then([{ type: 'UserCompanyUnlinked', data: { userId: ALICE, companyId: 'acme' } }])
    t.match(state, { companies: [] })
  })

  t.test('unlinking a company not linked emits nothing', async t => {
    user(t).given([registered()]).when({ type: 'UnlinkCompany', data: { userId: ALICE, companyId: 'initech' } }).thenNothing()
  })
})

t.test('LinkProvider and UnlinkProvider', async t => {
  const link = (providerId: string, externalUserId: string | null): UserCommand =>
    ({ type: 'LinkProvider', data: { userId: ALICE, providerId, externalUserId, catalog } })
  const linkedX = registered({ providers: [{ providerId: 'carrier-x', externalUserId: 'x-981' }] })

  t.test('an active provider is linked with the external id', async t => {
    const state = user(t).given([registered()]).when(link('carrier-x', 'x-981'))
      .then([{ type: 'UserProviderLinked', data: { userId: ALICE, providerId: 'carrier-x', externalUserId: 'x-981' } }])
    t.match(state, { providers: [{ providerId: 'carrier-x', externalUserId: 'x-981' }] })
  })

  t.test('an external id is optional', async t => {
    user(t).given([registered()]).when(link('carrier-y', null))
      .then([{ type: 'UserProviderLinked', data: { userId: ALICE, providerId: 'carrier-y', externalUserId: null } }])
  })

  t.test('the same link again emits nothing', async t => {
    user(t).given([linkedX]).when(link('carrier-x', 'x-981')).thenNothing()
  })

  t.test('a different external id re-links, replacing the old link', async t => {
    const state = user(t).given([linkedX]).when(link('carrier-x', 'x-982'))
      .then([{ type: 'UserProviderLinked', data: { userId: ALICE, providerId: 'carrier-x', externalUserId: 'x-982' } }])
    t.strictSame(state.status !== 'none' && state.providers, [{ providerId: 'carrier-x', externalUserId: 'x-982' }])
  })

  t.test('an unknown provider is PROVIDER_UNKNOWN', async t => {
    user(t).given([registered()]).when(link('carrier-z', null)).thenThrows('PROVIDER_UNKNOWN', { id: 'carrier-z' })
  })

  t.test('an inactive provider is PROVIDER_INACTIVE', async t => {
    user(t).given([registered()]).when(link('gone', null)).thenThrows('PROVIDER_INACTIVE', { id: 'gone' })
  })

  t.test('a linked provider is unlinked', async t => {
    const state = user(t).given([linkedX]).when({ type: 'UnlinkProvider', data: { userId: ALICE, providerId: 'carrier-x' } })
      .then([{ type: 'UserProviderUnlinked', data: { userId: ALICE, providerId: 'carrier-x' } }])
    t.match(state, { providers: [] })
  })

  t.test('unlinking a provider not linked emits nothing', async t => {
    user(t).given([registered()]).when({ type: 'UnlinkProvider', data: { userId: ALICE, providerId: 'carrier-x' } }).thenNothing()
  })
})

t.test('isActiveAdmin', async t => {
  const admin = registered({ roles: [ADMIN_ROLE] })
  const deactivated: UserEvent = { type: 'UserDeactivated', data: { userId: ALICE, reason: null } }
  const revoked: UserEvent = { type: 'UserRoleRevoked', data: { userId: ALICE, roleId: ADMIN_ROLE } }
  t.equal(isActiveAdmin(fold(userDecider, [admin])), true, 'an active user with the role')
  t.equal(isActiveAdmin(fold(userDecider, [admin, deactivated])), false, 'an inactive admin')
  t.equal(isActiveAdmin(fold(userDecider, [admin, revoked])), false, 'after the role is revoked')
  t.equal(isActiveAdmin(fold(userDecider, [registered()])), false, 'an active user without the role')
  t.equal(isActiveAdmin(userDecider.initialState()), false, 'no user')
})

t.test('events for a user that does not exist leave the state alone', async t => {
  user(t).given([{ type: 'UserRoleAssigned', data: { userId: ALICE, roleId: 'dispatcher' } }]).thenState({ status: 'none' })
})
