/**
 * Every domain event: a TypeBox schema for its data, a schema version, and the unions per
 * aggregate. Data is plain JSON (ISO-8601 strings, never Date); the aggregate id is inside data.
 * Only ever a passwordHash, never a password.
 */
import Type, { type Static, type TSchema } from 'typebox'

export const Uuid = Type.String({ format: 'uuid' })
/** Catalog ids: lower-case slug for roles, companies, providers. */
export const Slug = Type.String({ pattern: '^[a-z0-9](?:[a-z0-9-]{0,62}[a-z0-9])?$', maxLength: 64 })
/** Identification type codes: upper-case, e.g. CC, NIT, PPT. */
export const IdTypeCode = Type.String({ pattern: '^[A-Z][A-Z0-9]{0,9}$', maxLength: 10 })
export const Timestamp = Type.String({ format: 'date-time' })
const Nullable = <T extends TSchema>(t: T) => Type.Union([t, Type.Null()])

export const ProviderLink = Type.Object({
  providerId: Slug,
  externalUserId: Nullable(Type.String({ maxLength: 200 }))
}, { additionalProperties: false })
export type ProviderLink = Static<typeof ProviderLink>

/** A role held in a company. */
export const CompanyRole = Type.Object({ companyId: Slug, roleId: Slug }, { additionalProperties: false })
export type CompanyRole = Static<typeof CompanyRole>

/** The profile fields of a user, as events carry them (and the user view shows them). */
export const UserProfileFields = {
  email: Type.String({ maxLength: 254 }),
  firstName: Type.String({ maxLength: 100 }),
  lastName: Type.String({ maxLength: 100 }),
  identificationType: IdTypeCode,
  identificationNumber: Type.String({ maxLength: 30 }),
  phone: Nullable(Type.String({ maxLength: 16 }))
}

export const UserProfile = Type.Object(UserProfileFields, { additionalProperties: false })
export type UserProfile = Static<typeof UserProfile>

const event = <N extends string, P extends Record<string, TSchema>>(type: N, version: number, properties: P) => ({
  type,
  version,
  schema: Type.Object(properties, { additionalProperties: false, $id: type })
})

// ── user stream: user-<userId> ───────────────────────────────────────────────────────────────
export const UserRegistered = event('UserRegistered', 1, {
  userId: Uuid,
  username: Type.String({ maxLength: 64 }),
  ...UserProfileFields,
  passwordHash: Type.String(),
  roles: Type.Array(Slug),
  companies: Type.Array(Slug),
  providers: Type.Array(ProviderLink)
})
/** The whole profile after the change, so a reader never needs the previous event. */
export const UserProfileUpdated = event('UserProfileUpdated', 1, { userId: Uuid, ...UserProfileFields })
export const UserRoleAssigned = event('UserRoleAssigned', 1, { userId: Uuid, roleId: Slug })
export const UserRoleRevoked = event('UserRoleRevoked', 1, { userId: Uuid, roleId: Slug })
/** The user changed its own password (after proving the current one). Revokes tokens. */
export const UserPasswordChanged = event('UserPasswordChanged', 1, { userId: Uuid, passwordHash: Type.String() })
/** An administrator set a new password. Revokes tokens. */
export const UserPasswordReset = event('UserPasswordReset', 1, { userId: Uuid, passwordHash: Type.String() })
/** Same password, stronger KDF parameters (upgraded on a successful login). Does not revoke tokens. */
export const UserPasswordRehashed = event('UserPasswordRehashed', 1, { userId: Uuid, passwordHash: Type.String() })
export const UserDeactivated = event('UserDeactivated', 1, { userId: Uuid, reason: Nullable(Type.String({ maxLength: 500 })) })
export const UserActivated = event('UserActivated', 1, { userId: Uuid, reason: Nullable(Type.String({ maxLength: 500 })) })
export const UserCompanyLinked = event('UserCompanyLinked', 1, { userId: Uuid, companyId: Slug })
export const UserCompanyUnlinked = event('UserCompanyUnlinked', 1, { userId: Uuid, companyId: Slug })
/** A role held in one company (the user is linked to it); unlinking the company revokes it first. */
export const UserCompanyRoleAssigned = event('UserCompanyRoleAssigned', 1, { userId: Uuid, companyId: Slug, roleId: Slug })
export const UserCompanyRoleRevoked = event('UserCompanyRoleRevoked', 1, { userId: Uuid, companyId: Slug, roleId: Slug })
/** Also appended when an already linked provider gets a different externalUserId. */
export const UserProviderLinked = event('UserProviderLinked', 1, { userId: Uuid, ...ProviderLink.properties })
export const UserProviderUnlinked = event('UserProviderUnlinked', 1, { userId: Uuid, providerId: Slug })

