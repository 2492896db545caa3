import t from 'tap'
import { streams } from '../../src/domain/events.js'
import { countActiveAdmins, getCredentialState, getUserById, getUserByUsername } from '../../src/projections/user-queries.js'
import { at, harness } from './fixtures/harness.js'

const ID = '01920a3b-4c5d-7e6f-8a9b-0c1d2e3f4a5b'

t.test('a user through its lifecycle', async t => {
  const h = await harness(t)
  const { writer: w, readModel: { db } } = h
  const now = at(1000)

  const profile = {
    username: 'jdoe',
    email: 'JDoe@Example.com',
    firstName: 'John',
    lastName: 'Doe',
    identificationType: 'CC',
    identificationNumber: '1020304050',
    phone: '+573001234567'
  }
  await w.register({
    userId: ID,
    ...profile,
    roles: ['dispatcher', 'auditor', 'dispatcher'],
    companies: ['globex', 'acme'],
    providers: [{ providerId: 'carrier-y', externalUserId: null }, { providerId: 'carrier-x', externalUserId: 'x-1' }]
  }, { at: at(0) })
  await h.sync()

  t.strictSame(getUserById(db, ID, now), {
    id: ID,
    ...profile,
    status: 'active',
    roles: ['auditor', 'dispatcher'],
    companies: ['acme', 'globex'],
    providers: [{ providerId: 'carrier-x', externalUserId: 'x-1' }, { providerId: 'carrier-y', externalUserId: null }],
    companyRoles: [],
    createdAt: at(0),
    updatedAt: at(0),
    version: 0
  }, 'registered: arrays sorted and de-duplicated, version is the stream revision')
  t.strictSame(getUserByUsername(db, 'jdoe', now), getUserById(db, ID, now))
  t.equal(getUserByUsername(db, 'nobody', now), null)
  t.equal(getUserById(db, '01920a3b-0000-7000-8000-000000000000', now), null)
  t.strictSame(getCredentialState(db, ID), {
    userId: ID, username: 'jdoe', status: 'active', lockedUntil: null, credentialVersion: 0, roles: ['auditor', 'dispatcher'], companyRoles: []
  })

  await w.user(ID, 'UserProfileUpdated', {
    email: 'john@new.example', firstName: 'Johnny', lastName: 'Doe-Smith', identificationType: 'CE', identificationNumber: 'X-9', phone: null
  }, { at: at(10) })
  await h.sync()
  t.match(getUserById(db, ID, now), {
    email: 'john@new.example', firstName: 'Johnny', lastName: 'Doe-Smith', identificationType: 'CE', identificationNumber: 'X-9',
    phone: null, createdAt: at(0), updatedAt: at(10), version: 1
  }, 'profile replaced, updatedAt and version follow')

  await w.user(ID, 'UserRoleAssigned', { roleId: 'identity-admin' }, { at: at(20) })
  await w.user(ID, 'UserRoleRevoked', { roleId: 'dispatcher' }, { at: at(21) })
  await w.user(ID, 'UserCompanyUnlinked', { companyId: 'acme' }, { at: at(22) })
  await w.user(ID, 'UserCompanyLinked', { companyId: 'initech' }, { at: at(23) })
  await w.user(ID, 'UserProviderLinked', { providerId: 'carrier-y', externalUserId: 'y-77' }, { at: at(24) })
  await w.user(ID, 'UserProviderUnlinked', { providerId: 'carrier-x' }, { at: at(25) })
  await w.user(ID, 'UserProviderLinked', { providerId: 'a-provider', externalUserId: null }, { at: at(26) })
  await h.sync()
  t.match(getUserById(db, ID, now), {
    roles: ['auditor', 'identity-admin'],
    companies: ['globex', 'initech'],
    providers: [{ providerId: 'a-provider', externalUserId: null }, { providerId: 'carrier-y', externalUserId: 'y-77' }],
    updatedAt: at(26),
    version: 8
  }, 'associations kept sorted; a second link changes the external id')
  t.strictSame(db.prepare('SELECT provider_id, external_user_id, username FROM user_providers ORDER BY provider_id').all(), [
    { provider_id: 'a-provider', external_user_id: null, username: 'jdoe' },
    { provider_id: 'carrier-y', external_user_id: 'y-77', username: 'jdoe' }
  ])
  t.strictSame(getCredentialState(db, ID)?.roles, ['auditor', 'identity-admin'])
  t.equal(countActiveAdmins(db, now), 1)

  await w.user(ID, 'UserPasswordChanged', { passwordHash: 'h2' }, { at: at(30) })
  await h.sync()
  t.equal(getCredentialState(db, ID)?.credentialVersion, 1, 'a password change revokes earlier tokens')
  await w.user(ID, 'UserPasswordRehashed', { passwordHash: 'h2b' }, { at: at(31) })
  await h.sync()
  t.equal(getCredentialState(db, ID)?.credentialVersion, 1, 'a rehash does not')
  t.equal(getUserById(db, ID, now)?.version, 10, 'but it is a user-stream event: the version moves')
  await w.user(ID, 'UserPasswordReset', { passwordHash: 'h3' }, { at: at(32) })
  await h.sync()
  t.equal(getCredentialState(db, ID)?.credentialVersion, 2, 'a reset revokes')

  await w.user(ID, 'UserDeactivated', { reason: 'left' }, { at: at(40) })
  await h.sync()
  t.match(getUserById(db, ID, now), { status: 'inactive', updatedAt: at(40), version: 12 })
  t.match(getCredentialState(db, ID), { status: 'inactive', credentialVersion: 3 }, 'deactivation revokes')
  t.equal(countActiveAdmins(db, now), 0)

  await w.user(ID, 'UserActivated', { reason: null }, { at: at(41) })
  await h.sync()
  t.match(getUserById(db, ID, now), { status: 'active', version: 13 })
  t.equal(getCredentialState(db, ID)?.credentialVersion, 3, 'activation does not bump the credential version')
})

