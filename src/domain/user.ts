/**
 * The user aggregate, stream user-<userId>: profile, password hash, status and the catalog
 * entries it holds (roles, companies, providers). Catalog entries live in their own streams; the
 * use case looks up the ones a command references and passes their statuses in `catalog`.
 * "Never zero active identity-admins" spans users: admin-seats.ts guards it, not this decider.
 */
import { CREDENTIAL_EVENTS } from './credentials.js'
import type { Decider } from './decider.js'
import { DomainError, type DomainErrorCode } from './errors.js'
import type { CompanyRole, EventOf, ProviderLink, UserEvent, UserProfile } from './events.js'
import { normalizeUsername } from './identity-values.js'
import { ADMIN_ROLE, grantScopes } from './roles.js'

export { ADMIN_ROLE }
export type { UserProfile }

export type CatalogStatus = 'active' | 'inactive'

/** Statuses of the catalog entries a command references, looked up by the use case before deciding. A missing key means the entry does not exist. */
export interface CatalogSnapshot {
  roles?: Record<string, CatalogStatus>
  companies?: Record<string, CatalogStatus>
  providers?: Record<string, CatalogStatus>
  identificationTypes?: Record<string, CatalogStatus>
}

export type UserState =
  | { status: 'none' }
  | (EventOf<'UserRegistered'>['data'] & {
    status: 'active' | 'inactive'
    /** How many credential events (credentials.ts) the user has had: a token carries it as `cv`. */
    credentialVersion: number
    /** Roles held in a company the user is linked to, sorted by company then role. */
    companyRoles: CompanyRole[]
  })

type ExistingUser = Exclude<UserState, { status: 'none' }>

export type UserCommand =
  | { type: 'RegisterUser', data: EventOf<'UserRegistered'>['data'] & { catalog: CatalogSnapshot } }
  | { type: 'UpdateProfile', data: { userId: string, catalog: CatalogSnapshot } & UserProfile }
  | { type: 'AssignRole', data: { userId: string, roleId: string, catalog: CatalogSnapshot } }
  | { type: 'RevokeRole', data: { userId: string, roleId: string } }
  | { type: 'AssignCompanyRole', data: { userId: string, companyId: string, roleId: string, catalog: CatalogSnapshot } }
  | { type: 'RevokeCompanyRole', data: { userId: string, companyId: string, roleId: string } }
  | { type: 'ChangePassword', data: { userId: string, passwordHash: string } }
  | { type: 'ResetPassword', data: { userId: string, passwordHash: string } }
  | { type: 'RehashPassword', data: { userId: string, passwordHash: string } }
  | { type: 'ChangeStatus', data: { userId: string, status: 'active' | 'inactive', reason: string | null } }
  | { type: 'LinkCompany', data: { userId: string, companyId: string, catalog: CatalogSnapshot } }
  | { type: 'UnlinkCompany', data: { userId: string, companyId: string } }
  | { type: 'LinkProvider', data: { userId: string, providerId: string, externalUserId: string | null, catalog: CatalogSnapshot } }
  | { type: 'UnlinkProvider', data: { userId: string, providerId: string } }

/** Status active and holds the identity-admin role: compare before and after a command to know whether a seat moves. */
export const isActiveAdmin = (state: UserState): boolean =>
  state.status === 'active' && state.roles.includes(ADMIN_ROLE)

/** The answer for a user that does not exist, and for every user a caller may not see (company-scope.ts). */
export const noSuchUser = (userId: string): DomainError => new DomainError('USER_NOT_FOUND', 'There is no such user', { userId })

// ── catalog references ──────────────────────────────────────────────────────────────────────
type Reference = 'role' | 'company' | 'provider' | 'identificationType'