// ── authentication stream: auth-<userId>, or auth-unknown-<sha256(username)> ───────────────────
// Each event carries the stream's folded state after it (failures, lockouts, lockedUntil), so the
// decision for the next attempt needs only the stream's last event: loading never grows with
// the number of logins.
const AuthState = {
  /** Consecutive failed attempts since the last success or unlock. */
  failures: Type.Integer({ minimum: 0 }),
  /** Lockouts since the last success; the lockout window grows with it. */
  lockouts: Type.Integer({ minimum: 0 }),
  lockedUntil: Nullable(Timestamp),
  /**
   * Per-device lockout state of the devices (idm_device cookies) that failed lately: a trusted
   * device's failures count toward its own limit, not the account's. Absent when none.
   */
  devices: Type.Optional(Type.Array(Type.Object({
    deviceId: Uuid,
    failures: Type.Integer({ minimum: 0 }),
    lockouts: Type.Integer({ minimum: 0 }),
    lockedUntil: Nullable(Timestamp)
  }, { additionalProperties: false }), { maxItems: 16 }))
}
/** Where an attempt came from: the device (a valid idm_device cookie) and the client address. */
const AttemptOrigin = {
  deviceId: Type.Optional(Uuid),
  clientAddress: Type.Optional(Type.String({ maxLength: 64 }))
}
export const AuthenticationSucceeded = event('AuthenticationSucceeded', 1, { userId: Uuid, username: Type.String(), ...AuthState, ...AttemptOrigin })
export const AuthenticationFailed = event('AuthenticationFailed', 1, {
  userId: Nullable(Uuid),
  username: Type.String({ maxLength: 256 }),
  ...AttemptOrigin,
  reason: Type.Union([
    Type.Literal('invalid_credentials'),
    Type.Literal('unknown_user'),
    Type.Literal('inactive'),
    Type.Literal('locked')
  ]),
  ...AuthState
})
export const UserLockedOut = event('UserLockedOut', 1, { userId: Uuid, ...AuthState, lockedUntil: Timestamp })
export const UserUnlocked = event('UserUnlocked', 1, {
  userId: Uuid,
  reason: Type.Union([Type.Literal('expired'), Type.Literal('admin')]),
  ...AuthState
})

// ── catalog streams: role-<id>, company-<id>, provider-<id>, identification-type-<code> ───────
const Name = Type.String({ minLength: 1, maxLength: 200 })
const OptionalIdentification = {
  identificationType: Nullable(IdTypeCode),
  identificationNumber: Nullable(Type.String({ maxLength: 30 }))
}
export const RoleDefined = event('RoleDefined', 1, { id: Slug, name: Name, description: Type.String({ maxLength: 1000 }), system: Type.Boolean() })
export const RoleUpdated = event('RoleUpdated', 1, { id: Slug, name: Name, description: Type.String({ maxLength: 1000 }) })
export const RoleDeactivated = event('RoleDeactivated', 1, { id: Slug })
export const RoleActivated = event('RoleActivated', 1, { id: Slug })
export const CompanyDefined = event('CompanyDefined', 1, { id: Slug, name: Name, ...OptionalIdentification })
export const CompanyUpdated = event('CompanyUpdated', 1, { id: Slug, name: Name, ...OptionalIdentification })
export const CompanyDeactivated = event('CompanyDeactivated', 1, { id: Slug })
export const CompanyActivated = event('CompanyActivated', 1, { id: Slug })
export const ProviderDefined = event('ProviderDefined', 1, { id: Slug, name: Name, ...OptionalIdentification })
export const ProviderUpdated = event('ProviderUpdated', 1, { id: Slug, name: Name, ...OptionalIdentification })
export const ProviderDeactivated = event('ProviderDeactivated', 1, { id: Slug })
export const ProviderActivated = event('ProviderActivated', 1, { id: Slug })
export const IdentificationTypeDefined = event('IdentificationTypeDefined', 1, { id: IdTypeCode, name: Name })
export const IdentificationTypeUpdated = event('IdentificationTypeUpdated', 1, { id: IdTypeCode, name: Name })
export const IdentificationTypeDeactivated = event('IdentificationTypeDeactivated', 1, { id: IdTypeCode })
export const IdentificationTypeActivated = event('IdentificationTypeActivated', 1, { id: IdTypeCode })

