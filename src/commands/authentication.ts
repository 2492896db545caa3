/**
 * Authentication: one KDF verification per attempt whatever the outcome (unknown user, wrong
 * password, locked, inactive, success), so neither the answer nor its timing tells them apart;
 * attempts on one account are serialised, so parallel guesses cannot outrun the lockout; every
 * outcome is an event in the account's authentication stream (unknown usernames in a stream of
 * their own).
 */
import { createHash } from 'node:crypto'
import { authDecider, isLocked, isLockedFor, type AuthCommand } from '../domain/authentication.js'
import { DomainError } from '../domain/errors.js'
import { streams } from '../domain/events.js'
import { normalizeUsername } from '../domain/identity-values.js'
import { MAX_PASSWORD_BYTES } from '../domain/password-policy.js'
import { isWellFormed, toWellFormed } from '../domain/unicode.js'
import { userDecider } from '../domain/user.js'
import type { Commands, WriteResult } from './deps.js'
import { AuthenticationError, WrongCurrentPasswordError } from './errors.js'
import { handleCommand, SYSTEM_ACTOR, type CommandContext } from './handler.js'
import { holderOf } from './reservations.js'
import { acceptablePassword, hashAcceptablePassword, loadUser } from './users.js'

export interface Authenticated {
  readonly userId: string
  readonly username: string
  readonly roles: readonly string[]
  /** Counted the same way by the read model; a token carries it and dies when it changes. */
  readonly credentialVersion: number
  readonly position: number | null
}

export interface Credentials {
  readonly username: string
  readonly password: string
  /**
   * The device id a verified idm_device cookie holds for an account (src/http/device-tokens.ts
   * `deviceOf`): that device is not refused by a lockout that failures from elsewhere caused.
   */
  readonly deviceOf?: (userId: string) => string | null
  /** Recorded on the attempt's event. */
  readonly clientAddress?: string
}

/** Verifies the credentials; throws AuthenticationError (always the same) on any failure. */
export async function authenticate (deps: Commands, input: Credentials, ctx: CommandContext): Promise<Authenticated> {
  const username = safeNormalize(input.username)
  // Too long, or not well-formed Unicode (a lone surrogate): no password matches it, and it is
  // still verified against the hash, so the answer and its timing are those of a wrong password.
  const password = Buffer.byteLength(input.password) > MAX_PASSWORD_BYTES || !isWellFormed(input.password) ? '' : input.password
  return deps.queue.run(`login:${username ?? input.username}`, async () => {
    const userId = username === null ? null : await holderOf(deps, 'username', username)
    const user = userId === null ? userDecider.initialState() : await loadUser(deps, userId)
    const authStream = user.status === 'none' ? streams.unknownAuth(sha256(username ?? input.username)) : streams.auth(user.userId)
    const now = deps.clock().toISOString()
    const auth = await lastAuthState(deps, authStream)
    const deviceId = user.status === 'none' ? null : input.deviceOf?.(user.userId) ?? null

    let outcome: 'success' | 'invalid_credentials' | 'unknown_user' | 'inactive'
    if (user.status === 'none' || isLockedFor(auth, deviceId, now)) {
      await deps.hasher.burn(password)
      outcome = user.status === 'none' ? 'unknown_user' : 'invalid_credentials'
    } else {
      const ok = await deps.hasher.verify(user.passwordHash, password)
      outcome = !ok ? 'invalid_credentials' : user.status === 'inactive' ? 'inactive' : 'success'
    }
    const command: AuthCommand = {
      type: 'RecordAuthentication',
      data: {
        userId: user.status === 'none' ? null : user.userId,
        // Recorded as sent, except what canonical JSON (the hash chain) cannot hold.
        username: user.status === 'none' ? toWellFormed((username ?? input.username).slice(0, 256)) : user.username,
        outcome,
        now,
        policy: deps.lockoutPolicy,
        deviceId,
        ...(input.clientAddress === undefined ? {} : { clientAddress: input.clientAddress.slice(0, 64) })
      }
    }
    const actorCtx = { ...ctx, actor: user.status === 'none' ? ctx.actor : { id: user.userId, username: user.username } }
    const handled = await handleCommand(deps, authDecider, authStream, command, actorCtx)
    const lockout = handled.events.find(event => event.type === 'UserLockedOut')
    if (lockout !== undefined && user.status !== 'none' && user.roles.includes('identity-admin')) {
      deps.onAdminLockout?.({ userId: user.userId, username: user.username, lockedUntil: String((lockout.data as { lockedUntil: string }).lockedUntil) })
    }
    if (user.status === 'none' || handled.events.at(-1)?.type !== 'AuthenticationSucceeded') throw new AuthenticationError()

    if (deps.hasher.needsRehash(user.passwordHash)) {
      const passwordHash = await deps.hasher.hash(password.normalize('NFKC'))
      await deps.execute({ type: 'RehashPassword', data: { userId: user.userId, passwordHash } }, actorCtx)
        .catch(() => undefined) // an upgrade lost to a concurrent change waits for the next login
    }
    return {
      userId: user.userId,
      username: user.username,
      roles: user.roles,
      credentialVersion: user.credentialVersion,
      position: handled.position
    }
  })
}

