/**
 * What a caller may see and change, from its roles (the read model's, as for every role check):
 *   - `readScope`: every user (identity-admin, identity-auditor), or the users linked to the
 *     companies where it holds company-admin or company-auditor;
 *   - `writeAuthority`: global (identity-admin) or the companies where it holds company-admin;
 *     the command then decides against the user's own stream (src/domain/company-scope.ts).
 * A company-scoped reader sees of a user only its own companies' links and roles: the user's
 * other companies are none of its business (`scopedView`).
 */
import { GLOBAL_AUTHORITY, type Authority } from '../../domain/company-scope.js'
import { ROLES } from '../../domain/roles.js'
import type { UserView } from '../../projections/user-view.js'
import type { Principal } from './verification.js'

export type ReadScope =
  | { readonly kind: 'all' }
  | { readonly kind: 'companies', readonly companies: readonly string[] }

/** Company roles that pass a route's check (`config.auth.company`); the handler narrows to their companies. */
export const COMPANY_READERS: readonly string[] = [ROLES.companyAdmin, ROLES.companyAuditor]
export const COMPANY_ADMINS: readonly string[] = [ROLES.companyAdmin]

/** Companies where the principal holds one of the roles. */
export function companiesWith (principal: Principal, roles: readonly string[]): string[] {
  return [...new Set(principal.companyRoles.filter(r => roles.includes(r.roleId)).map(r => r.companyId))].sort()
}

export function readScope (principal: Principal): ReadScope {
  if (principal.roles.includes(ROLES.admin) || principal.roles.includes(ROLES.auditor)) return { kind: 'all' }
  return { kind: 'companies', companies: companiesWith(principal, COMPANY_READERS) }
}

export function writeAuthority (principal: Principal): Authority {
  if (principal.roles.includes(ROLES.admin)) return GLOBAL_AUTHORITY
  return { kind: 'company', companies: companiesWith(principal, [ROLES.companyAdmin]) }
}

/** The user as this scope may see it, or null when it may not see it at all. */
export function scopedView (scope: ReadScope, user: UserView | null): UserView | null {
  if (user === null || scope.kind === 'all') return user
  const { companies } = scope
  if (!user.companies.some(c => companies.includes(c))) return null
  return {
    ...user,
    companies: user.companies.filter(c => companies.includes(c)),
    companyRoles: user.companyRoles.filter(r => companies.includes(r.companyId))
  }
}

/** A history item's data as this scope may see it: other companies' links and roles left out. */
export function scopedEventData (scope: ReadScope, type: string, data: Record<string, unknown>): Record<string, unknown> | null {
  if (scope.kind === 'all') return data
  const { companies } = scope
  if (typeof data.companyId === 'string' && !companies.includes(data.companyId)) return null
  if (type === 'UserRegistered' && Array.isArray(data.companies)) {
    return { ...data, companies: data.companies.filter(c => typeof c === 'string' && companies.includes(c)) }
  }
  return data
}
