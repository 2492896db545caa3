/**
 * User use cases. Each does what must happen before a decision (hash a password, look up the
 * catalog entries the command names) and hands the command to the executor
 * (`commands.execute`, src/commands/executor.ts), which plans it (src/domain/user-plan.ts) and
 * carries the plan out: reservations, admin seat, append, lockout.
 */
import { DomainError } from '../domain/errors.js'
import { streams, type ProviderLink } from '../domain/events.js'
import { normalizeUsername } from '../domain/identity-values.js'
import { checkPassword } from '../domain/password-policy.js'
import { userDecider, type UserCommand, type UserProfile, type UserState } from '../domain/user.js'
import { loadCatalogSnapshot } from './catalog-snapshot.js'
import type { Commands, ExecuteOptions, WriteResult } from './deps.js'
import type { CommandContext } from './handler.js'

export type { WriteResult } from './deps.js'

export interface RegisterUserInput extends UserProfile {
  readonly username: string
  readonly password: string
  readonly roles?: readonly string[]
  readonly companies?: readonly string[]
  readonly providers?: readonly { providerId: string, externalUserId?: string | null }[]
}

export async function registerUser (commands: Commands, input: RegisterUserInput, ctx: CommandContext, options: ExecuteOptions = {}): Promise<WriteResult> {
  const username = normalizeUsername(input.username)
  const passwordHash = await hashAcceptablePassword(commands, input.password, username)
  const roles = [...input.roles ?? []]
  const companies = [...input.companies ?? []]
  const providers: ProviderLink[] = (input.providers ?? []).map(p => ({ providerId: p.providerId, externalUserId: p.externalUserId ?? null }))
  const catalog = await loadCatalogSnapshot(commands, {
    roles, companies, providers: providers.map(p => p.providerId), identificationTypes: [input.identificationType]
  })
  return await commands.execute({
    type: 'RegisterUser',
    data: { userId: commands.newId(), username, passwordHash, roles, companies, providers, catalog, ...profileOf(input) }
  }, ctx, options)
}

export async function updateProfile (
  commands: Commands, userId: string, profile: UserProfile, ctx: CommandContext, options: ExecuteOptions = {}
): Promise<WriteResult> {
  const catalog = await loadCatalogSnapshot(commands, { identificationTypes: [profile.identificationType] })
  return await commands.execute({ type: 'UpdateProfile', data: { userId, catalog, ...profileOf(profile) } }, ctx, options)
}

export const assignRole = (commands: Commands, userId: string, roleId: string, ctx: CommandContext, options: ExecuteOptions = {}): Promise<WriteResult> =>
  withCatalog(commands, { roles: [roleId] }, catalog => ({ type: 'AssignRole', data: { userId, roleId, catalog } }), ctx, options)

export const revokeRole = (commands: Commands, userId: string, roleId: string, ctx: CommandContext, options: ExecuteOptions = {}): Promise<WriteResult> =>
  commands.execute({ type: 'RevokeRole', data: { userId, roleId } }, ctx, options)

/** A role held in one company; the user must be linked to it. */
export const assignCompanyRole = (
  commands: Commands, userId: string, companyId: string, roleId: string, ctx: CommandContext, options: ExecuteOptions = {}
): Promise<WriteResult> =>
  withCatalog(commands, { roles: [roleId] }, catalog => ({ type: 'AssignCompanyRole', data: { userId, companyId, roleId, catalog } }), ctx, options)

export const revokeCompanyRole = (
  commands: Commands, userId: string, companyId: string, roleId: string, ctx: CommandContext, options: ExecuteOptions = {}
): Promise<WriteResult> =>
  commands.execute({ type: 'RevokeCompanyRole', data: { userId, companyId, roleId } }, ctx, options)

export const linkCompany = (commands: Commands, userId: string, companyId: string, ctx: CommandContext, options: ExecuteOptions = {}): Promise<WriteResult> =>
  withCatalog(commands, { companies: [companyId] }, catalog => ({ type: 'LinkCompany', data: { userId, companyId, catalog } }), ctx, options)

/** Also revokes every role the user holds in that company (events for both). */
export const unlinkCompany = (commands: Commands, userId: string, companyId: string, ctx: CommandContext, options: ExecuteOptions = {}): Promise<WriteResult> =>
  commands.execute({ type: 'UnlinkCompany', data: { userId, companyId } }, ctx, options)

export const linkProvider = (
  commands: Commands, userId: string, providerId: string, externalUserId: string | null, ctx: CommandContext, options: ExecuteOptions = {}
): Promise<WriteResult> =>
  withCatalog(commands, { providers: [providerId] },
    catalog => ({ type: 'LinkProvider', data: { userId, providerId, externalUserId, catalog } }), ctx, options)

export const unlinkProvider = (commands: Commands, userId: string, providerId: string, ctx: CommandContext, options: ExecuteOptions = {}): Promise<WriteResult> =>
  commands.execute({ type: 'UnlinkProvider', data: { userId, providerId } }, ctx, options)

/**
 * Deactivating releases the admin seat first (LAST_ADMIN is decided there); activating also ends
 * a lockout, as an administrator's explicit word that the account may sign in again (both are
 * steps of the plan, src/domain/user-plan.ts).
 */
export const changeStatus = (
  commands: Commands, userId: string, status: 'active' | 'inactive', reason: string | null, ctx: CommandContext, options: ExecuteOptions = {}
): Promise<WriteResult> =>
  commands.execute({ type: 'ChangeStatus', data: { userId, status, reason } }, ctx, options)

export async function loadUser (commands: Pick<Commands, 'load'>, userId: string): Promise<UserState> {
  return (await commands.load(userDecider, streams.user(userId))).state
}

export async function hashAcceptablePassword (commands: Commands, password: string, username: string): Promise<string> {
  return commands.hasher.hash(acceptablePassword(commands, password, username))
}

/** The NFKC-normalised password, or WEAK_PASSWORD (422) with the policy's reason. */
export function acceptablePassword (commands: Pick<Commands, 'passwordPolicy'>, password: string, username: string): string {
  const check = checkPassword(password, commands.passwordPolicy, { username })
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
  commands: Commands,
  refs: Parameters<typeof loadCatalogSnapshot>[1],
  build: (catalog: Awaited<ReturnType<typeof loadCatalogSnapshot>>) => UserCommand,
  ctx: CommandContext,
  options: ExecuteOptions
): Promise<WriteResult> {
  return await commands.execute(build(await loadCatalogSnapshot(commands, refs)), ctx, options)
}

const profileOf = (p: UserProfile): UserProfile => ({
  email: p.email,
  firstName: p.firstName,
  lastName: p.lastName,
  identificationType: p.identificationType,
  identificationNumber: p.identificationNumber,
  phone: p.phone ?? null
})