const references: Readonly<Record<Reference, { snapshot: keyof CatalogSnapshot, unknown: DomainErrorCode, inactive: DomainErrorCode, label: string }>> = {
  role: { snapshot: 'roles', unknown: 'ROLE_UNKNOWN', inactive: 'ROLE_INACTIVE', label: 'role' },
  company: { snapshot: 'companies', unknown: 'COMPANY_UNKNOWN', inactive: 'COMPANY_INACTIVE', label: 'company' },
  provider: { snapshot: 'providers', unknown: 'PROVIDER_UNKNOWN', inactive: 'PROVIDER_INACTIVE', label: 'provider' },
  identificationType: { snapshot: 'identificationTypes', unknown: 'IDENTIFICATION_TYPE_UNKNOWN', inactive: 'IDENTIFICATION_TYPE_INACTIVE', label: 'identification type' }
}

const requireActive = (kind: Reference, id: string, catalog: CatalogSnapshot): void => {
  const ref = references[kind]
  const entries = catalog[ref.snapshot]
  // Own keys only: an id such as "constructor" must not find Object.prototype.
  const status = entries !== undefined && Object.hasOwn(entries, id) ? entries[id] : undefined
  if (status === undefined) throw new DomainError(ref.unknown, `There is no ${ref.label} ${id}`, { kind, id })
  if (status !== 'active') throw new DomainError(ref.inactive, `The ${ref.label} ${id} is inactive`, { kind, id })
}

const requireGrantable = (roleId: string, scope: 'global' | 'company'): void => {
  if (grantScopes(roleId).includes(scope)) return
  throw scope === 'global'
    ? new DomainError('ROLE_COMPANY_ONLY', `The role ${roleId} is granted in a company only`, { roleId })
    : new DomainError('ROLE_GLOBAL_ONLY', `The role ${roleId} cannot be granted in a company`, { roleId })
}

export const holdsCompanyRole = (user: { companyRoles: readonly CompanyRole[] }, companyId: string, roleId: string): boolean =>
  user.companyRoles.some(r => r.companyId === companyId && r.roleId === roleId)

const compareCompanyRoles = (a: CompanyRole, b: CompanyRole): number =>
  a.companyId < b.companyId ? -1 : a.companyId > b.companyId ? 1 : a.roleId < b.roleId ? -1 : a.roleId > b.roleId ? 1 : 0

// ── decide ──────────────────────────────────────────────────────────────────────────────────
const unique = (ids: readonly string[]): string[] => [...new Set(ids)].sort()

/** One link per provider; the first one given wins. */
const uniqueProviders = (links: readonly ProviderLink[]): ProviderLink[] => {
  const seen = new Map<string, ProviderLink>()
  for (const { providerId, externalUserId } of links) {
    if (!seen.has(providerId)) seen.set(providerId, { providerId, externalUserId })
  }
  return [...seen.values()]
}

const profileOf = ({ email, firstName, lastName, identificationType, identificationNumber, phone }: UserProfile): UserProfile =>
  ({ email, firstName, lastName, identificationType, identificationNumber, phone })

const profileFields = ['email', 'firstName', 'lastName', 'identificationType', 'identificationNumber', 'phone'] as const

const register = (data: Extract<UserCommand, { type: 'RegisterUser' }>['data']): UserEvent[] => {
  const { userId, username, passwordHash, catalog } = data
  // The use case reserves the normalized username; storing another spelling would split the two.
  if (normalizeUsername(username) !== username) {
    throw new DomainError('INVALID_USERNAME', 'The username must be given in its normalized form', { username })
  }
  const roles = unique(data.roles)
  const companies = unique(data.companies)
  const providers = uniqueProviders(data.providers)
  requireActive('identificationType', data.identificationType, catalog)
  for (const id of roles) requireActive('role', id, catalog)
  for (const id of roles) requireGrantable(id, 'global')
  for (const id of companies) requireActive('company', id, catalog)
  for (const { providerId } of providers) requireActive('provider', providerId, catalog)
  return [{ type: 'UserRegistered', data: { userId, username, ...profileOf(data), passwordHash, roles, companies, providers } }]
}

