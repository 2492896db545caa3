/**
 * Who is calling: the bearer token verified, then the user's credential state checked.
 *
 * @fastify/jwt (registered by src/http/plugins/auth.ts) checks signature, iss and aud; exp and
 * nbf are checked here against the app's clock; then the credential lookup runs on every
 * request, so a deactivated or locked user, or one whose credential version moved on (password
 * change/reset), is refused at once: the rule is `credentialRefusal` (src/domain/credentials.ts),
 * which the event streams apply too. Verified tokens are cached (src/http/auth/token-cache.ts);
 * everything after the signature runs on a hit as on a miss.
 */
import '@fastify/jwt'
import type { FastifyRequest } from 'fastify'
import { credentialRefusal, type CredentialFacts } from '../../domain/credentials.js'
import type { CompanyRole } from '../../domain/events.js'
import type { SigningKeys } from '../keys.js'
import { HttpProblem, unauthorized } from '../plugins/problems.js'
import { claimsCheck, type AccessTokenClaims } from './claims.js'
import { VerifiedTokens, kidOf } from './token-cache.js'

/** What the per-request revocation check needs to know about a user (from the read model). */
export interface CredentialState extends CredentialFacts {
  readonly userId: string
  readonly username: string
  readonly roles: readonly string[]
  /** Roles held in a company; absent: none. */
  readonly companyRoles?: readonly CompanyRole[]
}

export interface CredentialLookup {
  lookup (userId: string): Promise<CredentialState | null> | CredentialState | null
}

export interface Principal {
  /** A person (a token with `cv`) or a service account (client_credentials). */
  readonly kind: 'user' | 'service'
  readonly userId: string
  readonly username: string
  /** Current roles from the read model (not the token's), so a role removal applies at once. */
  readonly roles: readonly string[]
  /** RFC 8176 methods of the token's sign-in (empty for service accounts and older tokens). */
  readonly amr: readonly string[]
  /** When a factor was last proved for the token (unix seconds); null when unknown. */
  readonly authTime: number | null
  /** Current company roles, from the read model too (src/http/auth/scope.ts reads them). */
  readonly companyRoles: readonly CompanyRole[]
}

/** The live sessions (in memory, fed by the projection): see src/projections/session-index.ts. */
export interface SessionCheck {
  live (sessionId: string, nowMs: number): { readonly userId: string } | undefined
}

/** Service accounts (in memory, fed by the projection): see src/projections/client-directory.ts. */
export interface ClientCheck {
  active (clientId: string): { readonly clientId: string, readonly name: string, readonly roles: readonly string[] } | undefined
}

export interface VerificationOptions {
  readonly keys: SigningKeys
  readonly credentials: CredentialLookup
  readonly clock: () => Date
  /** Verified-token cache size (0 disables). */
  readonly tokenCacheSize?: number
  /** When given, every token must name a live session of its user (`sid`): a Map lookup. */
  readonly sessions?: SessionCheck
  /** When given, service-account tokens (client_credentials) are accepted while the client is active. */
  readonly clients?: ClientCheck
}

const invalidToken = (): HttpProblem => new HttpProblem(unauthorized('Bearer error="invalid_token"',
  'The access token is invalid, expired or revoked.'))

function refuse (request: FastifyRequest, reason: string): HttpProblem {
  request.log.info({ reason }, 'bearer token refused')
  return invalidToken()
}

export type TokenCheckOptions = Pick<VerificationOptions, 'credentials' | 'sessions' | 'clients'>

/**
 * What every signature-verified token must still pass, at `nowMs`: not expired, not before its
 * time, and its subject still allowed — a user's credential state (`credentialRefusal`) and
 * session, or a service account's client. Returns the principal, or the refusal's reason.
 * Shared by the /v1 routes and RFC 7662 introspection (src/oidc/jwt-introspection.ts), so the
 * two can never disagree about a token.
 */
export function createTokenCheck (options: TokenCheckOptions): (claims: AccessTokenClaims, nowMs: number) => Promise<Principal | string> {
  const { credentials, sessions, clients } = options
  return async function check (claims, nowMs) {
    const now = nowMs / 1000
    if (now >= claims.exp) return 'expired'
    if (claims.nbf !== undefined && now < claims.nbf) return 'not yet valid'
    if (claims.cv === undefined) {
      // A service account: `sub` is the client, its roles are the client's current ones.
      if (clients === undefined || claims.client_id !== claims.sub || claims.preferred_username !== undefined) return 'malformed claims'
      const client = clients.active(claims.sub)
      if (client === undefined) return 'client inactive'
      return { kind: 'service', userId: client.clientId, username: `client:${client.name}`, roles: [...client.roles], amr: [], authTime: null, companyRoles: [] }
    }
    const state = await credentials.lookup(claims.sub)
    const refusal = credentialRefusal(state, claims.cv, nowMs)
    if (refusal !== null || state === null) return refusal ?? 'unknown user'
    if (sessions !== undefined) {
      // Signed out, revoked, expired, or ended by a security event: refused at once.
      if (claims.sid === undefined) return 'no session'
      if (sessions.live(claims.sid, nowMs)?.userId !== claims.sub) return 'session ended'
    }
    // A token from before amr was recorded was a password sign-in.
    return { kind: 'user', userId: state.userId, username: state.username, roles: [...state.roles], amr: claims.amr ?? ['pwd'], authTime: claims.auth_time ?? null, companyRoles: [...state.companyRoles ?? []] }
  }
}

/** Returns `authenticate(request)`: the principal, or a 401 problem; memoized on the request. */
export function createAuthenticator (options: VerificationOptions): (request: FastifyRequest) => Promise<Principal> {
  const { keys, clock } = options
  const verified = new VerifiedTokens(options.tokenCacheSize ?? 10_000)
  const check = createTokenCheck(options)

  async function verifiedClaims (request: FastifyRequest, header: string): Promise<AccessTokenClaims> {
    const cached = verified.get(header)
    if (cached !== undefined && keys.publicKeyPem(cached.kid) !== undefined) {
      // What jwtVerify would have set (the SSE route reads the token's exp from it).
      request.user = cached.claims
      return cached.claims
    }
    if (cached !== undefined) verified.delete(header)
    let decoded: unknown
    try {
      decoded = await request.jwtVerify()
    } catch (error) {
      request.log.info({ reason: (error as { code?: unknown }).code ?? (error as Error).name }, 'bearer token refused')
      throw invalidToken()
    }
    if (!claimsCheck.Check(decoded)) throw refuse(request, 'malformed claims')
    // Shared by every request that presents the token from now on: read-only.
    const claims = Object.freeze(decoded)
    Object.freeze(claims.roles)
    verified.set(header, { claims, kid: kidOf(header) })
    return claims
  }

  return async function authenticate (request) {
    if (request.principal !== null) return request.principal
    const header = request.headers.authorization
    if (header === undefined || !/^Bearer\s/i.test(header)) {
      throw new HttpProblem(unauthorized('Bearer'))
    }
    const claims = await verifiedClaims(request, header)
    const outcome = await check(claims, clock().getTime())
    if (typeof outcome === 'string') {
      if (outcome === 'expired') verified.delete(header)
      throw refuse(request, outcome)
    }
    request.principal = outcome
    return outcome
  }
}
