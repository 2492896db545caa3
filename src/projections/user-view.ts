/**
 * The user as every reader sees it, declared once: this TypeBox schema is the response schema of
 * the user routes (and so the OpenAPI document), and `UserView` derived from it is the type the
 * queries return, the console renders and the tests read. The profile fields and provider links
 * are the events' own (src/domain/events.ts); the columns they are read from are defined once
 * beside it (USER_COLUMNS).
 */
import Type, { type Static } from 'typebox'
import { CompanyRole, ProviderLink, Slug, Timestamp, UserProfileFields, Uuid } from '../domain/events.js'

/** 'locked' is derived at read time: an active user whose lockout window is still open. */
export const UserStatus = Type.Union([Type.Literal('active'), Type.Literal('inactive'), Type.Literal('locked')])
export type UserStatus = Static<typeof UserStatus>

export const User = Type.Object({
  id: Uuid,
  username: Type.String({ maxLength: 64 }),
  ...UserProfileFields,
  status: UserStatus,
  roles: Type.Array(Slug),
  companies: Type.Array(Slug),
  providers: Type.Array(ProviderLink),
  companyRoles: Type.Array(CompanyRole, { description: 'Roles held in a company the user is linked to, by company then role' }),
  createdAt: Timestamp,
  updatedAt: Timestamp,
  version: Type.Integer({ minimum: 0, description: 'The user stream revision; also the ETag' })
}, { additionalProperties: false, title: 'User' })
export type UserView = Static<typeof User>
export type ProviderLinkView = UserView['providers'][number]

/**
 * The users table's column for each field of the view (src/projections/schema.ts creates them,
 * src/projections/users.ts writes them). Besides these the table holds lower-cased search keys,
 * `locked_until` and `credential_version`.
 */
export const USER_COLUMNS = Object.freeze({
  id: 'id',
  username: 'username',
  email: 'email',
  firstName: 'first_name',
  lastName: 'last_name',
  identificationType: 'identification_type',
  identificationNumber: 'identification_number',
  phone: 'phone',
  status: 'status',
  roles: 'roles',
  companies: 'companies',
  providers: 'providers',
  companyRoles: 'company_roles',
  createdAt: 'created_at',
  updatedAt: 'updated_at',
  version: 'version'
} as const satisfies Record<keyof UserView, string>)
