/**
 * Authentication and authorization, checked in one place.
 *
 * Every route under /v1 must declare `config.auth` (the app refuses to start otherwise):
 *   - `false`: public;
 *   - `{}`: any authenticated user;
 *   - `{ roles: ['identity-auditor'] }`: a user holding one of the roles;
 *   - `{ roles: [...], self: 'params.id' }`: one of the roles, or the user whose id is that
 *     route parameter.
 * `identity-admin` passes every role check. One onRequest hook enforces the declaration, before
 * the body is read; the OpenAPI `security` of the route and its 401/403 responses are derived
 * from it, so documentation and enforcement cannot drift apart.
 *
 * Tokens are ES256 JWTs (kid = RFC 7638 thumbprint, verification by kid among all keys, no other
 * algorithm accepted). @fastify/jwt checks signature, iss and aud; exp and nbf are checked here
 * against the app's clock; then the credential lookup runs on every request, so a deactivated or
 * locked user, or one whose credential version moved on (password change/reset), is refused at
 * once.
 *
 * Verified tokens are cached here (VerifiedTokens), keyed by the Authorization header value: an
 * ES256 verify costs ~140 µs, and even @fastify/jwt's own cache decodes the token and hashes it
 * (SHA-256) on every hit. A hit is a Map lookup; exp/nbf, the signing key still being known and
 * the revocation lookup are checked on every request all the same, hit or miss.
 */
import { randomUUID } from 'node:crypto'
import fastifyJwt, { type TokenOrHeader } from '@fastify/jwt'
import type { FastifyRequest, RouteOptions, preHandlerAsyncHookHandler } from 'fastify'
import Type, { type Static } from 'typebox'
import { Compile } from 'typebox/compile'
import type { Config } from '../../config.js'
import type { SigningKeys } from '../keys.js'
import { problemResponse } from '../schemas/common.js'
import { globalPlugin } from './global.js'
import { HttpProblem, problem, unauthorized } from './problems.js'

export const ADMIN_ROLE = 'identity-admin'

/** What the per-request revocation check needs to know about a user (from the read model). */
export interface CredentialState {
  readonly userId: string
  readonly username: string
  readonly status: 'active' | 'inactive'
  /** RFC 3339; the account is locked while this lies in the future. */
  readonly lockedUntil: string | null
  readonly credentialVersion: number
  readonly roles: readonly string[]
}

export interface CredentialLookup {
  lookup (userId: string): Promise<CredentialState | null> | CredentialState | null
}

export interface Principal {
  readonly userId: string
  readonly username: string
  /** Current roles from the read model (not the token's), so a role removal applies at once. */
  readonly roles: readonly string[]
}

export type SelfParam = `params.${string}`

export type RouteAuth =
  | false
  | { readonly roles?: readonly string[], readonly self?: SelfParam }

export interface TokenSubject {
  readonly userId: string
  readonly username: string
  readonly roles: readonly string[]
  readonly credentialVersion: number
}

export interface IssuedToken {
  readonly access_token: string
  readonly token_type: 'Bearer'
  readonly expires_in: number
}

const AccessTokenClaims = Type.Object({
  iss: Type.String(),
  aud: Type.Union([Type.String(), Type.Array(Type.String())]),
  sub: Type.String({ minLength: 1 }),
  iat: Type.Integer(),
  nbf: Type.Optional(Type.Integer()),
  exp: Type.Integer(),
  jti: Type.String(),
  preferred_username: Type.String(),
  roles: Type.Array(Type.String()),
  cv: Type.Integer({ minimum: 0 })
})
type AccessTokenClaims = Static<typeof AccessTokenClaims>
const claimsCheck = Compile(AccessTokenClaims)

declare module 'fastify' {
  interface FastifyInstance {
    /** Signs an access token for the user (RFC 6749 §5.1 response fields). */
    issueToken (subject: TokenSubject): IssuedToken
    /** Verifies the bearer token and the user's credential state; sets request.principal. */
    authenticate (request: FastifyRequest): Promise<Principal>
    /** A preHandler that requires one of the roles (identity-admin always passes). */
    requireRole (...roles: string[]): preHandlerAsyncHookHandler
  }
  interface FastifyRequest {
    /** The authenticated user, or null on public routes. */
    principal: Principal | null
  }
  interface FastifyContextConfig {
    /** Who may call the route; see src/http/plugins/auth.ts. Required under /v1. */
    auth?: RouteAuth
  }
}

