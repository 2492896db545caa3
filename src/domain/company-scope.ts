/**
 * Who may change a user, decided in the write model: from the user's own stream at the revision
 * the command is planned on (its company links and roles then), never from a read model that may
 * lag. `planUserCommand` (user-plan.ts) calls `authorizeUserCommand` before it decides, so a user
 * unlinked from company A a moment before A's admin edits it is refused, and an append that loses
 * the race to such an unlink is planned again on the new revision and refused then.
 *
 * The caller's authority comes with the command (from the caller's roles):
 *   - `global`: identity-admin, bootstrap, the CLI: every rule below is skipped;
 *   - `company`: the companies where the caller holds company-admin.
 *
 * For a company authority:
 *   - a user linked to none of its companies is answered exactly as a user that does not exist
 *     (USER_NOT_FOUND, same message and details), whatever the command;
 *   - a user it may see but not change (`protectedFrom`) is OUT_OF_COMPANY_SCOPE (403);
 *   - it may edit profile, status and reset the password; grant and remove, in one of its
 *     companies, any non-system role and company-admin/company-auditor; link and unlink its
 *     companies; create users linked to its companies only, with no global roles or providers;
 *   - anything else (global roles, providers, another company) is OUT_OF_COMPANY_SCOPE.
 */
import { DomainError } from './errors.js'
import { COMPANY_GRANTABLE_SYSTEM_ROLES, isSystemRole } from './roles.js'
import { noSuchUser, type UserCommand, type UserState } from './user.js'

export { noSuchUser }

export type Authority =
  | { readonly kind: 'global' }
  | { readonly kind: 'company', readonly companies: readonly string[] }

export const GLOBAL_AUTHORITY: Authority = Object.freeze({ kind: 'global' })

type ExistingUser = Exclude<UserState, { status: 'none' }>

const refused = (why: string): DomainError => new DomainError('OUT_OF_COMPANY_SCOPE', why)

/** Linked to at least one of the companies. */
export const inCompanies = (user: { companies: readonly string[] }, companies: readonly string[]): boolean =>
  user.companies.some(c => companies.includes(c))

/**
 * Why a company authority may see this user but not change it, or null. An identity-admin, any
 * holder of a global system role, and any holder of a system role in a company the authority
 * does not run: changing their password or profile would hand over rights beyond the company.
 */
export function protectedFrom (user: ExistingUser, companies: readonly string[]): string | null {
  if (user.roles.some(isSystemRole)) return 'The user holds a global system role; only an identity-admin may change it.'
  if (user.companyRoles.some(r => isSystemRole(r.roleId) && !companies.includes(r.companyId))) {
    return 'The user holds a system role in a company you do not administer.'
  }
  return null
}

function requireOwnCompany (companyId: string, companies: readonly string[]): void {
  if (!companies.includes(companyId)) throw refused(`You do not administer the company ${companyId}.`)
}

function requireCompanyGrantable (roleId: string): void {
  if (isSystemRole(roleId) && !COMPANY_GRANTABLE_SYSTEM_ROLES.includes(roleId)) {
    throw refused(`A company administrator cannot grant or remove the system role ${roleId}.`)
  }
}

/** Throws when the authority may not run the command on the user as it is (`before`). */
export function authorizeUserCommand (authority: Authority, command: UserCommand, before: UserState): void {
  if (authority.kind === 'global') return
  const { companies } = authority
  if (command.type === 'RegisterUser') {
    const { data } = command
    if (data.companies.length === 0) throw new DomainError('COMPANY_REQUIRED', 'A user created by a company administrator must be linked to one of its companies')
    for (const companyId of data.companies) requireOwnCompany(companyId, companies)
    if (data.roles.length > 0) throw refused('A company administrator cannot grant global roles; grant roles in the company instead.')
    if (data.providers.length > 0) throw refused('A company administrator cannot link providers.')
    return
  }
  // A missing user: the decider answers USER_NOT_FOUND, exactly as for the hidden ones below.
  if (before.status === 'none') return
  if (!inCompanies(before, companies)) throw noSuchUser(command.data.userId)
  const guarded = protectedFrom(before, companies)
  if (guarded !== null) throw refused(guarded)
  switch (command.type) {
    case 'UpdateProfile':
    case 'ChangeStatus':
    case 'ResetPassword':
      return
    case 'AssignCompanyRole':
    case 'RevokeCompanyRole':
      requireOwnCompany(command.data.companyId, companies)
      requireCompanyGrantable(command.data.roleId)
      return
    case 'LinkCompany':
    case 'UnlinkCompany':
      requireOwnCompany(command.data.companyId, companies)
      return
    case 'AssignRole':
    case 'RevokeRole':
      throw refused('A company administrator cannot grant or remove global roles.')
    case 'LinkProvider':
    case 'UnlinkProvider':
      throw refused('A company administrator cannot link or unlink providers.')
    case 'ChangePassword':
    case 'RehashPassword':
      throw refused('Only the user itself changes its password.')
    default: {
      const unknown: never = command
      throw new TypeError(`unknown user command ${JSON.stringify(unknown)}`)
    }
  }
}
