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
import Provider, { errors, interactionPolicy, type Configuration, type KoaContextWithOIDC } from 'oidc-provider'
import type { Config } from '../config.js'
import type { SigningKeys } from '../http/keys.js'
import type { SessionIndex } from '../projections/session-index.js'
import { errorPage, escapeHtml, page, pageCsp } from './pages.js'
import { companyClaims } from '../http/auth/claims.js'
import type { GrantSession, TokenStore } from './token-store.js'

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
  /** Company links and company roles: the tokens' `companies` / `company_roles` routing claims. */
  readonly companies?: readonly string[]
  readonly companyRoles?: ReadonlyArray<{ readonly companyId: string, readonly roleId: string }>
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
  /** The console's stylesheet for the sign-in pages (src/oidc/pages.ts), or null. */
  readonly stylesheet: string | null
}

/** Where the sign-in pages live (src/oidc/interactions.ts). */
export const INTERACTION_PREFIX = '/interaction'

/** The client metadata property that marks a third-party client (consent step at sign-in). */
export const THIRD_PARTY = 'urn:idm:third_party'

/** What a finished sign-in page hands back with its login result (src/oidc/interactions.ts). */
export interface SignInResult { readonly sessionId: string }

const epoch = (d: Date): number => Math.floor(d.getTime() / 1000)

/** The session of a user token, when it is live and the user's credentials did not move on. */
function liveSession (deps: ProviderDeps, sid: unknown, userId: string): boolean {
  if (typeof sid !== 'string') return false
  const session = deps.sessions.live(sid, deps.clock().getTime())
  if (session === undefined || session.userId !== userId) return false
  const account = deps.accounts(userId)
  return account !== null && account.status === 'active' && account.credentialVersion === session.credentialVersion
}

/**
 * The session the sign-in page started for this browser (oidc-provider's session cookie), when it
 * still lives for the account the cookie is signed in as; a sign-in of this very request is
 * recorded first.
 */
function browserSession (deps: ProviderDeps, ctx: KoaContextWithOIDC): GrantSession | undefined {
  const session = ctx.oidc.session
  const accountId = session?.accountId
  if (session === undefined || accountId === undefined) return undefined
  const signedIn = (ctx.oidc.result as { idm?: SignInResult } | undefined)?.idm
  if (signedIn !== undefined && ctx.oidc.result?.login?.accountId === accountId) {
    const live = deps.sessions.live(signedIn.sessionId, deps.clock().getTime())
    deps.tokens.bindBrowser(session.uid, { sessionId: signedIn.sessionId, userId: accountId }, live === undefined ? null : Math.floor(live.expiresAt / 1000))
  }
  const bound = deps.tokens.sessionOfBrowser(session.uid)
  if (bound === undefined || bound.userId !== accountId || !liveSession(deps, bound.sessionId, accountId)) return undefined
  return bound
}

/** The grant of a signed-in browser for the client: SSO for first-party clients, consent for third-party ones. */
async function loadExistingGrant (deps: ProviderDeps, ctx: KoaContextWithOIDC): Promise<InstanceType<Provider['Grant']> | undefined> {
  const { client, session, provider } = ctx.oidc
  if (client === undefined || session === undefined) return undefined
  const bound = browserSession(deps, ctx)
  // No live session behind the cookie: the login prompt asks for the password (see createProvider).
  if (bound === undefined) return undefined
  // One sid for every client of this browser: the session the sign-in page started. Tokens,
  // codes and ID tokens carry it (includeSid below), so /v1 and logout find it.
  session.sidFor(client.clientId, bound.sessionId)
  const consented = ctx.oidc.result?.consent?.grantId as string | undefined
  const grantId = consented ?? session.grantIdFor(client.clientId)
  let grant = grantId === undefined ? undefined : await provider.Grant.find(grantId)
  // A grant of an earlier session (this browser signed in again) is not carried over.
  if (grant !== undefined && consented === undefined && deps.tokens.sessionOfGrant(grantId!)?.sessionId !== bound.sessionId) grant = undefined
  if (grant !== undefined && grant.accountId !== bound.userId) grant = undefined
  if (grant === undefined && (client as unknown as Record<string, unknown>)[THIRD_PARTY] !== true) {
    // First-party clients (the platform's own apps) need no consent: everything they may ask for.
    grant = new provider.Grant({ accountId: bound.userId, clientId: client.clientId })
    grant.addOIDCScope('openid offline_access profile email')
    grant.addResourceScope(API_RESOURCE, API_SCOPE)
    await grant.save()
  }
  if (grant === undefined) return undefined
  const live = deps.sessions.live(bound.sessionId, deps.clock().getTime())
  deps.tokens.bindGrant(grant.jti, bound, live === undefined ? null : Math.floor(live.expiresAt / 1000))
  return grant
}

/** The login prompt also asks again when the session behind the browser's cookie has ended. */
function interactionsPolicy (deps: ProviderDeps): ReturnType<typeof interactionPolicy.base> {
  const policy = interactionPolicy.base()
  const login = policy.get('login')
  if (login === undefined) throw new Error("oidc-provider's base policy has no login prompt")
  login.checks.add(new interactionPolicy.Check('idm_session_ended', 'the sign-in session has ended',
    (ctx: KoaContextWithOIDC) => ctx.oidc.session?.accountId !== undefined && browserSession(deps, ctx) === undefined))
  return policy
}