// ── uniqueness reservations: reservation-<kind>-<value> ───────────────────────────────────────
const ReservationKind = Type.Union([Type.Literal('username'), Type.Literal('email'), Type.Literal('identification')])
export const ValueReserved = event('ValueReserved', 1, { kind: ReservationKind, value: Type.String(), userId: Uuid })
export const ValueReleased = event('ValueReleased', 1, { kind: ReservationKind, value: Type.String(), userId: Uuid })

// ── the set of active identity-admins: identity-admins (guards "never zero active admins") ───
export const AdminSeatClaimed = event('AdminSeatClaimed', 1, { userId: Uuid })
export const AdminSeatReleased = event('AdminSeatReleased', 1, { userId: Uuid })

// ── sessions of one user: sessions-<userId> (see src/domain/session.ts) ───────────────────────
/** Why a session ended: the user or an admin, the protocol (reuse, revocation), or a security event. */
export const SessionEndReason = Type.Union([
  Type.Literal('sign_out'), Type.Literal('deleted'), Type.Literal('token_revoked'),
  Type.Literal('refresh_token_reuse'), Type.Literal('authorization_code_reuse'),
  Type.Literal('user_deactivated'), Type.Literal('password_changed'), Type.Literal('password_reset'),
  Type.Literal('credentials_changed'), Type.Literal('expired')
])
export type SessionEndReason = Static<typeof SessionEndReason>
export const SessionStarted = event('SessionStarted', 1, {
  sessionId: Uuid,
  userId: Uuid,
  /** The OAuth client the sign-in was for (`idm-api` for POST /v1/authentication). */
  clientId: Type.String({ maxLength: 200 }),
  /** RFC 8176 authentication method references, e.g. ["pwd"]. */
  amr: Type.Array(Type.String({ maxLength: 32 })),
  clientAddress: Nullable(Type.String({ maxLength: 100 })),
  userAgent: Nullable(Type.String({ maxLength: 500 })),
  /** The user's credential version at sign-in: a later password change or reset ends the session. */
  credentialVersion: Type.Integer({ minimum: 0 }),
  idleExpiresAt: Timestamp,
  expiresAt: Timestamp
})
/** A refresh grant used the session: its idle deadline moves on (never past expiresAt). */
export const SessionRefreshed = event('SessionRefreshed', 1, { sessionId: Uuid, userId: Uuid, idleExpiresAt: Timestamp })
export const SessionRevoked = event('SessionRevoked', 1, { sessionId: Uuid, userId: Uuid, reason: SessionEndReason })

// ── OAuth clients: client-<clientId> (see src/domain/client.ts) ───────────────────────────────
const ClientSettingsFields = {
  name: Type.String({ minLength: 1, maxLength: 200 }),
  grantTypes: Type.Array(Type.Union([Type.Literal('authorization_code'), Type.Literal('refresh_token'), Type.Literal('client_credentials')])),
  redirectUris: Type.Array(Type.String({ maxLength: 2000 })),
  postLogoutRedirectUris: Type.Array(Type.String({ maxLength: 2000 })),
  roles: Type.Array(Slug),
  thirdParty: Type.Boolean()
}
export const ClientRegistered = event('ClientRegistered', 1, {
  clientId: Type.String({ maxLength: 200 }),
  type: Type.Union([Type.Literal('confidential'), Type.Literal('public')]),
  /** SHA-256 (base64url) of the secret; null for a public client. */
  secretHash: Nullable(Type.String()),
  ...ClientSettingsFields
})
export const ClientUpdated = event('ClientUpdated', 1, { clientId: Type.String({ maxLength: 200 }), ...ClientSettingsFields })
export const ClientDeactivated = event('ClientDeactivated', 1, { clientId: Type.String({ maxLength: 200 }) })
export const ClientActivated = event('ClientActivated', 1, { clientId: Type.String({ maxLength: 200 }) })
/** A new secret; the previous one keeps working until previousExpiresAt. */
export const ClientSecretRotated = event('ClientSecretRotated', 1, { clientId: Type.String({ maxLength: 200 }), secretHash: Type.String(), previousExpiresAt: Timestamp })

