/**
 * Failed logins and lockouts, stream auth-<userId> (auth-unknown-<hash> for usernames that do
 * not exist, so both paths do the same work). Every event carries the folded state after it, so
 * the state is the stream's last event and deciding never needs more than that one event.
 *
 * Lockout window: after `maxFailures` consecutive failures the account locks for
 * min(baseLockoutSeconds · 2^lockouts, maxLockoutSeconds), lockouts counting since the last
 * success or admin unlock. An expired lock is recorded (UserUnlocked 'expired') by the next attempt.
 */
import type { Decider } from './decider.js'
import type { AuthEvent } from './events.js'

export interface AuthState { failures: number, lockouts: number, lockedUntil: string | null }
export interface LockoutPolicy { maxFailures: number, baseLockoutSeconds: number, maxLockoutSeconds: number }

export type AuthOutcome = 'success' | 'invalid_credentials' | 'unknown_user' | 'inactive'

export type AuthCommand =
  | { type: 'RecordAuthentication', data: { userId: string | null, username: string, outcome: AuthOutcome, now: string, policy: LockoutPolicy } }
  | { type: 'Unlock', data: { userId: string, now: string } }

const instant = (iso: string): number => {
  const ms = Date.parse(iso)
  if (Number.isNaN(ms)) throw new TypeError(`not an ISO-8601 instant: ${iso}`)
  return ms
}

/** Instants compare as numbers, so '…00Z' and '…00.000Z' (or an offset) are the same time. */
export const isLocked = (state: AuthState, now: string): boolean =>
  state.lockedUntil !== null && instant(state.lockedUntil) > instant(now)

export const lockoutSeconds = (lockouts: number, policy: LockoutPolicy): number =>
  Math.min(policy.baseLockoutSeconds * 2 ** lockouts, policy.maxLockoutSeconds)

const initialState = (): AuthState => ({ failures: 0, lockouts: 0, lockedUntil: null })

const stateOf = (event: AuthEvent): AuthState => {
  const { failures, lockouts, lockedUntil } = event.data
  return { failures, lockouts, lockedUntil }
}

const decideAttempt = (command: Extract<AuthCommand, { type: 'RecordAuthentication' }>['data'], state: AuthState): AuthEvent[] => {
  const { userId, username, outcome, now, policy } = command
  if (outcome === 'unknown_user') {
    // Counted, so the unknown-user stream costs as much as a real one, but nobody to lock out.
    return [{ type: 'AuthenticationFailed', data: { userId: null, username, reason: 'unknown_user', ...state, failures: state.failures + 1 } }]
  }
  if (userId === null) throw new TypeError(`a '${outcome}' attempt needs the user's id`)
  switch (outcome) {
    case 'success':
      return [{ type: 'AuthenticationSucceeded', data: { userId, username, failures: 0, lockouts: 0, lockedUntil: null } }]
    case 'inactive':
      return [{ type: 'AuthenticationFailed', data: { userId, username, reason: 'inactive', ...state } }]
    case 'invalid_credentials': {
      const failures = state.failures + 1
      const failed: AuthEvent = { type: 'AuthenticationFailed', data: { userId, username, reason: 'invalid_credentials', ...state, failures } }
      if (failures < policy.maxFailures) return [failed]
      const lockedUntil = new Date(instant(now) + lockoutSeconds(state.lockouts, policy) * 1000).toISOString()
      return [failed, { type: 'UserLockedOut', data: { userId, failures, lockouts: state.lockouts + 1, lockedUntil } }]
    }
    default: {
      const unknown: never = outcome
      throw new TypeError(`unknown authentication outcome ${String(unknown)}`)
    }
  }
}

const decide = (command: AuthCommand, state: AuthState): AuthEvent[] => {
  switch (command.type) {
    case 'RecordAuthentication': {
      const { userId, username, outcome, now } = command.data
      if (isLocked(state, now)) {
        // The handler checks no password while locked, so the outcome is never known here.
        return [{ type: 'AuthenticationFailed', data: { userId: outcome === 'unknown_user' ? null : userId, username, reason: 'locked', ...state } }]
      }
      if (state.lockedUntil === null) return decideAttempt(command.data, state)
      // Only user streams ever lock, so an expired lock always comes with the user's id.
      if (userId === null) throw new TypeError('an expired lock needs the user\'s id to be recorded')
      const unlocked: AuthEvent = { type: 'UserUnlocked', data: { userId, reason: 'expired', failures: 0, lockouts: state.lockouts, lockedUntil: null } }
      return [unlocked, ...decideAttempt(command.data, stateOf(unlocked))]
    }
    case 'Unlock': {
      const { userId } = command.data
      if (state.lockedUntil === null) return []
      return [{ type: 'UserUnlocked', data: { userId, reason: 'admin', failures: 0, lockouts: 0, lockedUntil: null } }]
    }
    default: {
      const unknown: never = command
      throw new TypeError(`unknown authentication command ${JSON.stringify(unknown)}`)
    }
  }
}

const evolve = (_state: AuthState, event: AuthEvent): AuthState => {
  switch (event.type) {
    case 'AuthenticationSucceeded':
    case 'AuthenticationFailed':
    case 'UserLockedOut':
    case 'UserUnlocked':
      return stateOf(event)
    default: {
      const unknown: never = event
      return unknown
    }
  }
}

export const authDecider: Decider<AuthCommand, AuthState, AuthEvent> = { initialState, evolve, decide, lastEventHoldsState: true }
