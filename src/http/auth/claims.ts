/**
 * The access token's claims: the one schema that issuance fills and verification checks.
 * Tokens are ES256 JWTs (kid = RFC 7638 thumbprint); `cv` is the user's credential version, so a
 * password change or reset refuses every token issued before it.
 */
import { randomUUID } from 'node:crypto'
import Type, { type Static } from 'typebox'
import { Compile } from 'typebox/compile'

export const AccessTokenClaims = Type.Object({
  iss: Type.String(),
  aud: Type.Union([Type.String(), Type.Array(Type.String())]),
  sub: Type.String({ minLength: 1 }),
  iat: Type.Integer(),
  nbf: Type.Optional(Type.Integer()),
  exp: Type.Integer(),
  jti: Type.String(),
  /** A user's token has these two; a service account's (client_credentials) has neither. */
  preferred_username: Type.Optional(Type.String()),
  roles: Type.Array(Type.String()),
  cv: Type.Optional(Type.Integer({ minimum: 0 })),
  /** The OAuth client the token was issued to (tokens from the token endpoint). */
  client_id: Type.Optional(Type.String()),
  /** The session the token belongs to (src/projections/session-index.ts). */
  sid: Type.Optional(Type.String({ minLength: 1 })),
  /** RFC 8176 methods the sign-in used, e.g. ["pwd", "otp"] (src/http/auth/second-factor.ts). */
  amr: Type.Optional(Type.Array(Type.String({ maxLength: 32 }), { maxItems: 8 })),
  /** When the user last proved a factor for this token (unix seconds): step-up looks at it. */
  auth_time: Type.Optional(Type.Integer()),
  /**
   * The companies the user is linked to, and the roles it holds in each (issue 13): routing hints
   * for downstream services. Absent when empty, to keep the token small. Authorization never reads
   * them: it reads the user's current company roles from the read model, so a revoke applies at once.
   */
  companies: Type.Optional(Type.Array(Type.String({ maxLength: 64 }), { maxItems: 256 })),
  company_roles: Type.Optional(Type.Record(Type.String({ maxLength: 64 }), Type.Array(Type.String({ maxLength: 64 }), { maxItems: 64 })))
})
export type AccessTokenClaims = Static<typeof AccessTokenClaims>
export const claimsCheck = Compile(AccessTokenClaims)

/** Claims @fastify/jwt must find before the shape check runs. */
export const REQUIRED_CLAIMS = ['iss', 'aud', 'sub', 'iat', 'exp', 'jti']

export interface TokenSubject {
  readonly userId: string
  readonly username: string
  readonly roles: readonly string[]
  readonly credentialVersion: number
  /** The session the token belongs to (its `sid`); required when the app checks sessions. */
  readonly sessionId?: string
  /** How the user signed in (RFC 8176), e.g. ['pwd'] or ['pwd', 'otp']. */
  readonly amr?: readonly string[]
  /** When the last factor was proved (default: now). */
  readonly authTime?: Date
  /** The companies the user is linked to (the `companies` claim). */
  readonly companies?: readonly string[]
  /** The roles held in a company (the `company_roles` claim, grouped by company). */
  readonly companyRoles?: ReadonlyArray<{ readonly companyId: string, readonly roleId: string }>
}

export interface IssuedToken {
  readonly access_token: string
  readonly token_type: 'Bearer'
  readonly expires_in: number
}

export function claimsFor (subject: TokenSubject, token: { issuer: string, audience: string, ttlSeconds: number }, now: Date): AccessTokenClaims {
  const seconds = Math.floor(now.getTime() / 1000)
  return {
    iss: token.issuer,
    aud: token.audience,
    sub: subject.userId,
    iat: seconds,
    nbf: seconds,
    exp: seconds + token.ttlSeconds,
    jti: randomUUID(),
    preferred_username: subject.username,
    roles: [...subject.roles],
    cv: subject.credentialVersion,
    ...(subject.sessionId === undefined ? {} : { sid: subject.sessionId }),
    ...(subject.amr === undefined ? {} : { amr: [...subject.amr], auth_time: Math.floor((subject.authTime ?? now).getTime() / 1000) }),
    ...companyClaims(subject)
  }
}

/** `companies` and `company_roles` (`{ "<companyId>": ["<roleId>", ...] }`), each only when not empty. */
export function companyClaims (subject: Pick<TokenSubject, 'companies' | 'companyRoles'>): Pick<AccessTokenClaims, 'companies' | 'company_roles'> {
  const companies = [...subject.companies ?? []]
  const byCompany: Record<string, string[]> = {}
  for (const { companyId, roleId } of subject.companyRoles ?? []) (byCompany[companyId] ??= []).push(roleId)
  return {
    ...(companies.length === 0 ? {} : { companies }),
    ...(Object.keys(byCompany).length === 0 ? {} : { company_roles: byCompany })
  }
}
