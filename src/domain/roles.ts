/**
 * The system roles, named once: bootstrap defines them (seed.ts), the routes' policies, the
 * admin-seat guard and the console's menus refer to them from here.
 *
 * A role is held globally (`roles` of the user) or in a company (`companyRoles`, which need the
 * user linked to that company). Which of the two a role may be granted as is a rule of the
 * domain (`grantScopes`), shown by the roles catalog as `grantableAs`:
 *   - identity-admin and identity-auditor: global only (they span every company);
 *   - company-admin and company-auditor: in a company only (they mean nothing without one);
 *   - identity-subscriber and every business role (`dispatcher`): global or in a company.
 */
export const ROLES = Object.freeze({
  /** May do everything; passes every role check. Never zero of them (admin-seats.ts). */
  admin: 'identity-admin',
  /** Reads users, catalogs and the event history. */
  auditor: 'identity-auditor',
  /** Reads the event feed and stream (in a company: that company's part of it). */
  subscriber: 'identity-subscriber',
  /** In a company: runs the users linked to it (src/domain/company-scope.ts). */
  companyAdmin: 'company-admin',
  /** In a company: reads what its company admins may change, with history and as-of. */
  companyAuditor: 'company-auditor'
} as const)

export const ADMIN_ROLE = ROLES.admin

/** Every system role id: defined at bootstrap with `system: true`, never deactivated. */
export const SYSTEM_ROLE_IDS: readonly string[] = Object.freeze(Object.values(ROLES))

export const isSystemRole = (roleId: string): boolean => SYSTEM_ROLE_IDS.includes(roleId)

export type GrantScope = 'global' | 'company'

const GLOBAL_ONLY: readonly string[] = [ROLES.admin, ROLES.auditor]
const COMPANY_ONLY: readonly string[] = [ROLES.companyAdmin, ROLES.companyAuditor]

/** How a role may be granted: globally, in a company, or both. */
export function grantScopes (roleId: string): GrantScope[] {
  if (GLOBAL_ONLY.includes(roleId)) return ['global']
  if (COMPANY_ONLY.includes(roleId)) return ['company']
  return ['global', 'company']
}

/** The system roles a company admin may grant in its own company. */
export const COMPANY_GRANTABLE_SYSTEM_ROLES: readonly string[] = COMPANY_ONLY
