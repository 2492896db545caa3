/**
 * Failed logins and lockouts, stream auth-<userId> (auth-unknown-<hash> for usernames that do
 * not exist, so both paths do the same work). Every event carries the folded state after it, so
 * the state is the stream's last event and deciding never needs more than that one event.
 *
 * Lockout window: after `maxFailures` consecutive failures the account locks for
 * min(baseLockoutSeconds · 2^lockouts, maxLockoutSeconds), lockouts counting since the last
 * success or admin unlock. An expired lock is recorded (UserUnlocked 'expired') by the next attempt.
 *
 * A lockout stops password guessing; it ends no session or token. And it cannot be turned
 * against the owner (OWASP's device cookies): an attempt from a device that signed in to the
 * account before (`deviceId`, from a verified idm_device cookie) is not refused by the account's
 * lock, which failures from elsewhere caused. Its own failures count toward that device's own
 * limit (the same threshold and growing window), kept in `devices` for the last MAX_DEVICES
 * devices that failed; a success from it clears its entry, and resets the account's count only
 * while the account is not locked (the guessing from elsewhere stays locked out).
 */
import type { Decider } from './decider.js'
import type { AuthEvent } from './events.js'

export interface DeviceLock { deviceId: string, failures: number, lockouts: number, lockedUntil: string | null }
export interface AuthState { failures: number, lockouts: number, lockedUntil: string | null, devices?: DeviceLock[] }
export interface LockoutPolicy { maxFailures: number, baseLockoutSeconds: number, maxLockoutSeconds: number }

export type AuthOutcome = 'success' | 'invalid_credentials' | 'unknown_user' | 'inactive'

export type AuthCommand =
  | {
    type: 'RecordAuthentication',
    data: {
      userId: string | null
      username: string
      outcome: AuthOutcome
      now: string
      policy: LockoutPolicy
      /** The device a verified idm_device cookie names for this account; absent or null: untrusted. */
      deviceId?: string | null
      /** Recorded with the attempt. */
      clientAddress?: string
    }
  }
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

/** Devices whose lockout state an auth stream keeps. */
export const MAX_DEVICES = 16

const initialState = (): AuthState => ({ failures: 0, lockouts: 0, lockedUntil: null })

const stateOf = (event: AuthEvent): AuthState => {
  const { failures, lockouts, lockedUntil } = event.data
  const devices = 'devices' in event.data ? event.data.devices : undefined
  return { failures, lockouts, lockedUntil, ...(devices === undefined || devices.length === 0 ? {} : { devices }) }
}

/** The state with `devices` (omitted when empty, as in events). */
const withDevices = (state: AuthState, devices: readonly DeviceLock[]): AuthState => {
  const { failures, lockouts, lockedUntil } = state
  return { failures, lockouts, lockedUntil, ...(devices.length === 0 ? {} : { devices: devices.slice(0, MAX_DEVICES) }) }
}

/** The device's lockout state in `state` (a fresh one when it has none). */
export const deviceLock = (state: AuthState, deviceId: string): DeviceLock =>
  state.devices?.find(d => d.deviceId === deviceId) ?? { deviceId, failures: 0, lockouts: 0, lockedUntil: null }

/** Whether an attempt from `deviceId` (null: an untrusted client) is refused as locked now. */
export const isLockedFor = (state: AuthState, deviceId: string | null | undefined, now: string): boolean =>
  deviceId === null || deviceId === undefined ? isLocked(state, now) : isLocked(deviceLock(state, deviceId), now)

type AttemptData = Extract<AuthCommand, { type: 'RecordAuthentication' }>['data']

const originOf = (data: AttemptData) => ({
  ...(data.deviceId === null || data.deviceId === undefined ? {} : { deviceId: data.deviceId }),
  ...(data.clientAddress === undefined ? {} : { clientAddress: data.clientAddress })
})

