/**
 * The OAuth 2.0 / OpenID Connect provider: panva's oidc-provider (OpenID Certified), configured
 * for this service. What is ours: storage (token-store.ts), clients (the client registry),
 * accounts (the read model), sessions (events), and the claims the /v1 API checks. What is the
 * library's: every protocol rule (grants, PKCE, redirect_uri matching, client authentication,
 * token formats, error bodies).
 *
 * Access tokens are JWTs for the API's resource indicator (API_RESOURCE, the default resource of
 * every request), signed ES256 with the service's active key, and carry what the /v1 check needs:
 * `sid`, `preferred_username`, `roles` and `cv` (the credential version) for a user; `roles` for a
 * service account (client_credentials; `sub` is the client id).
 */
import { createPrivateKey } from 'node:crypto'
import Provider, { errors, type Configuration, type KoaContextWithOIDC } from 'oidc-provider'
import type { Config } from '../config.js'
import type { SigningKeys } from '../http/keys.js'
import type { SessionIndex } from '../projections/session-index.js'
import type { TokenStore } from './token-store.js'

/** The resource indicator of the /v1 API: JWT access tokens are issued for it. */
export const API_RESOURCE = 'urn:identity-manager:api'
/** The built-in public client of POST /v1/authentication and its refresh grant. */
export const API_CLIENT_ID = 'idm-api'
/** The scope the API's access tokens carry. */
export const API_SCOPE = 'api'

/** The account facts the provider needs, from the read model. */
export interface AccountState {
  readonly userId: string
  readonly username: string
  readonly status: 'active' | 'inactive'
  readonly lockedUntil: string | null
  readonly credentialVersion: number
  readonly roles: readonly string[]
  readonly email?: string
  readonly firstName?: string
  readonly lastName?: string
}

export interface ProviderDeps {
  readonly config: Config
  readonly issuer: string
  readonly keys: SigningKeys
  readonly tokens: TokenStore
  readonly sessions: SessionIndex
  readonly accounts: (userId: string) => AccountState | null
  /** A client's current roles and status (service accounts); null for unknown clients. */
  readonly clientRoles: (clientId: string) => readonly string[] | null
  /** Secret for oidc-provider's signed cookies (derived from the signing key). */
  readonly cookieKeys: readonly string[]
  readonly clock: () => Date
}

const epoch = (d: Date): number => Math.floor(d.getTime() / 1000)

/** The session of a user token, when it is live and the user's credentials did not move on. */
function liveSession (deps: ProviderDeps, sid: unknown, userId: string): boolean {
  if (typeof sid !== 'string') return false
  const session = deps.sessions.live(sid, deps.clock().getTime())
  if (session === undefined || session.userId !== userId) return false
  const account = deps.accounts(userId)
  return account !== null && account.status === 'active' && account.credentialVersion === session.credentialVersion
}

