import t from 'tap'
import { authDecider, isLocked, type AuthCommand, type AuthState, type LockoutPolicy } from '../../src/domain/authentication.js'
import type { AuthEvent } from '../../src/domain/events.js'
import { specification, ALICE } from './given-when-then.js'

const auth = specification(authDecider)

const policy: LockoutPolicy = { maxFailures: 3, baseLockoutSeconds: 60, maxLockoutSeconds: 300 }
const NOW = '2025-03-01T10:00:00.000Z'
const at = (secondsAfterNow: number): string => new Date(Date.parse(NOW) + secondsAfterNow * 1000).toISOString()

const attempt = (outcome: Extract<AuthCommand, { type: 'RecordAuthentication' }>['data']['outcome'], now = NOW): AuthCommand =>
  ({ type: 'RecordAuthentication', data: { userId: outcome === 'unknown_user' ? null : ALICE, username: 'alice', outcome, now, policy } })

const failed = (state: AuthState, reason: 'invalid_credentials' | 'inactive' | 'locked' = 'invalid_credentials'): AuthEvent =>
  ({ type: 'AuthenticationFailed', data: { userId: ALICE, username: 'alice', reason, ...state } })
const lockedOut = (failures: number, lockouts: number, lockedUntil: string): AuthEvent =>
  ({ type: 'UserLockedOut', data: { userId: ALICE, failures, lockouts, lockedUntil } })
const succeeded: AuthEvent = { type: 'AuthenticationSucceeded', data: { userId: ALICE, username: 'alice', failures: 0, lockouts: 0, lockedUntil: null } }

/** Two failures, then the third locks for 60 s (the first lockout). */
const firstLockout: AuthEvent[] = [
  failed({ failures: 1, lockouts: 0, lockedUntil: null }),
  failed({ failures: 2, lockouts: 0, lockedUntil: null }),
  failed({ failures: 3, lockouts: 0, lockedUntil: null }),
  lockedOut(3, 1, at(60))
]

t.test('a success on a fresh stream', async t => {
  auth(t).given([]).when(attempt('success')).then([succeeded])
})

t.test('a success resets failures and lockouts', async t => {
  const state = auth(t).given([failed({ failures: 2, lockouts: 1, lockedUntil: null })]).when(attempt('success')).then([succeeded])
  t.strictSame(state, { failures: 0, lockouts: 0, lockedUntil: null })
})

t.test('a wrong password counts one failure', async t => {
  auth(t).given([failed({ failures: 1, lockouts: 0, lockedUntil: null })]).when(attempt('invalid_credentials'))
    .then([failed({ failures: 2, lockouts: 0, lockedUntil: null })])
})

t.test('the failure that reaches maxFailures also locks the account for the base window', async t => {
  const state = auth(t).given(firstLockout.slice(0, 2)).when(attempt('invalid_credentials'))
    .then([failed({ failures: 3, lockouts: 0, lockedUntil: null }), lockedOut(3, 1, at(60))])
  t.strictSame(state, { failures: 3, lockouts: 1, lockedUntil: at(60) })
})

t.test('while locked, any attempt fails as locked and changes nothing', async t => {
  const lockedState = { failures: 3, lockouts: 1, lockedUntil: at(60) }
  for (const outcome of ['success', 'invalid_credentials', 'inactive'] as const) {
    const state = auth(t).given(firstLockout).when(attempt(outcome, at(59))).then([failed(lockedState, 'locked')])
    t.strictSame(state, lockedState, `${outcome}: state unchanged`)
  }
})

t.test('the lock ends at lockedUntil: that instant records the unlock, then decides the attempt', async t => {
  auth(t).given(firstLockout).when(attempt('success', at(60))).then([
    { type: 'UserUnlocked', data: { userId: ALICE, reason: 'expired', failures: 0, lockouts: 1, lockedUntil: null } },
    succeeded
  ])
})

t.test('a wrong password after an expired lock starts counting again, keeping the lockout count', async t => {
  const state = auth(t).given(firstLockout).when(attempt('invalid_credentials', at(600))).then([
    { type: 'UserUnlocked', data: { userId: ALICE, reason: 'expired', failures: 0, lockouts: 1, lockedUntil: null } },
    failed({ failures: 1, lockouts: 1, lockedUntil: null })
  ])
  t.strictSame(state, { failures: 1, lockouts: 1, lockedUntil: null })
})

