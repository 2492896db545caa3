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
  auth_time: Type.Optional(Type.Integer())
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
    ...(subject.amr === undefined ? {} : { amr: [...subject.amr], auth_time: Math.floor((subject.authTime ?? now).getTime() / 1000) })
  }
}