// ── second factors of one user: mfa-<userId> (see src/domain/mfa.ts) ────────────────────────
/**
 * A TOTP secret sealed with the operator's key (src/commands/secret-box.ts): `v1.<kid>.<iv>.<ciphertext>.<tag>`,
 * AES-256-GCM bound to the user. Never the secret itself; redacted like a password hash all the same.
 */
const SealedSecret = Type.String({ minLength: 1, maxLength: 512 })
/** The RFC 6238 time step (unix seconds / 30) a code was accepted for: no code of it or before is accepted again. */
const TimeStep = Type.Integer({ minimum: 0 })
/** Why a factor was used: to complete a sign-in, or to step up an existing session. */
const FactorPurpose = Type.Union([Type.Literal('sign_in'), Type.Literal('step_up')])
/** The sign-in attempt (mfa_token) a use completed: a token completes one sign-in only. Null for a step-up. */
const Challenge = Nullable(Type.Object({ id: Uuid, expiresAt: Timestamp }, { additionalProperties: false }))
export const TotpEnrolmentStarted = event('TotpEnrolmentStarted', 1, { userId: Uuid, sealedSecret: SealedSecret })
/** Confirmed by a first valid code (its time step is used up). */
export const TotpEnrolled = event('TotpEnrolled', 1, { userId: Uuid, timeStep: TimeStep })
export const TotpRemoved = event('TotpRemoved', 1, { userId: Uuid })
export const TotpUsed = event('TotpUsed', 1, { userId: Uuid, timeStep: TimeStep, purpose: FactorPurpose, challenge: Challenge })
/** Ten single-use codes, as SHA-256 hashes (each code holds 80 random bits); replaces any earlier set. */
export const RecoveryCodesGenerated = event('RecoveryCodesGenerated', 1, { userId: Uuid, codeHashes: Type.Array(Type.String({ maxLength: 128 }), { maxItems: 20 }) })
export const RecoveryCodeUsed = event('RecoveryCodeUsed', 1, { userId: Uuid, index: Type.Integer({ minimum: 0, maximum: 19 }), purpose: FactorPurpose, challenge: Challenge })
/** An administrator removed every factor of the user (and every session ended with it). */
export const MfaFactorsReset = event('MfaFactorsReset', 1, { userId: Uuid })

/** Every event type, in one registry: the schema feed, validation and docs read from here. */
export const eventDefinitions = [
  UserRegistered, UserProfileUpdated, UserRoleAssigned, UserRoleRevoked,
  UserPasswordChanged, UserPasswordReset, UserPasswordRehashed,
  UserDeactivated, UserActivated, UserCompanyLinked, UserCompanyUnlinked,
  UserProviderLinked, UserProviderUnlinked, UserCompanyRoleAssigned, UserCompanyRoleRevoked,
  AuthenticationSucceeded, AuthenticationFailed, UserLockedOut, UserUnlocked,
  RoleDefined, RoleUpdated, RoleDeactivated, RoleActivated,
  CompanyDefined, CompanyUpdated, CompanyDeactivated, CompanyActivated,
  ProviderDefined, ProviderUpdated, ProviderDeactivated, ProviderActivated,
  IdentificationTypeDefined, IdentificationTypeUpdated, IdentificationTypeDeactivated, IdentificationTypeActivated,
  ValueReserved, ValueReleased,
  AdminSeatClaimed, AdminSeatReleased,
  SessionStarted, SessionRefreshed, SessionRevoked,
  ClientRegistered, ClientUpdated, ClientDeactivated, ClientActivated, ClientSecretRotated,
  TotpEnrolmentStarted, TotpEnrolled, TotpRemoved, TotpUsed, RecoveryCodesGenerated, RecoveryCodeUsed, MfaFactorsReset
] as const