/** An attempt from a trusted device: the account's lock does not apply; the device's own does. */
const decideOnDevice = (data: AttemptData & { userId: string, deviceId: string }, state: AuthState): AuthEvent[] => {
  const { userId, username, outcome, now, policy, deviceId } = data
  const origin = originOf(data)
  const current = deviceLock(state, deviceId)
  const others = (state.devices ?? []).filter(d => d.deviceId !== deviceId)
  if (isLocked(current, now)) {
    return [{ type: 'AuthenticationFailed', data: { userId, username, reason: 'locked', ...origin, ...state } }]
  }
  // An expired device lock: counting starts again (the window keeps growing with its lockouts).
  const device = current.lockedUntil === null ? current : { ...current, failures: 0, lockedUntil: null }
  switch (outcome) {
    case 'success': {
      const account = isLocked(state, now) ? state : { failures: 0, lockouts: 0, lockedUntil: null }
      return [{ type: 'AuthenticationSucceeded', data: { userId, username, ...origin, ...withDevices(account, others) } }]
    }
    case 'inactive':
      return [{ type: 'AuthenticationFailed', data: { userId, username, reason: 'inactive', ...origin, ...state } }]
    case 'invalid_credentials': {
      const failures = device.failures + 1
      const next: DeviceLock = failures < policy.maxFailures
        ? { ...device, failures }
        : { deviceId, failures, lockouts: device.lockouts + 1, lockedUntil: new Date(instant(now) + lockoutSeconds(device.lockouts, policy) * 1000).toISOString() }
      return [{ type: 'AuthenticationFailed', data: { userId, username, reason: 'invalid_credentials', ...origin, ...withDevices(state, [next, ...others]) } }]
    }
    case 'unknown_user':
      throw new TypeError('an unknown user has no trusted devices')
    default: {
      const unknown: never = outcome
      throw new TypeError(`unknown authentication outcome ${String(unknown)}`)
    }
  }
}

const decideAttempt = (command: AttemptData, state: AuthState): AuthEvent[] => {
  const { userId, username, outcome, now, policy } = command
  const origin = originOf(command)
  if (outcome === 'unknown_user') {
    // Counted, so the unknown-user stream costs as much as a real one, but nobody to lock out.
    return [{ type: 'AuthenticationFailed', data: { userId: null, username, reason: 'unknown_user', ...origin, ...state, failures: state.failures + 1 } }]
  }
  if (userId === null) throw new TypeError(`a '${outcome}' attempt needs the user's id`)
  switch (outcome) {
    case 'success':
      // A success resets the account, and forgets the devices' failures too.
      return [{ type: 'AuthenticationSucceeded', data: { userId, username, ...origin, failures: 0, lockouts: 0, lockedUntil: null } }]
    case 'inactive':
      return [{ type: 'AuthenticationFailed', data: { userId, username, reason: 'inactive', ...origin, ...state } }]
    case 'invalid_credentials': {
      const failures = state.failures + 1
      const failed: AuthEvent = { type: 'AuthenticationFailed', data: { userId, username, reason: 'invalid_credentials', ...origin, ...state, failures } }
      if (failures < policy.maxFailures) return [failed]
      const lockedUntil = new Date(instant(now) + lockoutSeconds(state.lockouts, policy) * 1000).toISOString()
      return [failed, { type: 'UserLockedOut', data: { userId, ...withDevices(state, state.devices ?? []), failures, lockouts: state.lockouts + 1, lockedUntil } }]
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
      const { userId, username, outcome, now, deviceId } = command.data
      if (deviceId !== null && deviceId !== undefined && userId !== null && outcome !== 'unknown_user') {
        return decideOnDevice({ ...command.data, userId, deviceId }, state)
      }
      if (isLocked(state, now)) {
        // The handler checks no password while locked, so the outcome is never known here.
        return [{ type: 'AuthenticationFailed', data: { userId: outcome === 'unknown_user' ? null : userId, username, reason: 'locked', ...originOf(command.data), ...state } }]
      }
      if (state.lockedUntil === null) return decideAttempt(command.data, state)
      // Only user streams ever lock, so an expired lock always comes with the user's id.
      if (userId === null) throw new TypeError('an expired lock needs the user\'s id to be recorded')
      const unlocked: AuthEvent = { type: 'UserUnlocked', data: { userId, reason: 'expired', ...withDevices(state, state.devices ?? []), failures: 0, lockouts: state.lockouts, lockedUntil: null } }
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
