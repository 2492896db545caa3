/**
 * The OAuth side of the composition root: the token store, the in-memory session index, the
 * provider, and the glue between protocol events and session events.
 *
 * - A sign-in (POST /v1/authentication, the sign-in page) starts a session (SessionStarted),
 *   then the refresh token is bound to it (grant ↔ session in the token store).
 * - A successful refresh grant records SessionRefreshed before the response leaves.
 * - A revoked grant (reuse, code replay, revocation, logout) ends its session (SessionRevoked).
 * - A session ended any other way (sessions API, security events) loses its stored tokens.
 * - Security events end every session of the user: a subscription to the log reacts to
 *   deactivation, password change and reset (and, on start, to any it missed while down).
 */
import { createHash } from 'node:crypto'
import type Provider from 'oidc-provider'
import { v7 as uuidv7 } from 'uuid'
import { SYSTEM_ACTOR, type CommandContext } from '../commands/handler.js'
import { endAllSessions, endSession, refreshSession, startSession, type SessionDeps, type StartSessionInput } from '../commands/sessions.js'
import type { Config } from '../config.js'
import type { SessionEndReason } from '../domain/events.js'
import type { EventStore, RecordedEvent, Subscription } from '../eventstore/port.js'
import type { SigningKeys } from '../http/keys.js'
import type { ProjectionRunner } from '../projections/runner.js'
import type { Db } from '../projections/schema.js'
import { ClientDirectory } from '../projections/client-directory.js'
import { SessionIndex } from '../projections/session-index.js'
import type { ClientRecord } from '../projections/clients.js'
import { secretMatches } from '../commands/clients.js'
import { getAccountState, liveSessionIds, staleSessions } from '../projections/sessions.js'
import { API_CLIENT_ID, API_RESOURCE, API_SCOPE, createProvider } from './provider.js'
import { consoleStylesheet } from './pages.js'
import { TokenStore } from './token-store.js'
import { jwtIntrospection } from './jwt-introspection.js'
import { createTokenCheck } from '../http/auth/verification.js'
import { getCredentialState } from '../projections/user-queries.js'

export interface OAuthServiceDeps {
  readonly config: Config
  readonly keys: SigningKeys
  readonly store: EventStore
  readonly db: Db
  readonly runner: ProjectionRunner
  readonly sessionDeps: SessionDeps
  readonly tokenStorePath: string
  readonly clock: () => Date
  readonly log?: (err: unknown, msg: string) => void
  /** The console's stylesheet for the sign-in pages; default: found in the console build. */
  readonly stylesheet?: string | null
}

export interface ApiSignIn {
  readonly sessionId: string
  readonly refreshToken: string
  readonly position: number | null
}

const REASON_OF: Readonly<Record<string, SessionEndReason>> = {
  UserDeactivated: 'user_deactivated',
  UserPasswordChanged: 'password_changed',
  UserPasswordReset: 'password_reset'
}

export class OAuthService {
  readonly provider: Provider
  readonly tokens: TokenStore
  readonly sessions: SessionIndex
  readonly clients: ClientDirectory
  readonly issuer: string
  /** The console's stylesheet the sign-in pages link, or null (no console build). */
  readonly stylesheet: string | null
  readonly #deps: OAuthServiceDeps
  readonly #unsubscribe: () => void
  #subscription: Subscription | null = null
  #reactor: Promise<void> | null = null

