/**
 * RFC 7662 introspection of the service's JWT access tokens.
 *
 * oidc-provider introspects only the tokens it stores (refresh tokens, opaque access tokens) and
 * answers a JWT with `400 unsupported_token_type`. But the access tokens of this service are
 * all ES256 JWTs (the API's resource indicator, and POST /v1/authentication's), and a resource
 * server that introspects one must learn whether it is still good: RFC 7662 §2.2 wants
 * `{"active": false}` for a token that is not, and the claims for one that is.
 *
 * This middleware runs around the provider's introspection route. By the time the provider
 * refuses the JWT, it has parsed the body and authenticated the calling client (its own
 * client authentication, secrets compared against our hashes): we then answer in its place,
 * only for a confidential client (`mayIntrospect`, the provider's `allowedPolicy` too), with the
 * same checks every /v1 request makes (`createTokenCheck`): signature by one of our keys,
 * issuer and audience, expiry, and the subject still allowed (credential state, live session,
 * active client). Any other refusal of the provider (no client authentication, a missing token,
 * duplicate parameters) is left as it answered.
 */
import { createPublicKey, type KeyObject } from 'node:crypto'
import { jwtVerify, type JWTHeaderParameters } from 'jose'
import type { KoaContextWithOIDC } from 'oidc-provider'
import type { SigningKeys } from '../http/keys.js'
import { claimsCheck, REQUIRED_CLAIMS, type AccessTokenClaims } from '../http/auth/claims.js'
import type { Principal } from '../http/auth/verification.js'
import { mayIntrospect } from './provider.js'

export interface JwtIntrospectionOptions {
  readonly keys: SigningKeys
  readonly issuer: string
  readonly audience: string
  readonly clock: () => Date
  readonly check: (claims: AccessTokenClaims, nowMs: number) => Promise<Principal | string>
}

type Next = () => Promise<void>

export function jwtIntrospection (options: JwtIntrospectionOptions): (ctx: KoaContextWithOIDC, next: Next) => Promise<void> {
  const { keys, issuer, audience, clock, check } = options
  const keyFor = (header: JWTHeaderParameters): KeyObject => {
    const pem = typeof header.kid === 'string' ? keys.publicKeyPem(header.kid) : undefined
    if (pem === undefined) throw new Error('unknown kid')
    return createPublicKey(pem)
  }

  async function inspect (token: string): Promise<Record<string, unknown>> {
    const now = clock()
    let claims: unknown
    try {
      // exp and nbf are checked by `check`, against the same clock as on /v1.
      ({ payload: claims } = await jwtVerify(token, keyFor, {
        algorithms: ['ES256'], issuer, audience, requiredClaims: REQUIRED_CLAIMS, currentDate: now, clockTolerance: 0
      }))
    } catch {
      return { active: false }
    }
    if (!claimsCheck.Check(claims)) return { active: false }
    const outcome = await check(claims, now.getTime())
    if (typeof outcome === 'string') return { active: false }
    return {
      active: true,
      iss: claims.iss,
      sub: claims.sub,
      aud: claims.aud,
      client_id: claims.client_id ?? (claims.cv === undefined ? claims.sub : undefined),
      exp: claims.exp,
      iat: claims.iat,
      ...(claims.nbf === undefined ? {} : { nbf: claims.nbf }),
      jti: claims.jti,
      ...(claims.sid === undefined ? {} : { sid: claims.sid }),
      token_type: 'Bearer',
      // The subject's current name and roles (from the read model), not the token's copy.
      ...(claims.cv === undefined ? {} : { username: outcome.username }),
      roles: outcome.roles
    }
  }

  return async function introspectJwt (ctx, next) {
    await next()
    if (ctx.oidc?.route !== 'introspection' || ctx.status !== 400) return
    if ((ctx.body as { error?: unknown } | undefined)?.error !== 'unsupported_token_type') return
    const client = ctx.oidc.client
    const token = ctx.oidc.params?.token
    if (client === undefined || typeof token !== 'string') return
    ctx.status = 200
    ctx.body = mayIntrospect(client) ? await inspect(token) : { active: false }
  }
}