const decideExisting = (command: Exclude<UserCommand, { type: 'RegisterUser' }>, user: ExistingUser): UserEvent[] => {
  const { userId } = command.data
  switch (command.type) {
    case 'UpdateProfile': {
      const profile = profileOf(command.data)
      if (profileFields.every(field => profile[field] === user[field])) return []
      if (profile.identificationType !== user.identificationType) {
        // An identification type deactivated since registration does not block other edits.
        requireActive('identificationType', profile.identificationType, command.data.catalog)
      }
      return [{ type: 'UserProfileUpdated', data: { userId, ...profile } }]
    }
    case 'AssignRole': {
      const { roleId, catalog } = command.data
      if (user.roles.includes(roleId)) return []
      requireActive('role', roleId, catalog)
      requireGrantable(roleId, 'global')
      return [{ type: 'UserRoleAssigned', data: { userId, roleId } }]
    }
    case 'AssignCompanyRole': {
      const { companyId, roleId, catalog } = command.data
      if (holdsCompanyRole(user, companyId, roleId)) return []
      requireActive('role', roleId, catalog)
      requireGrantable(roleId, 'company')
      if (!user.companies.includes(companyId)) {
        throw new DomainError('COMPANY_NOT_LINKED', `The user is not linked to the company ${companyId}`, { companyId })
      }
      return [{ type: 'UserCompanyRoleAssigned', data: { userId, companyId, roleId } }]
    }
    case 'RevokeCompanyRole': {
      const { companyId, roleId } = command.data
      return holdsCompanyRole(user, companyId, roleId) ? [{ type: 'UserCompanyRoleRevoked', data: { userId, companyId, roleId } }] : []
    }
    case 'RevokeRole': {
      const { roleId } = command.data
      return user.roles.includes(roleId) ? [{ type: 'UserRoleRevoked', data: { userId, roleId } }] : []
    }
    case 'ChangePassword':
      return [{ type: 'UserPasswordChanged', data: { userId, passwordHash: command.data.passwordHash } }]
    case 'ResetPassword':
      return [{ type: 'UserPasswordReset', data: { userId, passwordHash: command.data.passwordHash } }]
    case 'RehashPassword':
      return [{ type: 'UserPasswordRehashed', data: { userId, passwordHash: command.data.passwordHash } }]
    case 'ChangeStatus': {
      const { status, reason } = command.data
      if (status === user.status) return []
      return [status === 'active'
        ? { type: 'UserActivated', data: { userId, reason } }
        : { type: 'UserDeactivated', data: { userId, reason } }]
    }
    case 'LinkCompany': {
      const { companyId, catalog } = command.data
      if (user.companies.includes(companyId)) return []
      requireActive('company', companyId, catalog)
      return [{ type: 'UserCompanyLinked', data: { userId, companyId } }]
    }
    case 'UnlinkCompany': {
      const { companyId } = command.data
      if (!user.companies.includes(companyId)) return []
      // The roles held there go first, each as its own event: a reader of the log sees them end.
      const revoked: UserEvent[] = user.companyRoles.filter(r => r.companyId === companyId)
        .map(({ roleId }) => ({ type: 'UserCompanyRoleRevoked', data: { userId, companyId, roleId } }))
      return [...revoked, { type: 'UserCompanyUnlinked', data: { userId, companyId } }]
    }
    case 'LinkProvider': {
      const { providerId, externalUserId, catalog } = command.data
      const current = user.providers.find(link => link.providerId === providerId)
      if (current !== undefined && current.externalUserId === externalUserId) return []
      requireActive('provider', providerId, catalog)
      return [{ type: 'UserProviderLinked', data: { userId, providerId, externalUserId } }]
    }
    case 'UnlinkProvider': {
      const { providerId } = command.data
      return user.providers.some(link => link.providerId === providerId)
        ? [{ type: 'UserProviderUnlinked', data: { userId, providerId } }]
        : []
    }
    default: {
      const unknown: never = command
      throw new TypeError(`unknown user command ${JSON.stringify(unknown)}`)
    }
  }
}