/**
 * A user changes its own password: the current one is required, and a wrong one counts as a
 * failed authentication toward the lockout.
 */
export async function changeOwnPassword (
  deps: Commands, userId: string, input: { currentPassword: string, newPassword: string }, ctx: CommandContext
): Promise<WriteResult> {
  const user = await loadUser(deps, userId)
  if (user.status === 'none') throw new DomainError('USER_NOT_FOUND', 'no such user', { userId })
  const newPassword = acceptablePassword(deps, input.newPassword, user.username)
  const verified = await deps.queue.run(`login:${user.username}`, async () => {
    const stream = streams.auth(userId)
    const now = deps.clock().toISOString()
    if (!isLocked(await lastAuthState(deps, stream), now) && await deps.hasher.verify(user.passwordHash, input.currentPassword)) return true
    await handleCommand(deps, authDecider, stream, {
      type: 'RecordAuthentication',
      data: { userId, username: user.username, outcome: 'invalid_credentials', now, policy: deps.lockoutPolicy }
    }, ctx)
    return false
  })
  if (!verified) throw new WrongCurrentPasswordError()
  const passwordHash = await deps.hasher.hash(newPassword)
  return await deps.execute({ type: 'ChangePassword', data: { userId, passwordHash } }, ctx)
}

/** An administrator sets a new password (no current password needed). */
export async function resetPassword (deps: Commands, userId: string, newPassword: string, ctx: CommandContext): Promise<WriteResult> {
  const user = await loadUser(deps, userId)
  if (user.status === 'none') throw new DomainError('USER_NOT_FOUND', 'no such user', { userId })
  const passwordHash = await hashAcceptablePassword(deps, newPassword, user.username)
  return await deps.execute({ type: 'ResetPassword', data: { userId, passwordHash } }, ctx)
}

/** Ends a lockout (an administrator's decision). Returns the position appended, if any. */
export async function unlockAccount (deps: Commands, userId: string, ctx: CommandContext): Promise<number | null> {
  const handled = await handleCommand(deps, authDecider, streams.auth(userId),
    { type: 'Unlock', data: { userId, now: deps.clock().toISOString() } }, ctx.actor.id === null ? { ...ctx, actor: SYSTEM_ACTOR } : ctx)
  return handled.position
}

async function lastAuthState (deps: Pick<Commands, 'load'>, stream: string) {
  // Every auth event carries the folded state after it: the load reads the last one only.
  return (await deps.load(authDecider, stream)).state
}

function safeNormalize (raw: string): string | null {
  try {
    return normalizeUsername(raw)
  } catch {
    return null
  }
}

const sha256 = (s: string) => createHash('sha256').update(s).digest('hex')