t.test('the second lockout doubles the window', async t => {
  auth(t).given([failed({ failures: 2, lockouts: 1, lockedUntil: null })]).when(attempt('invalid_credentials'))
    .then([failed({ failures: 3, lockouts: 1, lockedUntil: null }), lockedOut(3, 2, at(120))])
})

t.test('the window is capped at maxLockoutSeconds', async t => {
  // 60 · 2^3 = 480 s, capped at 300 s.
  auth(t).given([failed({ failures: 2, lockouts: 3, lockedUntil: null })]).when(attempt('invalid_credentials'))
    .then([failed({ failures: 3, lockouts: 3, lockedUntil: null }), lockedOut(3, 4, at(300))])
})

t.test('the cap holds for absurd lockout counts (no Infinity or invalid date)', async t => {
  auth(t).given([failed({ failures: 2, lockouts: 5000, lockedUntil: null })]).when(attempt('invalid_credentials'))
    .then([failed({ failures: 3, lockouts: 5000, lockedUntil: null }), lockedOut(3, 5001, at(300))])
})

t.test('an unknown user counts a failure with no user id and never locks', async t => {
  const unknown = (failures: number): AuthEvent =>
    ({ type: 'AuthenticationFailed', data: { userId: null, username: 'alice', reason: 'unknown_user', failures, lockouts: 0, lockedUntil: null } })
  auth(t).given([unknown(1), unknown(2), unknown(3)]).when(attempt('unknown_user')).then([unknown(4)])
})

t.test('an inactive user fails without counting', async t => {
  const before = { failures: 1, lockouts: 0, lockedUntil: null }
  auth(t).given([failed(before)]).when(attempt('inactive')).then([failed(before, 'inactive')])
})

t.test('only unknown_user may come without a user id', async t => {
  t.throws(() => authDecider.decide({ type: 'RecordAuthentication', data: { userId: null, username: 'alice', outcome: 'invalid_credentials', now: NOW, policy } }, authDecider.initialState()),
    TypeError)
})

t.test('an admin unlock clears a lock, failures and lockouts', async t => {
  const state = auth(t).given(firstLockout).when({ type: 'Unlock', data: { userId: ALICE, now: at(10) } })
    .then([{ type: 'UserUnlocked', data: { userId: ALICE, reason: 'admin', failures: 0, lockouts: 0, lockedUntil: null } }])
  t.strictSame(state, { failures: 0, lockouts: 0, lockedUntil: null })
})

t.test('an admin unlock of an expired but unrecorded lock still clears it', async t => {
  auth(t).given(firstLockout).when({ type: 'Unlock', data: { userId: ALICE, now: at(600) } })
    .then([{ type: 'UserUnlocked', data: { userId: ALICE, reason: 'admin', failures: 0, lockouts: 0, lockedUntil: null } }])
})

t.test('an admin unlock of an account that is not locked emits nothing', async t => {
  auth(t).given([failed({ failures: 2, lockouts: 0, lockedUntil: null })]).when({ type: 'Unlock', data: { userId: ALICE, now: NOW } }).thenNothing()
})

t.test('the state is the last event\'s', async t => {
  auth(t).given(firstLockout).thenState({ failures: 3, lockouts: 1, lockedUntil: at(60) })
})

t.test('isLocked compares instants, not spellings', async t => {
  const state = { failures: 3, lockouts: 1, lockedUntil: '2025-03-01T10:01:00.000Z' }
  t.equal(isLocked(state, '2025-03-01T10:00:59.999Z'), true, 'a millisecond before')
  t.equal(isLocked(state, '2025-03-01T10:01:00Z'), false, 'the same instant without milliseconds')
  t.equal(isLocked(state, '2025-03-01T05:00:30-05:00'), true, 'an earlier instant with an offset')
  t.equal(isLocked({ failures: 0, lockouts: 0, lockedUntil: null }, NOW), false, 'never locked')
  t.throws(() => isLocked(state, 'yesterday'), TypeError, 'a malformed now')
})