/** RFC 7662 is for the platform's resource servers: confidential clients only (also for JWTs, jwt-introspection.ts). */
export const mayIntrospect = (client: { readonly clientAuthMethod?: string } | undefined): boolean =>
  client !== undefined && client.clientAuthMethod !== 'none'

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
      profile: ['preferred_username', 'given_name', 'family_name', 'name', 'companies', 'company_roles'],
      email: ['email']
    },
    // PKCE S256 for every authorization code, confidential clients included (OAuth 2.1).
    pkce: { required: () => true },
    interactions: {
      url: (_ctx, interaction) => `${INTERACTION_PREFIX}/${interaction.uid}`,
      policy: interactionsPolicy(deps)
    },
    loadExistingGrant: async (ctx) => await loadExistingGrant(deps, ctx),
    // A client allowed the refresh grant gets a refresh token with its code (no need for the
    // offline_access scope, which oidc-provider drops unless prompt=consent): it dies with the session.
    issueRefreshToken: async (_ctx, client) => client.grantTypeAllowed('refresh_token'),
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
        allowedPolicy: (ctx: KoaContextWithOIDC) => mayIntrospect(ctx.oidc.client)
      },
      // A client revokes its own tokens only (RFC 7009 §2.1).
      revocation: { enabled: true, allowedPolicy: (_ctx, client, token) => token.clientId === client.clientId },
      userinfo: { enabled: true },
      rpInitiatedLogout: {
        enabled: true,
        logoutSource: async (ctx, form) => {
          const redirect = ctx.oidc.params?.post_logout_redirect_uri
          ctx.set('content-security-policy', pageCsp(typeof redirect === 'string' ? [redirect] : []))
          ctx.set('cache-control', 'no-store')
          ctx.type = 'html'
          ctx.body = page({
            title: 'Sign out',
            stylesheet: deps.stylesheet,
            // The form (with oidc-provider's xsrf token) carries no button: the one below names it.
            body: `<h1>Sign out</h1>
<p>Sign out of Identity Manager${ctx.oidc.client === undefined ? '' : ` and ${escapeHtml(ctx.oidc.client.clientName ?? ctx.oidc.client.clientId)}`}? Every application this browser signed in to is signed out.</p>
${form}
<button autofocus type="submit" form="op.logoutForm" value="yes" name="logout">Sign out</button>`
          })
        },
        postLogoutSuccessSource: async (ctx) => {
          ctx.set('content-security-policy', pageCsp())
          ctx.type = 'html'
          ctx.body = page({ title: 'Signed out', stylesheet: deps.stylesheet, body: '<h1>Signed out</h1>\n<p>You are signed out. You can close this window.</p>' })
        }
      },
      resourceIndicators: {
        enabled: true,
        // Every grant covers the API. At the token endpoint (RFC 8707): a token request that
        // names it (`resource=urn:identity-manager:api`) gets the API's JWT; one without it gets
        // the API's JWT too unless its scope has `openid`, in which case it gets the opaque
        // access token for userinfo (oidc-provider serves userinfo only to tokens without an
        // audience). idm-api and service accounts never ask for `openid`: API tokens.
        defaultResource: (_ctx, _client, oneOf) => oneOf ?? API_RESOURCE,
        useGrantedResource: () => false,
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
    extraTokenClaims: (ctx, token) => {
      const t = token as unknown as { kind: string, accountId?: string, sid?: string, clientId: string }
      if (t.kind === 'ClientCredentials') return { roles: [...(deps.clientRoles(t.clientId) ?? [])] }
      if (t.accountId === undefined) return undefined
      const account = deps.accounts(t.accountId)
      if (account === null) return undefined
      // How the sign-in went (amr, auth_time), from the code or refresh token the access token
      // comes from: the /v1 check decides second-factor policy and step-up on them.
      const entities = (ctx as { oidc?: { entities?: Record<string, unknown> } } | undefined)?.oidc?.entities
      const source = (entities?.RefreshToken ?? entities?.AuthorizationCode) as { amr?: unknown, authTime?: unknown } | undefined
      const amr = Array.isArray(source?.amr) && source.amr.every(a => typeof a === 'string') ? { amr: [...source.amr as string[]].slice(0, 8) } : {}
      const authTime = typeof source?.authTime === 'number' && 'amr' in amr ? { auth_time: Math.floor(source.authTime) } : {}
      return { sid: t.sid, preferred_username: account.username, roles: [...account.roles], cv: account.credentialVersion, ...amr, ...authTime, ...companyClaims(account) }
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
          ...companyClaims(account),
          ...(account.email === undefined ? {} : { email: account.email }),
          ...(account.firstName === undefined ? {} : { given_name: account.firstName }),
          ...(account.lastName === undefined ? {} : { family_name: account.lastName }),
          ...(account.firstName === undefined ? {} : { name: `${account.firstName} ${account.lastName ?? ''}`.trim() })
        })
      }
    },
    renderError: (ctx, out) => {
      ctx.set('content-security-policy', pageCsp())
      ctx.type = 'html'
      ctx.body = errorPage(deps.stylesheet, 'Sign-in error', typeof out.error_description === 'string' ? out.error_description : 'The request could not be completed.', String(out.error))
    }
  }
  const provider = new Provider(deps.issuer, configuration)
  // X-Forwarded-Proto and Host are set by src/oidc/mount.ts from the issuer, never by a client.
  provider.proxy = true
  // Codes, tokens and ID tokens carry `sid` for every client, not only for back-channel logout
  // clients (oidc-provider's rule): the API checks it on every request, and it is the session
  // the sign-in page started (set per client in loadExistingGrant).
  provider.Client.prototype.includeSid = function includeSid () { return true }
  return provider
}