const decide = (command: UserCommand, state: UserState): UserEvent[] => {
  const { userId } = command.data
  if (command.type === 'RegisterUser') {
    if (state.status !== 'none') throw new DomainError('USER_EXISTS', 'The user already exists', { userId })
    return register(command.data)
  }
  if (state.status === 'none') throw noSuchUser(userId)
  return decideExisting(command, state)
}

// ── evolve ──────────────────────────────────────────────────────────────────────────────────
const withLink = (links: readonly ProviderLink[], link: ProviderLink): ProviderLink[] =>
  links.some(l => l.providerId === link.providerId)
    ? links.map(l => l.providerId === link.providerId ? link : l)
    : [...links, link]

/** Applies a change to an existing user; an event for a user that does not exist changes nothing. */
const patch = (state: UserState, change: (user: ExistingUser) => Partial<ExistingUser>): UserState =>
  state.status === 'none' ? state : { ...state, ...change(state) }

const evolve = (state: UserState, event: UserEvent): UserState => {
  const next = apply(state, event)
  return CREDENTIAL_EVENTS.has(event.type) && next.status !== 'none' ? { ...next, credentialVersion: next.credentialVersion + 1 } : next
}

const apply = (state: UserState, event: UserEvent): UserState => {
  switch (event.type) {
    case 'UserRegistered': {
      const { userId, username, passwordHash, roles, companies, providers } = event.data
      return { status: 'active', userId, username, passwordHash, roles, companies, providers, credentialVersion: 0, companyRoles: [], ...profileOf(event.data) }
    }
    case 'UserProfileUpdated':
      return patch(state, () => profileOf(event.data))
    case 'UserRoleAssigned':
      return patch(state, user => ({ roles: unique([...user.roles, event.data.roleId]) }))
    case 'UserRoleRevoked':
      return patch(state, user => ({ roles: user.roles.filter(id => id !== event.data.roleId) }))
    case 'UserPasswordChanged':
    case 'UserPasswordReset':
    case 'UserPasswordRehashed':
      return patch(state, () => ({ passwordHash: event.data.passwordHash }))
    case 'UserDeactivated':
      return patch(state, () => ({ status: 'inactive' }))
    case 'UserActivated':
      return patch(state, () => ({ status: 'active' }))
    case 'UserCompanyLinked':
      return patch(state, user => ({ companies: unique([...user.companies, event.data.companyId]) }))
    case 'UserCompanyUnlinked':
      return patch(state, user => ({ companies: user.companies.filter(id => id !== event.data.companyId) }))
    case 'UserProviderLinked': {
      const { providerId, externalUserId } = event.data
      return patch(state, user => ({ providers: withLink(user.providers, { providerId, externalUserId }) }))
    }
    case 'UserProviderUnlinked':
      return patch(state, user => ({ providers: user.providers.filter(link => link.providerId !== event.data.providerId) }))
    case 'UserCompanyRoleAssigned': {
      const { companyId, roleId } = event.data
      return patch(state, user => holdsCompanyRole(user, companyId, roleId)
        ? {}
        : { companyRoles: [...user.companyRoles, { companyId, roleId }].sort(compareCompanyRoles) })
    }
    case 'UserCompanyRoleRevoked': {
      const { companyId, roleId } = event.data
      return patch(state, user => ({ companyRoles: user.companyRoles.filter(r => r.companyId !== companyId || r.roleId !== roleId) }))
    }
    default: {
      const unknown: never = event
      return unknown
    }
  }
}

export const userDecider: Decider<UserCommand, UserState, UserEvent> = {
  initialState: () => ({ status: 'none' }),
  evolve,
  decide
}