t.test('lockout: locked until the window ends, cleared by unlock or a successful login', async t => {
  const h = await harness(t)
  const { writer: w, readModel: { db } } = h
  await w.register({ userId: ID, username: 'locky', roles: ['identity-admin'] }, { at: at(0) })
  await w.auth(ID, 'AuthenticationFailed', { username: 'locky', reason: 'invalid_credentials', failures: 1, lockouts: 0, lockedUntil: null }, { at: at(5) })
  // An offset instant: stored canonically, so it compares correctly with `now` as text.
  await w.auth(ID, 'UserLockedOut', { failures: 5, lockouts: 1, lockedUntil: '2026-03-01T14:00:00+02:00' }, { at: at(10) })
  await h.sync()

  const until = '2026-03-01T12:00:00.000Z'
  t.equal(until, new Date('2026-03-01T14:00:00+02:00').toISOString())
  const during = '2026-03-01T11:59:59.999Z'
  t.match(getUserById(db, ID, during), { status: 'locked', version: 0, updatedAt: at(0) },
    'locked; auth-stream events leave version and updatedAt alone')
  t.equal(getUserById(db, ID, until)?.status, 'active', 'the window is over at lockedUntil')
  t.equal(getUserById(db, ID, '2026-03-01T13:00:00+01:00')?.status, 'active', 'now is compared as an instant, whatever its offset')
  t.match(getCredentialState(db, ID), { status: 'active', lockedUntil: until, credentialVersion: 0 },
    'a lockout refuses tokens through lockedUntil, without revoking them for good')
  t.equal(countActiveAdmins(db, during), 0, 'a locked admin is not an active one')
  t.equal(countActiveAdmins(db, until), 1)

  await w.auth(ID, 'UserUnlocked', { reason: 'admin', failures: 0, lockouts: 1, lockedUntil: null }, { at: at(11) })
  await h.sync()
  t.equal(getUserById(db, ID, during)?.status, 'active', 'unlocked by an administrator')
  t.equal(getCredentialState(db, ID)?.lockedUntil, null)

  await w.auth(ID, 'UserLockedOut', { failures: 5, lockouts: 2, lockedUntil: at(3600) }, { at: at(20) })
  await h.sync()
  t.equal(getUserById(db, ID, at(30))?.status, 'locked')
  await w.auth(ID, 'AuthenticationSucceeded', { username: 'locky', failures: 0, lockouts: 0, lockedUntil: null }, { at: at(40) })
  await h.sync()
  t.equal(getUserById(db, ID, at(30))?.status, 'active', 'a successful login clears the lock')
  t.match(db.prepare('SELECT last_login_at, credential_version FROM users').get(), { last_login_at: at(40), credential_version: 0 })

  await w.user(ID, 'UserDeactivated', { reason: null }, { at: at(50) })
  await w.auth(ID, 'UserLockedOut', { failures: 5, lockouts: 1, lockedUntil: at(3600) }, { at: at(51) })
  await h.sync()
  t.equal(getUserById(db, ID, at(60))?.status, 'inactive', 'inactive wins over locked')

  t.throws(() => getUserById(db, ID, 'not a date'), RangeError)
})

t.test('events of other streams are skipped but advance the checkpoint', async t => {
  const h = await harness(t)
  const { writer: w, readModel: { db } } = h
  await w.append(streams.reservation('username', 'ghost'), 'ValueReserved', { kind: 'username', value: 'ghost', userId: ID })
  await w.append(streams.adminSeats, 'AdminSeatClaimed', { userId: ID })
  await w.append(streams.unknownAuth('abc'), 'AuthenticationFailed',
    { userId: null, username: 'ghost', reason: 'unknown_user', failures: 1, lockouts: 0, lockedUntil: null })
  await w.append(streams.auth(ID), 'UserLockedOut', { userId: ID, failures: 5, lockouts: 1, lockedUntil: at(60) })
  await h.sync()
  const head = await h.store.headPosition()
  t.equal(head, 4)
  t.equal(h.runner.position, head)
  t.strictSame(db.prepare('SELECT projection, position FROM checkpoints ORDER BY projection').all(),
    ['authentication', 'catalogs', 'clients', 'sessions', 'user-associations', 'users'].map(projection => ({ projection, position: head })))
  t.equal((db.prepare('SELECT count(*) AS n FROM users').get() as { n: number }).n, 0, 'an auth event of an unknown user writes nothing')
})
