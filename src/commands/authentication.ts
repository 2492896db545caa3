/**
 * Authentication: one KDF verification per attempt whatever the outcome (unknown user, wrong
 * password, locked, inactive, success), so neither the answer nor its timing tells them apart;
 * attempts on one account are serialised, so parallel guesses cannot outrun the lockout; every
 * outcome is an event in the account's authentication stream (unknown usernames in a stream of
 * their own).
 */
import { createHash } from 'node:crypto'
import { authDecider, isLocked, isLockedFor, type AuthCommand, type AuthOutcome } from '../domain/authentication.js'
import { authorizeUserCommand, GLOBAL_AUTHORITY, noSuchUser } from '../domain/company-scope.js'
import { DomainError } from '../domain/errors.js'
import { streams } from '../domain/events.js'
import { normalizeUsername } from '../domain/identity-values.js'
import { MAX_PASSWORD_BYTES } from '../domain/password-policy.js'
import { isWellFormed, toWellFormed } from '../domain/unicode.js'
import type { CompletedChallenge, SecondFactorMethod } from '../domain/mfa.js'
import { ADMIN_ROLE } from '../domain/roles.js'
import { userDecider, type UserState } from '../domain/user.js'
import type { Commands, ExecuteOptions, WriteResult } from './deps.js'
import { AuthenticationError, WrongCurrentPasswordError } from './errors.js'
import { handleCommand, SYSTEM_ACTOR, type CommandContext } from './handler.js'
import { holderOf } from './reservations.js'
import { secondFactorMethods, useSecondFactor, type MfaDeps } from './mfa.js'
import { acceptablePassword, hashAcceptablePassword, loadUser } from './users.js'

export interface Authenticated {
  readonly userId: string
  readonly username: string
  readonly roles: readonly string[]
  /** Counted the same way by the read model; a token carries it and dies when it changes. */
  readonly credentialVersion: number
  /** The user's company links and company roles at sign-in (the token's routing claims). */
  readonly companies: readonly string[]
  readonly companyRoles: ReadonlyArray<{ readonly companyId: string, readonly roleId: string }>
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

/**
 * The outcome of the password step. `complete`: signed in (amr ["pwd"]). `second_factor`: the
 * password was right and the user has a second factor: nothing is recorded yet (a success would
 * reset the failure count that wrong second factors add to); `completeSecondFactor` finishes it.
 * Every sign-in path (POST /v1/authentication, the OIDC sign-in page) calls this one function.
 */
export type PasswordStep =
  | ({ readonly step: 'complete', readonly amr: readonly string[] } & Authenticated)
  | {
    readonly step: 'second_factor'
    readonly userId: string
    readonly username: string
    readonly credentialVersion: number
    readonly methods: readonly SecondFactorMethod[]
  }

/** Verifies the credentials; throws AuthenticationError (always the same) on any failure. */
export async function authenticate (deps: Commands, input: Credentials, ctx: CommandContext): Promise<PasswordStep> {
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

    let outcome: AuthOutcome
    if (user.status === 'none' || isLockedFor(auth, deviceId, now)) {
      await deps.hasher.burn(password)
      outcome = user.status === 'none' ? 'unknown_user' : 'invalid_credentials'
    } else {
      const ok = await deps.hasher.verify(user.passwordHash, password)
      outcome = !ok ? 'invalid_credentials' : user.status === 'inactive' ? 'inactive' : 'success'
    }
    const methods = user.status === 'active' && outcome === 'success' ? await secondFactorMethods(deps, user.userId) : []
    if (user.status !== 'none' && methods.length === 0) {
      const recorded = await recordAttempt(deps, user, outcome, { deviceId, clientAddress: input.clientAddress, now }, ctx)
      if (!recorded.succeeded) throw new AuthenticationError()
      await rehashIfDue(deps, user, password, ctx)
      return { step: 'complete', amr: ['pwd'], ...authenticated(user, recorded.position) }
    }
    if (user.status === 'none') {
      await handleCommand(deps, authDecider, authStream, {
        type: 'RecordAuthentication',
        data: {
          userId: null,
          // Recorded as sent, except what canonical JSON (the hash chain) cannot hold.
          username: toWellFormed((username ?? input.username).slice(0, 256)),
          outcome,
          now,
          policy: deps.lockoutPolicy,
          deviceId: null,
          ...(input.clientAddress === undefined ? {} : { clientAddress: input.clientAddress.slice(0, 64) })
        }
      }, ctx)
      throw new AuthenticationError()
    }
    await rehashIfDue(deps, user, password, ctx)
    return { step: 'second_factor', userId: user.userId, username: user.username, credentialVersion: user.credentialVersion, methods }
  })
}

export interface SecondFactorAttempt {
  readonly userId: string
  /** The sign-in attempt (mfa_token) being completed. */
  readonly challenge: CompletedChallenge
  /** The credential version the password step saw: a password change since voids the attempt. */
  readonly credentialVersion: number
  readonly method: SecondFactorMethod
  readonly code: string
  readonly deviceOf?: (userId: string) => string | null
  readonly clientAddress?: string
}

/**
 * Completes a sign-in whose password step asked for a second factor. Serialised with the
 * password attempts of the account, and under the same lockout: a locked account's code is not
 * even checked, and a wrong one is a failed attempt like a wrong password. Throws the same
 * AuthenticationError for every failure.
 */
