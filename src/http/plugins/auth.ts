/**
 * Authentication and authorization, wired in one place. The parts live in src/http/auth/:
 *   - claims.ts        the access token's claims (issued here, checked by verification);
 *   - verification.ts  bearer token → principal: signature, time, credential state;
 *   - token-cache.ts   verified tokens by Authorization header, so a hit skips the ES256 verify;
 *   - policy.ts        `config.auth` on each route: what it means, checked at start-up, and the
 *                      OpenAPI security derived from it.
 * This plugin registers @fastify/jwt (ES256 only, verification by kid among all keys), decorates
 * `issueToken`/`authenticate`/`requireRole`, enforces each route's policy in one onRequest hook
 * (before the body is read), and serves the JWKS.
 */
import fastifyJwt, { type TokenOrHeader } from '@fastify/jwt'
import type { FastifyRequest, preHandlerAsyncHookHandler } from 'fastify'
import Type from 'typebox'
import type { Config } from '../../config.js'
import { claimsFor, REQUIRED_CLAIMS, type IssuedToken, type TokenSubject } from '../auth/claims.js'
import { isAllowed, type RouteAuth } from '../auth/policy.js'
import { enrolmentRequired, mustEnrol, type SecondFactorPolicy } from '../auth/second-factor.js'
import { createAuthenticator, type Principal, type VerificationOptions } from '../auth/verification.js'
import { globalPlugin } from './global.js'
import { problem } from './problems.js'

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
    /** Who may call the route; see src/http/auth/policy.ts. Required under /v1. */
    auth?: RouteAuth
  }
}

export interface AuthOptions extends VerificationOptions {
  readonly config: Config
  /** Who must enrol a second factor first, and how recent a step-up must be. */
  readonly secondFactor: SecondFactorPolicy
}

class UnknownKeyError extends Error {}

export const authPlugin = globalPlugin<AuthOptions>('idm-auth', async (app, options) => {
  const { config, keys, credentials, clock } = options

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
      allowedIss: config.token.issuer,
      allowedAud: config.token.audience,
      requiredClaims: REQUIRED_CLAIMS,
      // Time claims are checked in verification.ts against the injectable clock. No cache in
      // fast-jwt: token-cache.ts sits in front of it.
      ignoreExpiration: true,
      ignoreNotBefore: true,
      cache: false
    }
  })
  const authenticate = createAuthenticator({ keys, credentials, clock, tokenCacheSize: options.tokenCacheSize, sessions: options.sessions, clients: options.clients })

  app.decorateRequest('principal', null)

  app.decorate('issueToken', (subject: TokenSubject): IssuedToken => ({
    access_token: app.jwt.sign(claimsFor(subject, config.token, clock())),
    token_type: 'Bearer',
    expires_in: config.token.ttlSeconds
  }))

  app.decorate('authenticate', authenticate)

  app.decorate('requireRole', (...roles: string[]): preHandlerAsyncHookHandler => async (request) => {
    const principal = await authenticate(request)
    if (mustEnrol(options.secondFactor, principal)) throw enrolmentRequired()
    if (!isAllowed(principal, { roles }, request.params)) throw problem.forbidden()
  })

  app.addHook('onRequest', async (request) => {
    const policy = request.routeOptions.config.auth
    if (policy === undefined || policy === false) return
    const principal = await authenticate(request)
    if (policy.enrolment !== true && mustEnrol(options.secondFactor, principal)) throw enrolmentRequired()
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
