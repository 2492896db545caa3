/**
 * User use cases: each validates what it can up front, keeps uniqueness through reservations and
 * the admin-seat guard, and leaves the decision to the pure user decider.
 */
import { DomainError } from '../domain/errors.js'
import { streams, type ProviderLink } from '../domain/events.js'
import { emailKey, identificationKey, normalizeUsername } from '../domain/identity-values.js'
import { checkPassword } from '../domain/password-policy.js'
import { isActiveAdmin, userDecider, type UserCommand, type UserProfile, type UserState } from '../domain/user.js'
import { claimSeat, releaseSeat } from './admin-seats.js'
import { loadCatalogSnapshot } from './catalog-snapshot.js'
import { loadFolded } from './fold-cache.js'
import type { CommandDeps } from './deps.js'
import { PreconditionFailedError } from './errors.js'
import { createdByThisRequest, handleCommand, type CommandContext, type Handled } from './handler.js'
import { releaseAll, reserveAll } from './reservations.js'

/** What a write returns: the user it touched and how far the log got (for read-your-writes). */
export interface WriteResult {
  readonly userId: string
  /** Position of the last event appended; null when nothing was appended (a no-op). */
  readonly position: number | null
}

export interface RegisterUserInput extends UserProfile {
  readonly username: string
  readonly password: string
  readonly roles?: readonly string[]
  readonly companies?: readonly string[]
  readonly providers?: readonly { providerId: string, externalUserId?: string | null }[]
}

export async function registerUser (deps: CommandDeps, input: RegisterUserInput, ctx: CommandContext): Promise<WriteResult> {
  const username = normalizeUsername(input.username)
  const passwordHash = await hashAcceptablePassword(deps, input.password, username)
  const roles = [...input.roles ?? []]
  const companies = [...input.companies ?? []]
  const providers: ProviderLink[] = (input.providers ?? []).map(p => ({ providerId: p.providerId, externalUserId: p.externalUserId ?? null }))
  const catalog = await loadCatalogSnapshot(deps.store, {
    roles, companies, providers: providers.map(p => p.providerId), identificationTypes: [input.identificationType]
  })
  const command = (userId: string): UserCommand => ({
    type: 'RegisterUser',
    data: { userId, username, passwordHash, roles, companies, providers, catalog, ...profileOf(input) }
  })
  // Decide once before reserving anything: a rule broken here must leave no reservation behind.
  userDecider.decide(command(deps.newId()), userDecider.initialState())

  const claims = uniquenessClaims(username, input)
  const userId = await reserveAll(deps, claims, deps.newId(), ctx)
  const replayed = await createdByThisRequest(deps.store, streams.user(userId), ctx)
  if (replayed !== null) return { userId, position: replayed }
  let handled: Handled<UserState>
  try {
    handled = await handleCommand(deps, userDecider, streams.user(userId), command(userId), ctx, { idempotency: 'stable' })
  } catch (err) {
    await releaseAll(deps, claims, userId, ctx)
    throw err
  }
  if (isActiveAdmin(handled.state)) await claimSeat(deps, userId, ctx)
  return { userId, position: handled.position }
}

export async function updateProfile (
  deps: CommandDeps, userId: string, profile: UserProfile, ctx: CommandContext, options: { ifMatch?: number } = {}
): Promise<WriteResult> {
  const { state: current, revision } = await loadFolded(deps.store, userDecider, streams.user(userId))
  if (current.status === 'none') throw new DomainError('USER_NOT_FOUND', 'no such user', { userId })
  // A stale If-Match is refused before anything is reserved (the handler checks it again at the append).
  if (options.ifMatch !== undefined && options.ifMatch !== revision) throw new PreconditionFailedError(options.ifMatch, revision)
  const catalog = await loadCatalogSnapshot(deps.store, { identificationTypes: [profile.identificationType] })
  const command: UserCommand = { type: 'UpdateProfile', data: { userId, catalog, ...profileOf(profile) } }
  userDecider.decide(command, current) // a broken rule must not reserve anything

  const oldClaims = uniquenessClaims(current.username, current).slice(1)
  const newClaims = uniquenessClaims(current.username, profile).slice(1)
  const added = newClaims.filter(c => !oldClaims.some(o => o.kind === c.kind && o.value === c.value))
  const dropped = oldClaims.filter(o => !newClaims.some(c => c.kind === o.kind && c.value === o.value))
  await reserveAll(deps, added, userId, ctx)
  let handled: Handled<UserState>
  try {
    handled = await handleCommand(deps, userDecider, streams.user(userId), command, ctx, { ...options, idempotency: 'stable' })
  } catch (err) {
    await releaseAll(deps, added, userId, ctx)
    throw err
  }
  await releaseAll(deps, dropped, userId, ctx)
  return { userId, position: handled.position }
}

export const assignRole = (deps: CommandDeps, userId: string, roleId: string, ctx: CommandContext): Promise<WriteResult> =>
  withCatalog(deps, { roles: [roleId] }, catalog => ({ type: 'AssignRole', data: { userId, roleId, catalog } }), ctx)

export const revokeRole = (deps: CommandDeps, userId: string, roleId: string, ctx: CommandContext): Promise<WriteResult> =>
  runUserCommand(deps, { type: 'RevokeRole', data: { userId, roleId } }, ctx)

