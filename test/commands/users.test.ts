import t from 'tap'
import { bootstrap } from '../../src/commands/bootstrap.js'
import { defineCatalogEntry, updateCatalogEntry } from '../../src/commands/catalogs.js'
import { PreconditionFailedError } from '../../src/commands/errors.js'
import { holderOf } from '../../src/commands/reservations.js'
import { assignRole, changeStatus, linkCompany, loadUser, registerUser, revokeRole, updateProfile } from '../../src/commands/users.js'
import { DomainError } from '../../src/domain/errors.js'
import { streams } from '../../src/domain/events.js'
import { verifyChain } from '../../src/eventstore/hash-chain.js'
import { ctx, newUser, testDeps, type TestDeps } from '../helpers/commands.js'

const setup = async (tt: Parameters<typeof testDeps>[0]) => {
  const deps = await testDeps(tt)
  const boot = await bootstrap(deps, { adminUsername: 'admin', adminPassword: 'a root passphrase that is long' }, ctx())
  return { deps, adminId: boot.adminCreated!.userId }
}

const codeOf = async (p: Promise<unknown>): Promise<string> => {
  try { await p } catch (err) { return (err as { code?: string }).code ?? String(err) }
  return 'no error'
}

const registered = async (deps: TestDeps) => (await deps.store.readAll({ limit: 100000 })).filter(e => e.type === 'UserRegistered')

t.test('registering a user appends UserRegistered with audit metadata and a verifiable hash chain', async t => {
  const { deps } = await setup(t)
  const c = ctx({ id: 'actor-1', username: 'boss' })
  const { userId, position } = await registerUser(deps, newUser({ username: 'ＪＤｏｅ', roles: ['identity-auditor'] }), c)
  t.ok(position! > 0)
  const [event] = await deps.store.readStream(streams.user(userId))
  t.equal(event!.type, 'UserRegistered')
  t.equal(event!.data.username, 'jdoe', 'NFKC + lower case')
  t.match(event!.metadata, { actorId: 'actor-1', actorUsername: 'boss', correlationId: c.correlationId, causationId: c.commandId })
  t.notOk(JSON.stringify(event!.data).includes('correct horse'), 'the password itself is never stored')
  t.equal(await holderOf(deps, 'username', 'jdoe'), userId)
  const all = await deps.store.readAll({ limit: 100000 })
  for (const stream of new Set(all.map(e => e.stream))) {
    t.equal(verifyChain(all.filter(e => e.stream === stream)), null, `chain of ${stream}`)
  }
})

t.test('username, email and identification are unique; a failed registration leaves no reservation', async t => {
  const { deps } = await setup(t)
  await registerUser(deps, newUser({ username: 'jdoe', email: 'JDoe@Example.com', identificationNumber: '555' }), ctx())
  t.equal(await codeOf(registerUser(deps, newUser({ username: 'JDOE' }), ctx())), 'VALUE_TAKEN')
  t.equal(await codeOf(registerUser(deps, newUser({ username: 'other1', email: 'jdoe@example.COM' }), ctx())), 'VALUE_TAKEN')
  t.equal(await codeOf(registerUser(deps, newUser({ username: 'other2', identificationNumber: '555' }), ctx())), 'VALUE_TAKEN')
  t.equal(await holderOf(deps, 'username', 'other1'), null, 'username released after the email clash')
  t.equal(await holderOf(deps, 'username', 'other2'), null)
  t.equal(await codeOf(registerUser(deps, newUser({ username: 'ghost', roles: ['no-such-role'] }), ctx())), 'ROLE_UNKNOWN')
  t.equal(await holderOf(deps, 'username', 'ghost'), null, 'a broken rule reserves nothing')
  t.equal(await codeOf(registerUser(deps, newUser({ username: 'weak', password: 'password' }), ctx())), 'WEAK_PASSWORD')
})

