/** One-user reads: the user view, the credential state of the token check, the admin count. */
import { canonicalInstant } from './projection.js'
import { prepareCached } from './statements.js'
import type { Db } from './schema.js'
import { USER_COLUMNS, type ProviderLinkView, type UserStatus, type UserView } from './user-view.js'
import { ADMIN_ROLE } from '../domain/roles.js'

export type { ProviderLinkView, UserStatus, UserView } from './user-view.js'

/** Columns every user view is built from, qualified with the alias `u`. */
export const USER_VIEW_COLUMNS = [...Object.values(USER_COLUMNS), 'locked_until'].map(column => `u.${column}`).join(', ')

type Columns = typeof USER_COLUMNS
/** A users row as USER_VIEW_COLUMNS reads it: the view's fields by column name, lists as JSON text. */
export type UserRow = {
  [F in keyof Columns as Columns[F]]: F extends 'roles' | 'companies' | 'providers' | 'companyRoles' ? string : F extends 'status' ? 'active' | 'inactive' : UserView[F]
} & { locked_until: string | null }

/** `now` in the canonical form locked_until is stored in, so the two compare as text. */
export function instant (now: string): string {
  if (Number.isNaN(Date.parse(now))) throw new RangeError(`not an instant: ${now}`)
  return canonicalInstant(now)
}

/** Inactive wins over locked; locked lasts while locked_until is after now. */
export function reportedStatus (status: 'active' | 'inactive', lockedUntil: string | null, now: string): UserStatus {
  if (status === 'inactive') return 'inactive'
  return lockedUntil !== null && lockedUntil > now ? 'locked' : 'active'
}

export function toUserView (row: UserRow, now: string): UserView {
  return {
    id: row.id,
    username: row.username,
    email: row.email,
    firstName: row.first_name,
    lastName: row.last_name,
    identificationType: row.identification_type,
    identificationNumber: row.identification_number,
    phone: row.phone,
    status: reportedStatus(row.status, row.locked_until, now),
    roles: JSON.parse(row.roles) as string[],
    companies: JSON.parse(row.companies) as string[],
    providers: JSON.parse(row.providers) as ProviderLinkView[],
    companyRoles: JSON.parse(row.company_roles) as UserView['companyRoles'],
    createdAt: row.created_at,
    updatedAt: row.updated_at,
    version: row.version
  }
}

export function getUserById (db: Db, id: string, now: string): UserView | null {
  const row = prepareCached(db, `SELECT ${USER_VIEW_COLUMNS} FROM users u WHERE u.id = ?`).get(id) as UserRow | undefined
  return row === undefined ? null : toUserView(row, instant(now))
}

/** `normalizedUsername` as the domain stores it (NFKC, lower-cased). */
export function getUserByUsername (db: Db, normalizedUsername: string, now: string): UserView | null {
  const row = prepareCached(db, `SELECT ${USER_VIEW_COLUMNS} FROM users u WHERE u.username = ? LIMIT 1`).get(normalizedUsername) as UserRow | undefined
  return row === undefined ? null : toUserView(row, instant(now))
}

export interface CredentialState {
  userId: string
  username: string
  /** As stored: 'locked' is for the caller to derive from lockedUntil and its own clock. */
  status: 'active' | 'inactive'
  lockedUntil: string | null
  /** Bumped by password change/reset, deactivation and lockout: tokens carrying an older one are revoked. */
  credentialVersion: number
  roles: string[]
  companyRoles: UserView['companyRoles']
}

/** The per-request token check: one prepared primary-key lookup. */
export function getCredentialState (db: Db, userId: string): CredentialState | null {
  const row = prepareCached(db, 'SELECT id, username, status, locked_until, credential_version, roles, company_roles FROM users WHERE id = ?')
    .get(userId) as { id: string, username: string, status: 'active' | 'inactive', locked_until: string | null, credential_version: number, roles: string, company_roles: string } | undefined
  if (row === undefined) return null
  return {
    userId: row.id,
    username: row.username,
    status: row.status,
    lockedUntil: row.locked_until,
    credentialVersion: row.credential_version,
    roles: JSON.parse(row.roles) as string[],
    companyRoles: JSON.parse(row.company_roles) as UserView['companyRoles']
  }
}

/** Users holding `role` (default identity-admin) whose reported status is 'active' at `now`. */
export function countActiveAdmins (db: Db, now: string, role: string = ADMIN_ROLE): number {
  const row = prepareCached(db,
    `SELECT count(*) AS n FROM user_roles r CROSS JOIN users u ON u.id = r.user_id
     WHERE r.role_id = ? AND u.status = 'active' AND (u.locked_until IS NULL OR u.locked_until <= ?)`
  ).get(role, instant(now)) as { n: number }
  return row.n
}
