import t from 'tap'
import { authenticate, changeOwnPassword, resetPassword } from '../../src/commands/authentication.js'
import { bootstrap } from '../../src/commands/bootstrap.js'
import { AuthenticationError, WrongCurrentPasswordError } from '../../src/commands/errors.js'
import { createPasswordHasher } from '../../src/commands/password-hasher.js'
import { changeStatus, registerUser } from '../../src/commands/users.js'
import { streams } from '../../src/domain/events.js'
import { ctx, newUser, sibling, STRONG, testDeps, TEST_SCRYPT, type TestDeps } from '../helpers/commands.js'

const setup = async (tt: Parameters<typeof testDeps>[0], overrides = {}) => {
  const deps = await testDeps(tt, overrides)
  await bootstrap(deps, { adminUsername: 'admin', adminPassword: 'a root passphrase that is long' }, ctx())
  const { userId } = await registerUser(deps, newUser({ username: 'ana' }), ctx())
  return { deps, userId }
}

const login = (deps: TestDeps, username: string, password: string) => authenticate(deps, { username, password }, ctx())

const authEvents = async (deps: TestDeps, userId: string) =>
  (await deps.store.readStream(streams.auth(userId))).map(e => `${e.type}${e.data.reason === undefined ? '' : ':' + String(e.data.reason)}`)

t.test('a correct password authenticates and is recorded', async t => {
  const { deps, userId } = await setup(t)
  const ok = await login(deps, 'ANA', STRONG)
  t.match(ok, { userId, username: 'ana', roles: [], credentialVersion: 0 })
  t.same(await authEvents(deps, userId), ['AuthenticationSucceeded'])
})

t.test('every failure is the same error and costs one KDF verification', async t => {
  const { deps, userId } = await setup(t)
  for (const [username, password] of [['ana', 'wrong password here'], ['nobody', STRONG], ['x', STRONG], ['ana', 'p'.repeat(5000)]] as const) {
    await t.rejects(login(deps, username, password), AuthenticationError)
  }
  t.same(await authEvents(deps, userId), ['AuthenticationFailed:invalid_credentials', 'AuthenticationFailed:invalid_credentials'])
  const unknown = (await deps.store.readAll({ limit: 100000 })).filter(e => e.stream.startsWith('auth-unknown-'))
  t.equal(unknown.length, 2, 'unknown usernames are recorded in their own streams')
  t.equal(unknown[0]!.data.reason, 'unknown_user')
})

t.test('five failures lock the account; the window grows; it ends by time or by an admin', async t => {
  const { deps, userId } = await setup(t)
  for (let i = 0; i < 5; i++) await t.rejects(login(deps, 'ana', 'not the password!'), AuthenticationError)
  t.equal((await authEvents(deps, userId)).at(-1), 'UserLockedOut')
  await t.rejects(login(deps, 'ana', STRONG), AuthenticationError, 'the right password is refused while locked')
  t.equal((await authEvents(deps, userId)).at(-1), 'AuthenticationFailed:locked')
  deps.advance(61)
  t.ok(await login(deps, 'ana', STRONG), 'after the 60 s window')
  t.same((await authEvents(deps, userId)).slice(-2), ['UserUnlocked:expired', 'AuthenticationSucceeded'])

  for (let i = 0; i < 5; i++) await t.rejects(login(deps, 'ana', 'not the password!'), AuthenticationError)
  const lock1 = (await deps.store.readStream(streams.auth(userId))).at(-1)!
  deps.advance(61)
  for (let i = 0; i < 5; i++) await t.rejects(login(deps, 'ana', 'not the password!'), AuthenticationError)
  const lock2 = (await deps.store.readStream(streams.auth(userId))).at(-1)!
  t.equal(lock2.type, 'UserLockedOut')
  t.equal(Date.parse(String(lock2.data.lockedUntil)) - deps.clock().getTime(), 120_000, 'second lockout lasts twice as long')
  t.equal(lock1.data.lockouts, 1)
  t.equal(lock2.data.lockouts, 2)

  await changeStatus(deps, userId, 'active', 'verified by phone', ctx())
  t.equal((await authEvents(deps, userId)).at(-1), 'UserUnlocked:admin')
  t.ok(await login(deps, 'ana', STRONG), 'an admin setting status active unlocks')
})

t.test('100 parallel wrong guesses: no more than the threshold reach the real hash', async t => {
  const { deps } = await setup(t)
  const before = deps.verifications()
  const results = await Promise.allSettled(Array.from({ length: 100 }, () => login(deps, 'ana', 'guess guess guess')))
  t.ok(results.every(r => r.status === 'rejected'))
  const verified = deps.verifications() - before
  t.comment(`real hash verifications for 100 parallel guesses: ${verified}`)
  t.ok(verified <= 5, `at most 5 real verifications (was ${verified})`)
})

t.test('a deactivated user cannot authenticate, with the same error', async t => {
  const { deps, userId } = await setup(t)
  await changeStatus(deps, userId, 'inactive', null, ctx())
  await t.rejects(login(deps, 'ana', STRONG), AuthenticationError)
  t.equal((await authEvents(deps, userId)).at(-1), 'AuthenticationFailed:inactive')
})

t.test('a hash with a weaker cost is upgraded on the next successful login', async t => {
  const { deps, userId } = await setup(t)
  const stronger = await createPasswordHasher({ ...TEST_SCRYPT, logN: TEST_SCRYPT.logN + 1 })
  const upgraded = sibling(deps, { hasher: stronger })
  await authenticate(upgraded, { username: 'ana', password: STRONG }, ctx())
  const last = (await deps.store.readStream(streams.user(userId))).at(-1)!
  t.equal(last.type, 'UserPasswordRehashed')
  t.notOk(stronger.needsRehash(String(last.data.passwordHash)))
  t.match(await authenticate(upgraded, { username: 'ana', password: STRONG }, ctx()), { credentialVersion: 0 }, 'rehash does not revoke tokens')
})

t.test('changing one\'s own password needs the current one; a wrong one counts toward lockout', async t => {
  const { deps, userId } = await setup(t)
  const next = 'a brand new passphrase 2026'
  await t.rejects(changeOwnPassword(deps, userId, { currentPassword: 'wrong wrong wrong', newPassword: next }, ctx()), WrongCurrentPasswordError)
  t.equal((await authEvents(deps, userId)).at(-1), 'AuthenticationFailed:invalid_credentials')
  await t.rejects(changeOwnPassword(deps, userId, { currentPassword: STRONG, newPassword: 'short' }, ctx()), { code: 'WEAK_PASSWORD' })
  await changeOwnPassword(deps, userId, { currentPassword: STRONG, newPassword: next }, ctx())
  t.match(await login(deps, 'ana', next), { credentialVersion: 1 })
  await t.rejects(login(deps, 'ana', STRONG), AuthenticationError, 'the old password no longer works')
  await resetPassword(deps, userId, 'set by the administrator', ctx())
  t.match(await login(deps, 'ana', 'set by the administrator'), { credentialVersion: 2 })
})