t.test('50 concurrent registrations of one username give exactly one user', async t => {
  const { deps } = await setup(t)
  const before = (await registered(deps)).length
  const results = await Promise.allSettled(Array.from({ length: 50 }, () =>
    registerUser(deps, newUser({ username: 'Race.Winner' }), ctx())))
  const won = results.filter(r => r.status === 'fulfilled')
  t.equal(won.length, 1)
  for (const r of results) if (r.status === 'rejected') t.equal((r.reason as DomainError).code, 'VALUE_TAKEN')
  t.equal((await registered(deps)).length - before, 1)
  const winner = (won[0] as PromiseFulfilledResult<{ userId: string }>).value.userId
  t.equal(await holderOf(deps, 'username', 'race.winner'), winner)
})

t.test('a retried request with the same Idempotency-Key appends nothing new and answers the same', async t => {
  const { deps } = await setup(t)
  const key = { idempotencyKey: 'client-key-1' }
  const body = newUser({ username: 'idem' })
  const first = await registerUser(deps, body, ctx(undefined, key))
  const count = (await deps.store.readAll({ limit: 100000 })).length
  const again = await registerUser(deps, body, ctx(undefined, key))
  t.equal(again.userId, first.userId)
  t.equal((await deps.store.readAll({ limit: 100000 })).length, count, 'no event appended by the retry')

  const role = { idempotencyKey: 'client-key-2' }
  await assignRole(deps, first.userId, 'identity-auditor', ctx(undefined, role))
  await revokeRole(deps, first.userId, 'identity-auditor', ctx())
  const afterRevoke = (await deps.store.readStream(streams.user(first.userId))).length
  await assignRole(deps, first.userId, 'identity-auditor', ctx(undefined, role))
  t.equal((await deps.store.readStream(streams.user(first.userId))).length, afterRevoke, 'the retry after a later change is still a no-op')
})

t.test('associations are idempotent and checked against the catalogs', async t => {
  const { deps } = await setup(t)
  const { userId } = await registerUser(deps, newUser(), ctx())
  await defineCatalogEntry(deps, 'company', 'acme', { name: 'ACME' }, ctx())
  const linked = await linkCompany(deps, userId, 'acme', ctx())
  t.ok(linked.position)
  t.equal((await linkCompany(deps, userId, 'acme', ctx())).position, null, 'already linked: no event')
  t.equal(await codeOf(linkCompany(deps, userId, 'nope', ctx())), 'COMPANY_UNKNOWN')
  await defineCatalogEntry(deps, 'role', 'dispatcher', { name: 'Dispatcher', description: '' }, ctx())
  await updateCatalogEntry(deps, 'role', 'dispatcher', { name: 'Dispatcher', description: '', status: 'inactive' }, ctx())
  t.equal(await codeOf(assignRole(deps, userId, 'dispatcher', ctx())), 'ROLE_INACTIVE')
  t.equal((await revokeRole(deps, userId, 'dispatcher', ctx())).position, null, 'not held: no event')
})

t.test('profile updates move the email and identification reservations and honour If-Match', async t => {
  const { deps } = await setup(t)
  const u = newUser({ email: 'old@example.com' })
  const { userId } = await registerUser(deps, u, ctx())
  const profile = { ...u, email: 'new@example.com', phone: '+573001234567' }
  const version = (await deps.store.readStream(streams.user(userId))).length - 1
  await updateProfile(deps, userId, profile, ctx(), { ifMatch: version })
  t.equal(await holderOf(deps, 'email', 'old@example.com'), null)
  t.equal(await holderOf(deps, 'email', 'new@example.com'), userId)
  t.rejects(updateProfile(deps, userId, { ...profile, firstName: 'Eve' }, ctx(), { ifMatch: version }), PreconditionFailedError)
  const other = await registerUser(deps, newUser({ email: 'old@example.com' }), ctx())
  t.ok(other.userId, 'the released email can be taken by someone else')
  t.equal(await codeOf(updateProfile(deps, userId, { ...profile, email: 'OLD@example.com' }, ctx())), 'VALUE_TAKEN')
  const state = await loadUser(deps, userId)
  t.equal(state.status !== 'none' && state.email, 'new@example.com', 'a refused update changes nothing')
})