export interface AuthOptions {
  readonly config: Config
  readonly keys: SigningKeys
  readonly credentials: CredentialLookup
  readonly clock: () => Date
  /** Verified-token cache size (0 disables). */
  readonly tokenCacheSize?: number
}

class UnknownKeyError extends Error {}

interface VerifiedToken {
  readonly claims: AccessTokenClaims
  readonly kid: string
}

/**
 * Tokens whose signature, issuer, audience and claim shape passed, by the exact Authorization
 * header value that carried them. Bounded (the oldest entry goes first); an entry is dropped once
 * its token has expired by the app's clock, and failures are never stored, so a refused token is
 * verified again each time it is presented.
 */
class VerifiedTokens {
  readonly #entries = new Map<string, VerifiedToken>()
  constructor (private readonly capacity: number) {}

  get (header: string): VerifiedToken | undefined { return this.#entries.get(header) }

  set (header: string, token: VerifiedToken): void {
    if (this.capacity <= 0) return
    if (this.#entries.size >= this.capacity) this.#entries.delete(this.#entries.keys().next().value as string)
    this.#entries.set(header, token)
  }

  delete (header: string): void { this.#entries.delete(header) }
}

/** The kid of a token that has just been verified (its header is well-formed JSON by then). */
function kidOf (header: string): string {
  const token = header.slice(header.indexOf(' ') + 1)
  const decoded = JSON.parse(Buffer.from(token.slice(0, token.indexOf('.')), 'base64url').toString('utf8')) as { kid?: unknown }
  return String(decoded.kid)
}

const invalidToken = (): HttpProblem => new HttpProblem(unauthorized('Bearer error="invalid_token"',
  'The access token is invalid, expired or revoked.'))

export function isAllowed (principal: Principal, policy: Exclude<RouteAuth, false>, params: unknown): boolean {
  if (principal.roles.includes(ADMIN_ROLE)) return true
  const roles = policy.roles ?? []
  if (roles.length === 0 && policy.self === undefined) return true
  if (roles.some((role) => principal.roles.includes(role))) return true
  if (policy.self !== undefined) {
    const value = (params as Record<string, unknown> | undefined)?.[policy.self.slice('params.'.length)]
    return typeof value === 'string' && value === principal.userId
  }
  return false
}

export const authPlugin = globalPlugin<AuthOptions>('idm-auth', async (app, options) => {
  const { config, keys, credentials, clock } = options
  const { issuer, audience, ttlSeconds } = config.token

  await app.register(fastifyJwt, {
    secret: {
      private: keys.activePrivateKeyPem(),
      public: async (_request: FastifyRequest, token: TokenOrHeader) => {
        const kid = 'header' in token ? token.header.kid : token.kid
        const pem = typeof kid === 'string' ? keys.publicKeyPem(kid) : undefined
        if (pem === undefined) throw new UnknownKeyError('unknown kid')
        return pem
      }
    },
    decode: { complete: true },
    sign: { algorithm: 'ES256', kid: keys.activeKid },
    verify: {
      algorithms: ['ES256'],
      allowedIss: issuer,
      allowedAud: audience,
      requiredClaims: ['iss', 'aud', 'sub', 'iat', 'exp', 'jti', 'cv'],
      // Time claims are checked below against the injectable clock. No cache in fast-jwt: the
      // one below sits in front of it.
      ignoreExpiration: true,
      ignoreNotBefore: true,
      cache: false
    }
  })
  const verified = new VerifiedTokens(options.tokenCacheSize ?? 10_000)

  app.decorateRequest('principal', null)

  app.decorate('issueToken', (subject: TokenSubject): IssuedToken => {
    const now = Math.floor(clock().getTime() / 1000)
    const claims: AccessTokenClaims = {
      iss: issuer,
      aud: audience,
      sub: subject.userId,
      iat: now,
      nbf: now,
      exp: now + ttlSeconds,
      jti: randomUUID(),
      preferred_username: subject.username,
      roles: [...subject.roles],
      cv: subject.credentialVersion
    }
    return { access_token: app.jwt.sign(claims), token_type: 'Bearer', expires_in: ttlSeconds }
  })

  async function authenticate (request: FastifyRequest): Promise<Principal> {
    if (request.principal !== null) return request.principal
    const header = request.headers.authorization
    if (header === undefined || !/^Bearer\s/i.test(header)) {
      throw new HttpProblem(unauthorized('Bearer'))
    }
    let claims: AccessTokenClaims
    const cached = verified.get(header)
    if (cached !== undefined && keys.publicKeyPem(cached.kid) !== undefined) {
      claims = cached.claims
      // What jwtVerify would have set (the SSE route reads the token's exp from it).
      request.user = claims
    } else {
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
      claims = Object.freeze(decoded)
      Object.freeze(claims.roles)
      verified.set(header, { claims, kid: kidOf(header) })
    }
    const nowMs = clock().getTime()
    const now = nowMs / 1000
    if (now >= claims.exp) {
      verified.delete(header)
      throw refuse(request, 'expired')
    }
    if (claims.nbf !== undefined && now < claims.nbf) throw refuse(request, 'not yet valid')

    const state = await credentials.lookup(claims.sub)
    if (state === null) throw refuse(request, 'unknown user')
    if (state.status !== 'active') throw refuse(request, 'user inactive')
    if (state.lockedUntil !== null && Date.parse(state.lockedUntil) > nowMs) throw refuse(request, 'user locked')
    if (state.credentialVersion !== claims.cv) throw refuse(request, 'credentials changed')

    const principal: Principal = { userId: state.userId, username: state.username, roles: [...state.roles] }
    request.principal = principal
    return principal
  }

  function refuse (request: FastifyRequest, reason: string): HttpProblem {
    request.log.info({ reason }, 'bearer token refused')
    return invalidToken()
  }

  app.decorate('authenticate', authenticate)

  app.decorate('requireRole', (...roles: string[]): preHandlerAsyncHookHandler => async (request) => {
    const principal = await authenticate(request)
    if (!isAllowed(principal, { roles }, request.params)) throw problem.forbidden()
  })

  app.addHook('onRequest', async (request) => {
    const policy = request.routeOptions.config.auth
    if (policy === undefined || policy === false) return
    const principal = await authenticate(request)
    if (!isAllowed(principal, policy, request.params)) throw problem.forbidden()
  })

  app.get('/.well-known/jwks.json', {
    config: { auth: false },
    schema: {
      tags: ['auth'],
      summary: 'Public keys that verify access tokens (RFC 7517)',
      response: { 200: Jwks }
    }
  }, async (_request, reply) => {
    reply.header('cache-control', 'public, max-age=300')
    return keys.jwks()
  })
})

const Jwks = Type.Object({
  keys: Type.Array(Type.Object({
    kty: Type.Literal('EC'),
    crv: Type.Literal('P-256'),
    x: Type.String(),
    y: Type.String(),
    kid: Type.String(),
    alg: Type.Literal('ES256'),
    use: Type.Literal('sig')
  }, { additionalProperties: false }))
}, { additionalProperties: false })

/**
 * onRoute: every route under the protected prefix must say who may call it; the declaration
 * becomes the route's OpenAPI `security` and its 401/403 responses. Add it before any route.
 */
export function declareAuth (route: RouteOptions, protectedPrefix: string): void {
  const auth = route.config?.auth
  const where = `${String(route.method)} ${route.url}`
  if (auth === undefined) {
    if (route.url === protectedPrefix || route.url.startsWith(`${protectedPrefix}/`)) {
      throw new Error(`${where} must declare config.auth (false for a public route, or { roles?, self? })`)
    }
    return
  }
  if (auth !== false) {
    if (auth.roles !== undefined && (!Array.isArray(auth.roles) || !auth.roles.every((r) => typeof r === 'string' && r !== ''))) {
      throw new Error(`${where}: config.auth.roles must be an array of role ids`)
    }
    if (auth.self !== undefined && !/^params\.[A-Za-z_][A-Za-z0-9_]*$/.test(auth.self)) {
      throw new Error(`${where}: config.auth.self must name a route parameter, like 'params.id'`)
    }
  }
  const security = auth === false ? [] : [{ bearerAuth: [] }]
  const schema = route.schema ?? {}
  const declared = (schema as { security?: unknown }).security
  if (declared !== undefined && JSON.stringify(declared) !== JSON.stringify(security)) {
    throw new Error(`${where}: schema.security contradicts config.auth; leave it out, it is derived`)
  }
  const response = { ...(schema.response as Record<string, unknown> | undefined) }
  if (auth !== false) response[401] ??= problemResponse(401)
  if (auth !== false && (auth.roles !== undefined || auth.self !== undefined)) response[403] ??= problemResponse(403)
  route.schema = { ...schema, security, ...(Object.keys(response).length > 0 ? { response } : {}) } as RouteOptions['schema']
}