export function createProvider (deps: ProviderDeps): Provider {
  const { config } = deps
  const jwk = createPrivateKey(deps.keys.activePrivateKeyPem()).export({ format: 'jwk' })
  const configuration: Configuration = {
    adapter: deps.tokens.adapterClass() as unknown as Configuration['adapter'],
    jwks: { keys: [{ ...jwk, kid: deps.keys.activeKid, alg: 'ES256', use: 'sig' }] as never },
    cookies: { keys: [...deps.cookieKeys] },
    enabledJWA: {
      idTokenSigningAlgValues: ['ES256'],
      requestObjectSigningAlgValues: ['ES256'],
      userinfoSigningAlgValues: ['ES256'],
      introspectionSigningAlgValues: ['ES256'],
      authorizationSigningAlgValues: ['ES256']
    },
    clientDefaults: {
      grant_types: ['authorization_code'],
      id_token_signed_response_alg: 'ES256',
      response_types: ['code'],
      token_endpoint_auth_method: 'client_secret_basic'
    },
    responseTypes: ['code'],
    extraClientMetadata: { properties: ['urn:idm:third_party'] },
    scopes: ['openid', 'offline_access', 'profile', 'email', API_SCOPE],
    claims: {
      openid: ['sub'],
      profile: ['preferred_username', 'given_name', 'family_name', 'name'],
      email: ['email']
    },
    // PKCE S256 for every authorization code, confidential clients included (OAuth 2.1).
    pkce: { required: () => true },
    rotateRefreshToken: true,
    routes: {
      authorization: '/oauth2/authorize',
      token: '/oauth2/token',
      userinfo: '/oauth2/userinfo',
      introspection: '/oauth2/introspect',
      revocation: '/oauth2/revoke',
      end_session: '/oauth2/logout',
      jwks: '/.well-known/jwks.json',
      code_verification: '/oauth2/device',
      device_authorization: '/oauth2/device/auth',
      pushed_authorization_request: '/oauth2/par',
      backchannel_authentication: '/oauth2/backchannel',
      registration: '/oauth2/register',
      challenge: '/oauth2/challenge'
    } as Configuration['routes'],
    ttl: {
      AccessToken: config.token.ttlSeconds,
      ClientCredentials: config.token.ttlSeconds,
      IdToken: config.token.ttlSeconds,
      AuthorizationCode: config.oauth.authorizationCodeTtlSeconds,
      Interaction: 600,
      Grant: config.sessions.absoluteSeconds,
      Session: config.sessions.absoluteSeconds,
      // A refresh token lives as long as its session may: until the idle deadline (moved on by
      // each refresh), never past the absolute one.
      RefreshToken (_ctx, token) {
        const sid = (token as { sid?: string }).sid
        const session = sid === undefined ? undefined : deps.sessions.live(sid, deps.clock().getTime())
        const now = epoch(deps.clock())
        if (session === undefined) return config.sessions.idleSeconds
        const idle = Math.min(now + config.sessions.idleSeconds, Math.floor(session.expiresAt / 1000))
        return Math.max(1, idle - now)
      }
    },
    features: {
      devInteractions: { enabled: false },
      clientCredentials: { enabled: true },
      introspection: {
        enabled: true,
        // RFC 7662 is for the platform's resource servers: confidential clients only.
        allowedPolicy: (ctx: KoaContextWithOIDC) => ctx.oidc.client?.clientAuthMethod !== 'none'
      },
      // A client revokes its own tokens only (RFC 7009 §2.1).
      revocation: { enabled: true, allowedPolicy: (_ctx, client, token) => token.clientId === client.clientId },
      userinfo: { enabled: true },
      rpInitiatedLogout: { enabled: true },
      resourceIndicators: {
        enabled: true,
        defaultResource: () => API_RESOURCE,
        useGrantedResource: () => true,
        getResourceServerInfo: (_ctx, resource) => {
          if (resource !== API_RESOURCE) throw new errors.InvalidTarget()
          return {
            scope: API_SCOPE,
            audience: config.token.audience,
            accessTokenTTL: config.token.ttlSeconds,
            accessTokenFormat: 'jwt',
            jwt: { sign: { alg: 'ES256' } }
          }
        }
      }
    },
    extraTokenClaims: (_ctx, token) => {
      const t = token as unknown as { kind: string, accountId?: string, sid?: string, clientId: string }
      if (t.kind === 'ClientCredentials') return { roles: [...(deps.clientRoles(t.clientId) ?? [])] }
      if (t.accountId === undefined) return undefined
      const account = deps.accounts(t.accountId)
      if (account === null) return undefined
      return { sid: t.sid, preferred_username: account.username, roles: [...account.roles], cv: account.credentialVersion }
    },
    findAccount: (_ctx, sub, token) => {
      const account = deps.accounts(sub)
      if (account === null || account.status !== 'active') return undefined
      // A refresh token (or code) works only while its session lives.
      if (token !== undefined && !liveSession(deps, (token as { sid?: string }).sid, sub)) {
        throw new errors.InvalidGrant('the session has ended')
      }
      return {
        accountId: sub,
        claims: () => ({
          sub,
          preferred_username: account.username,
          ...(account.email === undefined ? {} : { email: account.email }),
          ...(account.firstName === undefined ? {} : { given_name: account.firstName }),
          ...(account.lastName === undefined ? {} : { family_name: account.lastName }),
          ...(account.firstName === undefined ? {} : { name: `${account.firstName} ${account.lastName ?? ''}`.trim() })
        })
      }
    },
    renderError: (ctx, out) => {
      ctx.type = 'html'
      ctx.body = errorPage(String(out.error), typeof out.error_description === 'string' ? out.error_description : '')
    }
  }
  const provider = new Provider(deps.issuer, configuration)
  // X-Forwarded-Proto and Host are set by src/oidc/mount.ts from the issuer, never by a client.
  provider.proxy = true
  return provider
}

const escapeHtml = (s: string): string => s.replace(/[&<>"']/g, c => `&#${c.charCodeAt(0)};`)

function errorPage (error: string, description: string): string {
  return `<!doctype html><html lang="en"><head><meta charset="utf-8"><title>Sign-in error</title></head>
<body><main><h1>Something went wrong</h1><p><code>${escapeHtml(error)}</code></p><p>${escapeHtml(description)}</p></main></body></html>`
}