t.test('the last active identity-admin cannot be deactivated or lose the role, even under a race', async t => {
  const { deps, adminId } = await setup(t)
  const deactivate = (id: string) => changeStatus(deps, id, 'inactive', 'test', ctx())
  t.equal(await codeOf(deactivate(adminId)), 'LAST_ADMIN')
  t.equal(await codeOf(revokeRole(deps, adminId, 'identity-admin', ctx())), 'LAST_ADMIN')

  const second = await registerUser(deps, newUser({ roles: ['identity-admin'] }), ctx())
  const outcomes = await Promise.allSettled([deactivate(adminId), deactivate(second.userId)])
  t.equal(outcomes.filter(o => o.status === 'fulfilled').length, 1, 'exactly one of two mutual deactivations wins')
  const states = await Promise.all([loadUser(deps, adminId), loadUser(deps, second.userId)])
  t.equal(states.filter(s => s.status === 'active').length, 1, 'one active admin remains')

  const survivor = states[0]!.status === 'active' ? adminId : second.userId
  const loser = survivor === adminId ? second.userId : adminId
  await changeStatus(deps, loser, 'active', null, ctx())
  await revokeRole(deps, survivor, 'identity-admin', ctx())
  t.equal(await codeOf(deactivate(loser)), 'LAST_ADMIN', 'seats follow reactivation and role changes')
})

t.test('bootstrap is idempotent and generates a password when none is given', async t => {
  const deps = await testDeps(t)
  const first = await bootstrap(deps, { adminUsername: 'Root' }, ctx())
  t.equal(first.adminCreated?.username, 'root')
  t.ok((first.adminCreated?.generatedPassword ?? '').length >= 20)
  const count = (await deps.store.readAll({ limit: 100000 })).length
  const second = await bootstrap(deps, { adminUsername: 'Root' }, ctx())
  t.equal(second.adminCreated, null)
  t.equal((await deps.store.readAll({ limit: 100000 })).length, count, 'a second start appends nothing')
  const types = (await deps.store.readAll({ limit: 100000 })).filter(e => e.type === 'IdentificationTypeDefined').map(e => e.data.id)
  t.same(types.sort(), ['CC', 'CE', 'NIT', 'PA', 'PEP', 'PPT', 'RC', 'TI'])
})

t.test('parallel retries of one registration with the same Idempotency-Key converge on one user', async t => {
  const { deps } = await setup(t)
  for (let round = 0; round < 10; round++) {
    const body = newUser()
    const key = { idempotencyKey: `parallel-${round}` }
    const results = await Promise.all(Array.from({ length: 5 }, () => registerUser(deps, body, ctx(undefined, key))))
    t.equal(new Set(results.map(r => r.userId)).size, 1, `round ${round}: one user id for every retry`)
    const users = (await registered(deps)).filter(e => e.data.username === body.username)
    t.equal(users.length, 1, `round ${round}: one UserRegistered`)
  }
})

t.test('a retried catalog definition with the same Idempotency-Key answers as the first time', async t => {
  const { deps } = await setup(t)
  const key = { idempotencyKey: 'define-acme' }
  const first = await defineCatalogEntry(deps, 'company', 'acme', { name: 'ACME' }, ctx(undefined, key))
  const again = await defineCatalogEntry(deps, 'company', 'acme', { name: 'ACME' }, ctx(undefined, key))
  t.equal(again.position, first.position)
  t.equal(await codeOf(defineCatalogEntry(deps, 'company', 'acme', { name: 'ACME' }, ctx())), 'CATALOG_ENTRY_EXISTS',
    'without the key it is a conflict')
})