export async function completeSecondFactor (deps: MfaDeps, input: SecondFactorAttempt, ctx: CommandContext): Promise<Authenticated & { readonly amr: readonly string[] }> {
  const user = await loadUser(deps, input.userId)
  if (user.status !== 'active' || user.credentialVersion !== input.credentialVersion) throw new AuthenticationError()
  return await deps.queue.run(`login:${user.username}`, async () => {
    const now = deps.clock().toISOString()
    const deviceId = input.deviceOf?.(user.userId) ?? null
    const actorCtx = { ...ctx, actor: { id: user.userId, username: user.username } }
    let used: Awaited<ReturnType<typeof useSecondFactor>> = null
    if (!isLockedFor(await lastAuthState(deps, streams.auth(user.userId)), deviceId, now)) {
      used = await useSecondFactor(deps, user.userId, { method: input.method, code: input.code, purpose: 'sign_in', challenge: input.challenge }, actorCtx)
    }
    const recorded = await recordAttempt(deps, user, used === null ? 'invalid_credentials' : 'success', { deviceId, clientAddress: input.clientAddress, now }, ctx)
    if (used === null || !recorded.succeeded) throw new AuthenticationError()
    return { ...authenticated(user, recorded.position ?? used.position), amr: ['pwd', used.amr] }
  })
}

/**
 * A signed-in user proves a second factor again (step-up, for the operations that ask for a
 * recent one). A wrong code counts toward the lockout like a wrong password.
 */
export async function stepUp (deps: MfaDeps, userId: string, input: { method: SecondFactorMethod, code: string }, ctx: CommandContext): Promise<{ amr: string, position: number | null }> {
  const user = await loadUser(deps, userId)
  if (user.status !== 'active') throw new AuthenticationError()
  return await deps.queue.run(`login:${user.username}`, async () => {
    const now = deps.clock().toISOString()
    let used: Awaited<ReturnType<typeof useSecondFactor>> = null
    if (!isLocked(await lastAuthState(deps, streams.auth(user.userId)), now)) {
      used = await useSecondFactor(deps, user.userId, { ...input, purpose: 'step_up', challenge: null }, ctx)
    }
    if (used === null) {
      await recordAttempt(deps, user, 'invalid_credentials', { deviceId: null, now }, ctx)
      throw new AuthenticationError()
    }
    return used
  })
}

type ExistingUser = Exclude<UserState, { status: 'none' }>

const authenticated = (user: ExistingUser, position: number | null): Authenticated => ({
  userId: user.userId,
  username: user.username,
  roles: user.roles,
  credentialVersion: user.credentialVersion,
  companies: user.companies,
  companyRoles: user.companyRoles,
  position
})

/** Records one attempt on the user's auth stream; `succeeded` when it was recorded as a success. */
async function recordAttempt (
  deps: Commands, user: ExistingUser, outcome: AuthOutcome,
  origin: { deviceId: string | null, clientAddress?: string | undefined, now: string }, ctx: CommandContext
): Promise<{ succeeded: boolean, position: number | null }> {
  const command: AuthCommand = {
    type: 'RecordAuthentication',
    data: {
      userId: user.userId,
      username: user.username,
      outcome,
      now: origin.now,
      policy: deps.lockoutPolicy,
      deviceId: origin.deviceId,
      ...(origin.clientAddress === undefined ? {} : { clientAddress: origin.clientAddress.slice(0, 64) })
    }
  }
  const actorCtx = { ...ctx, actor: { id: user.userId, username: user.username } }
  const handled = await handleCommand(deps, authDecider, streams.auth(user.userId), command, actorCtx)
  const lockout = handled.events.find(event => event.type === 'UserLockedOut')
  if (lockout !== undefined && user.roles.includes(ADMIN_ROLE)) {
    deps.onAdminLockout?.({ userId: user.userId, username: user.username, lockedUntil: String((lockout.data as { lockedUntil: string }).lockedUntil) })
  }
  return { succeeded: handled.events.at(-1)?.type === 'AuthenticationSucceeded', position: handled.position }
}

async function rehashIfDue (deps: Commands, user: ExistingUser, password: string, ctx: CommandContext): Promise<void> {
  if (!deps.hasher.needsRehash(user.passwordHash)) return
  const passwordHash = await deps.hasher.hash(password.normalize('NFKC'))
  await deps.execute({ type: 'RehashPassword', data: { userId: user.userId, passwordHash } }, { ...ctx, actor: { id: user.userId, username: user.username } })
    .catch(() => undefined) // an upgrade lost to a concurrent change waits for the next login
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
export async function resetPassword (
  deps: Commands, userId: string, newPassword: string, ctx: CommandContext, options: ExecuteOptions = {}
): Promise<WriteResult> {
  const user = await loadUser(deps, userId)
  if (user.status === 'none') throw noSuchUser(userId)
  // Before the hash: a user the caller may not see is refused as fast as one that does not exist.
  authorizeUserCommand(options.authority ?? GLOBAL_AUTHORITY, { type: 'ResetPassword', data: { userId, passwordHash: '' } }, user)
  const passwordHash = await hashAcceptablePassword(deps, newPassword, user.username)
  return await deps.execute({ type: 'ResetPassword', data: { userId, passwordHash } }, ctx, options)
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