export const linkCompany = (deps: CommandDeps, userId: string, companyId: string, ctx: CommandContext): Promise<WriteResult> =>
  withCatalog(deps, { companies: [companyId] }, catalog => ({ type: 'LinkCompany', data: { userId, companyId, catalog } }), ctx)

export const unlinkCompany = (deps: CommandDeps, userId: string, companyId: string, ctx: CommandContext): Promise<WriteResult> =>
  runUserCommand(deps, { type: 'UnlinkCompany', data: { userId, companyId } }, ctx)

export const linkProvider = (
  deps: CommandDeps, userId: string, providerId: string, externalUserId: string | null, ctx: CommandContext
): Promise<WriteResult> =>
  withCatalog(deps, { providers: [providerId] },
    catalog => ({ type: 'LinkProvider', data: { userId, providerId, externalUserId, catalog } }), ctx)

export const unlinkProvider = (deps: CommandDeps, userId: string, providerId: string, ctx: CommandContext): Promise<WriteResult> =>
  runUserCommand(deps, { type: 'UnlinkProvider', data: { userId, providerId } }, ctx)

/**
 * Deactivating releases the admin seat first (LAST_ADMIN is decided there); activating also ends
 * a lockout, as an administrator's explicit word that the account may sign in again.
 */
export async function changeStatus (
  deps: CommandDeps, userId: string, status: 'active' | 'inactive', reason: string | null, ctx: CommandContext,
  unlock: (deps: CommandDeps, userId: string, ctx: CommandContext) => Promise<number | null>
): Promise<WriteResult> {
  const result = await runUserCommand(deps, { type: 'ChangeStatus', data: { userId, status, reason } }, ctx)
  if (status !== 'active') return result
  const unlocked = await unlock(deps, userId, ctx)
  return { userId, position: unlocked ?? result.position }
}

/**
 * Runs a user command inside the admin-seat guard: if the decision would take an active admin
 * away, the seat is released before the append (refused for the last one); afterwards an active
 * admin always holds a seat. On failure the seat is restored from the actual state.
 */
export async function runUserCommand (
  deps: CommandDeps, command: UserCommand, ctx: CommandContext, options: { ifMatch?: number } = {}
): Promise<WriteResult> {
  const userId = command.data.userId
  const before = await loadUser(deps, userId)
  const preview = userDecider.decide(command, before).reduce(userDecider.evolve, before)
  const losesAdmin = isActiveAdmin(before) && !isActiveAdmin(preview)
  if (losesAdmin) await releaseSeat(deps, userId, ctx)
  let handled: Handled<UserState>
  try {
    handled = await handleCommand(deps, userDecider, streams.user(userId), command, ctx, { ...options, idempotency: 'stable' })
  } catch (err) {
    if (losesAdmin && isActiveAdmin(await loadUser(deps, userId))) await claimSeat(deps, userId, ctx)
    throw err
  }
  if (isActiveAdmin(handled.state) && (losesAdmin || !isActiveAdmin(handled.before))) await claimSeat(deps, userId, ctx)
  return { userId, position: handled.position }
}

export async function loadUser (deps: Pick<CommandDeps, 'store'>, userId: string): Promise<UserState> {
  return (await loadFolded(deps.store, userDecider, streams.user(userId))).state
}

export async function hashAcceptablePassword (deps: CommandDeps, password: string, username: string): Promise<string> {
  return deps.hasher.hash(acceptablePassword(deps, password, username))
}

/** The NFKC-normalised password, or WEAK_PASSWORD (422) with the policy's reason. */
export function acceptablePassword (deps: Pick<CommandDeps, 'passwordPolicy'>, password: string, username: string): string {
  const check = checkPassword(password, deps.passwordPolicy, { username })
  if (!check.ok) throw new DomainError('WEAK_PASSWORD', weakPasswordMessage[check.reason], { reason: check.reason })
  return check.normalized
}

const weakPasswordMessage = {
  too_short: 'the password is too short',
  too_long: 'the password is too long',
  common: 'the password is too common or predictable',
  contains_username: 'the password must not contain the username'
} as const

async function withCatalog (
  deps: CommandDeps,
  refs: Parameters<typeof loadCatalogSnapshot>[1],
  build: (catalog: Awaited<ReturnType<typeof loadCatalogSnapshot>>) => UserCommand,
  ctx: CommandContext
): Promise<WriteResult> {
  return runUserCommand(deps, build(await loadCatalogSnapshot(deps.store, refs)), ctx)
}

const profileOf = (p: UserProfile): UserProfile => ({
  email: p.email,
  firstName: p.firstName,
  lastName: p.lastName,
  identificationType: p.identificationType,
  identificationNumber: p.identificationNumber,
  phone: p.phone ?? null
})

/** The unique values a user holds: username first, then email and identification. */
function uniquenessClaims (username: string, p: Pick<UserProfile, 'email' | 'identificationType' | 'identificationNumber'>) {
  return [
    { kind: 'username' as const, value: username },
    { kind: 'email' as const, value: emailKey(p.email) },
    { kind: 'identification' as const, value: identificationKey(p.identificationType, p.identificationNumber) }
  ]
}