  constructor (deps: OAuthServiceDeps) {
    this.#deps = deps
    this.issuer = deps.config.token.issuer
    this.stylesheet = deps.stylesheet === undefined ? consoleStylesheet() : deps.stylesheet
    this.tokens = new TokenStore(deps.tokenStorePath)
    this.sessions = new SessionIndex(deps.db)
    this.clients = new ClientDirectory(deps.db)
    // Before the runner's waiters resume (see SessionIndex): a command's sessions and clients are
    // visible here by the time it answers.
    this.#unsubscribe = deps.runner.on('batch', () => {
      this.sessions.sync()
      this.clients.sync()
    })
    this.provider = createProvider({
      config: deps.config,
      issuer: this.issuer,
      keys: deps.keys,
      tokens: this.tokens,
      sessions: this.sessions,
      accounts: userId => getAccountState(deps.db, userId),
      clientRoles: clientId => this.clients.active(clientId)?.roles ?? null,
      cookieKeys: [createHash('sha256').update('idm-oidc-cookies\0').update(deps.keys.activePrivateKeyPem()).digest('base64url')],
      clock: deps.clock,
      stylesheet: this.stylesheet
    })
    this.tokens.hooks = {
      onGrantRevoked: async (grant, reason) => { await this.#end(grant.userId, grant.sessionId, reason, systemContext()) },
      findClient: clientId => {
        if (clientId === API_CLIENT_ID) return API_CLIENT
        const client = this.clients.active(clientId)
        return client === undefined ? undefined : clientMetadata(client)
      }
    }
    // Only hashes are stored (src/commands/clients.ts): compare the presented secret with the
    // current one and, during a rotation's overlap, with the previous one.
    const clients = this.clients
    const clock = deps.clock
    this.provider.Client.prototype.compareClientSecret = function (this: { clientId: string }, actual: string) {
      const client = clients.active(this.clientId)
      if (client === undefined) return false
      if (secretMatches(actual, client.secretHash)) return true
      const overlap = client.previousSecretExpiresAt !== null && Date.parse(client.previousSecretExpiresAt) > clock().getTime()
      return overlap && secretMatches(actual, client.previousSecretHash)
    } as never
    // The JWT access tokens (which oidc-provider does not introspect) answered by the same
    // checks as every /v1 request: src/oidc/jwt-introspection.ts.
    this.provider.use(jwtIntrospection({
      keys: deps.keys,
      issuer: this.issuer,
      audience: deps.config.token.audience,
      clock,
      check: createTokenCheck({ credentials: { lookup: userId => getCredentialState(deps.db, userId) }, sessions: this.sessions, clients: this.clients })
    }))
    this.provider.use(async (ctx, next) => {
      await next()
      // RP-initiated logout: the browser's session ends (SessionRevoked, sign_out) before the
      // redirect leaves, whether or not a grant was revoked with it (oidc-provider keeps grants
      // of offline_access tokens), and with it every token of every client it signed in to.
      if (ctx.oidc?.route === 'end_session_confirm' && ctx.status === 303 && ctx.oidc.params?.logout !== undefined) {
        const uid = ctx.oidc.session?.uid
        const bound = uid === undefined ? undefined : this.tokens.sessionOfBrowser(uid)
        if (uid !== undefined && bound !== undefined) {
          await this.#end(bound.userId, bound.sessionId, 'sign_out', systemContext())
          this.tokens.forgetBrowser(uid)
        }
      }
      // A refresh grant that succeeded extends its session, recorded before the response leaves.
      if (ctx.oidc?.route === 'token' && ctx.status === 200 && ctx.oidc.params?.grant_type === 'refresh_token') {
        const token = ctx.oidc.entities.RefreshToken as { sid?: string, accountId?: string } | undefined
        if (token?.sid !== undefined && token.accountId !== undefined) {
          await refreshSession(deps.sessionDeps, token.accountId, token.sid, systemContext())
            .catch(err => { deps.log?.(err, 'recording a session refresh failed') })
        }
      }
    })
  }

  /** Starts reacting to security events; ends sessions that a crash left behind. */
  async start (): Promise<void> {
    for (const stale of staleSessions(this.#deps.db)) {
      await this.#end(stale.userId, stale.id, stale.reason, systemContext())
    }
    const head = await this.#deps.store.headPosition()
    const subscription = this.#deps.store.subscribeToAll({ after: head })
    this.#subscription = subscription
    this.#reactor = (async () => {
      try {
        for await (const batch of subscription) {
          for (const event of batch) {
            const reason = REASON_OF[event.type]
            if (reason !== undefined) await this.#endAllFor(event, reason)
          }
        }
      } catch (err) {
        this.#deps.log?.(err, 'session reactor stopped')
      }
    })()
  }

  /** POST /v1/authentication: a session for the built-in API client, and its refresh token. */
  async signInApi (input: Omit<StartSessionInput, 'clientId' | 'amr'> & { amr?: readonly string[] }, ctx: CommandContext): Promise<ApiSignIn> {
    const amr = input.amr ?? ['pwd']
    const session = await startSession(this.#deps.sessionDeps, { ...input, amr, clientId: API_CLIENT_ID }, ctx)
    const { provider } = this
    const client = await provider.Client.find(API_CLIENT_ID)
    if (client === undefined) throw new Error('the built-in API client is missing')
    const grant = new provider.Grant({ accountId: input.userId, clientId: API_CLIENT_ID })
    grant.addResourceScope(API_RESOURCE, API_SCOPE)
    const grantId = await grant.save()
    this.tokens.bindGrant(grantId, { sessionId: session.sessionId, userId: input.userId }, Math.floor(Date.parse(session.expiresAt) / 1000))
    const refreshToken = new provider.RefreshToken({
      accountId: input.userId,
      client,
      grantId,
      scope: API_SCOPE,
      resource: API_RESOURCE,
      sid: session.sessionId,
      amr: [...amr],
      authTime: Math.floor(this.#deps.clock().getTime() / 1000),
      gty: 'password'
    } as never)
    return { sessionId: session.sessionId, refreshToken: await refreshToken.save(), position: session.position }
  }

  /**
   * The sign-in page: a browser session, shared by every client this browser then signs in to
   * (the login result carries its id; loadExistingGrant in provider.ts binds it to the browser).
   */
  async signInBrowser (input: StartSessionInput, ctx: CommandContext): Promise<{ sessionId: string, position: number | null }> {
    const session = await startSession(this.#deps.sessionDeps, input, ctx)
    return { sessionId: session.sessionId, position: session.position }
  }

  /** Ends one session and drops its stored tokens. */
  async endSession (userId: string, sessionId: string, reason: SessionEndReason, ctx: CommandContext): Promise<{ ended: boolean, position: number | null }> {
    return await this.#end(userId, sessionId, reason, ctx)
  }

  async endAllSessions (userId: string, reason: SessionEndReason, ctx: CommandContext): Promise<{ ended: number, position: number | null }> {
    const live = this.#liveSessionsOf(userId)
    const result = await endAllSessions(this.#deps.sessionDeps, userId, reason, ctx)
    for (const sessionId of live) this.tokens.revokeSession(sessionId)
    return result
  }

  async close (): Promise<void> {
    this.#unsubscribe()
    await this.#subscription?.close()
    await this.#reactor
    this.tokens.close()
  }

  async #end (userId: string, sessionId: string, reason: SessionEndReason, ctx: CommandContext): Promise<{ ended: boolean, position: number | null }> {
    const result = await endSession(this.#deps.sessionDeps, userId, sessionId, reason, ctx)
    this.tokens.revokeSession(sessionId)
    return result
  }

  async #endAllFor (event: RecordedEvent, reason: SessionEndReason): Promise<void> {
    const userId = (event.data as { userId?: unknown }).userId
    if (typeof userId !== 'string') return
    const meta = event.metadata as { actorId?: string | null, actorUsername?: string | null, correlationId?: string }
    const ctx: CommandContext = {
      actor: { id: meta.actorId ?? null, username: meta.actorUsername ?? null },
      correlationId: meta.correlationId ?? uuidv7(),
      commandId: event.id
    }
    await this.endAllSessions(userId, reason, ctx).catch(err => { this.#deps.log?.(err, 'ending sessions after a security event failed') })
  }

  #liveSessionsOf (userId: string): string[] {
    return liveSessionIds(this.#deps.db, userId)
  }
}

/** oidc-provider metadata of the built-in public client of the /v1 API. */
const API_CLIENT = Object.freeze({
  client_id: API_CLIENT_ID,
  client_name: 'Identity Manager API (POST /v1/authentication)',
  token_endpoint_auth_method: 'none',
  grant_types: ['refresh_token'],
  response_types: [],
  redirect_uris: []
})

/** oidc-provider metadata of a registered client. */
function clientMetadata (client: ClientRecord): Record<string, unknown> {
  const confidential = client.type === 'confidential'
  return {
    client_id: client.clientId,
    client_name: client.name,
    // oidc-provider wants a value for secret-based methods; the secret itself is never stored.
    ...(confidential ? { client_secret: 'only-a-hash-is-stored' } : {}),
    token_endpoint_auth_method: confidential ? 'client_secret_basic' : 'none',
    grant_types: [...client.grantTypes],
    response_types: client.grantTypes.includes('authorization_code') ? ['code'] : [],
    redirect_uris: [...client.redirectUris],
    post_logout_redirect_uris: [...client.postLogoutRedirectUris],
    'urn:idm:third_party': client.thirdParty
  }
}

const systemContext = (): CommandContext => ({ actor: SYSTEM_ACTOR, correlationId: uuidv7(), commandId: uuidv7() })