type Def = (typeof eventDefinitions)[number]
/** A domain event as the domain sees it: the type tag and its data. */
export type DomainEvent = { [D in Def as D['type']]: { type: D['type'], data: Static<D['schema']> } }[Def['type']]
export type EventType = DomainEvent['type']
export type EventOf<T extends EventType> = Extract<DomainEvent, { type: T }>

export const eventVersion = (type: EventType): number =>
  eventDefinitions.find(d => d.type === type)!.version

/** Field names whose values are secrets: redacted in every API and feed. */
export const SECRET_FIELDS = ['passwordHash', 'secretHash', 'sealedSecret', 'codeHashes'] as const

type Pick<T extends EventType> = EventOf<T>
export type UserEvent = Pick<'UserRegistered' | 'UserProfileUpdated' | 'UserRoleAssigned' | 'UserRoleRevoked' |
'UserPasswordChanged' | 'UserPasswordReset' | 'UserPasswordRehashed' | 'UserDeactivated' | 'UserActivated' |
'UserCompanyLinked' | 'UserCompanyUnlinked' | 'UserProviderLinked' | 'UserProviderUnlinked' |
'UserCompanyRoleAssigned' | 'UserCompanyRoleRevoked'>
export type AuthEvent = Pick<'AuthenticationSucceeded' | 'AuthenticationFailed' | 'UserLockedOut' | 'UserUnlocked'>
export type RoleEvent = Pick<'RoleDefined' | 'RoleUpdated' | 'RoleDeactivated' | 'RoleActivated'>
export type CompanyEvent = Pick<'CompanyDefined' | 'CompanyUpdated' | 'CompanyDeactivated' | 'CompanyActivated'>
export type ProviderEvent = Pick<'ProviderDefined' | 'ProviderUpdated' | 'ProviderDeactivated' | 'ProviderActivated'>
export type IdentificationTypeEvent = Pick<'IdentificationTypeDefined' | 'IdentificationTypeUpdated' |
'IdentificationTypeDeactivated' | 'IdentificationTypeActivated'>
export type CatalogEvent = RoleEvent | CompanyEvent | ProviderEvent | IdentificationTypeEvent
export type ReservationEvent = Pick<'ValueReserved' | 'ValueReleased'>
export type AdminSeatEvent = Pick<'AdminSeatClaimed' | 'AdminSeatReleased'>
export type SessionEvent = Pick<'SessionStarted' | 'SessionRefreshed' | 'SessionRevoked'>
export type ClientEvent = Pick<'ClientRegistered' | 'ClientUpdated' | 'ClientDeactivated' | 'ClientActivated' | 'ClientSecretRotated'>
export type MfaEvent = Pick<'TotpEnrolmentStarted' | 'TotpEnrolled' | 'TotpRemoved' | 'TotpUsed' | 'RecoveryCodesGenerated' | 'RecoveryCodeUsed' | 'MfaFactorsReset'>

/** Stream names, in one place. */
export const streams = {
  user: (userId: string) => `user-${userId}`,
  auth: (userId: string) => `auth-${userId}`,
  /** Unknown usernames get a stream of their own too, keyed by a hash, so both paths cost the same. */
  unknownAuth: (usernameHash: string) => `auth-unknown-${usernameHash}`,
  role: (id: string) => `role-${id}`,
  company: (id: string) => `company-${id}`,
  provider: (id: string) => `provider-${id}`,
  identificationType: (code: string) => `identification-type-${code}`,
  reservation: (kind: 'username' | 'email' | 'identification', value: string) => `reservation-${kind}-${value}`,
  adminSeats: 'identity-admins',
  sessions: (userId: string) => `sessions-${userId}`,
  client: (clientId: string) => `client-${clientId}`,
  mfa: (userId: string) => `mfa-${userId}`
} as const
