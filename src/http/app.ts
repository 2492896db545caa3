/**
 * The HTTP application: `buildApp(deps)` assembles Fastify with the shell plugins (request ids,
 * problem details, JSON-only bodies, validation, security headers, metrics, rate limits,
 * OpenAPI, authentication, health) and registers the resource route plugins under /v1.
 * It never listens: main.ts calls `listen`, and `close` on SIGTERM; tests use `inject`.
 */
import Fastify, {
  type FastifyBaseLogger,
  type FastifyRequest,
  type FastifyInstance,
  type FastifyPluginAsync,
  type FastifyPluginOptions,
  type RawReplyDefaultExpression,
  type RawRequestDefaultExpression,
  type RawServerDefault
} from 'fastify'
import type { TypeBoxTypeProvider } from '@fastify/type-provider-typebox'
import type { Registry } from 'prom-client'
import type { Config } from '../config.js'
import { createDeviceTokens, deviceSecret, type DeviceTokens } from './device-tokens.js'
import type { SigningKeys } from './keys.js'
import { createMfaTokens, mfaTokenSecret, type MfaTokens } from './mfa-tokens.js'
import type { SecondFactorPolicy } from './auth/second-factor.js'
import { declareAuth } from './auth/policy.js'
import type { ClientCheck, CredentialLookup, SessionCheck } from './auth/verification.js'
import { authPlugin } from './plugins/auth.js'
import { bodyPlugin } from './plugins/body.js'
import { consolePlugin } from './plugins/console.js'
import type { ErrorMapper } from './plugins/error-map.js'
import { healthPlugin } from './plugins/health.js'
import { RequestLogController, loggerOptions } from './plugins/logging.js'
import { metricsPlugin } from './plugins/metrics.js'
import { openApiPlugin } from './plugins/openapi.js'
import { frameworkErrors, problem, problemsPlugin } from './plugins/problems.js'
import { rateLimitPlugin } from './plugins/rate-limit.js'
import { genReqId, requestIdPlugin } from './plugins/request-id.js'
import { securityPlugin } from './plugins/security.js'
import { prepareRequestSchemas, validatorCompiler } from './plugins/validation.js'

export type App = FastifyInstance<RawServerDefault, RawRequestDefaultExpression, RawReplyDefaultExpression, FastifyBaseLogger, TypeBoxTypeProvider>

/** A resource route plugin, registered under /v1 (write it as FastifyPluginAsyncTypebox). */
export type RoutePlugin = FastifyPluginAsync<any, RawServerDefault, any>

export type RouteRegistration = RoutePlugin | { readonly plugin: RoutePlugin, readonly options?: FastifyPluginOptions }

export interface AppDeps {
  readonly config: Config
  readonly keys: SigningKeys
  /** The per-request revocation check (status, lock, credential version, roles). */
  readonly credentials: CredentialLookup
  /** false: no logs (tests); true/undefined: pino at config.logLevel; an object: pino options. */
  readonly logger?: boolean | Record<string, unknown>
  /** For GET /health/ready; default always ready. */
  readonly ready?: () => boolean
  readonly metrics?: { readonly registry?: Registry, readonly defaultMetrics?: boolean }
  /** Resource plugins, registered in order under the /v1 prefix. */
  readonly routes?: readonly RouteRegistration[]
  /** Consulted before the built-in error table (domain, event store and command errors). */
  readonly errorMappers?: readonly ErrorMapper[]
  /** The time for token issue and expiry checks; tests freeze it. */
  readonly clock?: () => Date
  /** Verified-token cache entries (default 10 000; 0 turns the cache off, e.g. to benchmark). */
  readonly tokenCacheSize?: number
  /** When given, every bearer token must name a live session (`sid`) of its user. */
  readonly sessions?: SessionCheck
  /** When given, service-account tokens (client_credentials) work while their client is active. */
  readonly clients?: ClientCheck
  /** Extra top-level plugins (outside /v1), e.g. the OAuth 2.0 / OpenID Connect endpoints. */
  readonly plugins?: readonly RouteRegistration[]
  /**
   * Resolves true once the local read model has applied `position`. With it, a request may carry
   * `x-idm-min-position` (from another node's `x-idm-position`) and is served only once this
   * node has caught up (bounded by config.projectionWaitMs; 503 after that).
   */
  readonly waitForPosition?: (position: number, timeoutMs: number) => Promise<boolean>
  /** The event store's head: an `x-idm-min-position` beyond it is a 400 at once. */
  readonly headPosition?: () => Promise<number>
  /** info.version of the OpenAPI document. */
  readonly version?: string
  /** Who must enrol a second factor, and step-up; default: from config.mfa (no catalog roles). */
  readonly secondFactor?: SecondFactorPolicy
}

declare module 'fastify' {
  interface FastifyInstance {
    /** The validated, frozen configuration. */
    config: Config
    clock: () => Date
    /** Device tokens for the `idm_device` cookie (src/http/device-tokens.ts). */
    deviceTokens: DeviceTokens
    /** The mfa_token of two-step sign-ins (src/http/mfa-tokens.ts). */
    mfaTokens: MfaTokens
    /** Who must enrol a second factor first; how recent a step-up must be. */
    secondFactor: SecondFactorPolicy
    /** Every route registered (method, url), HEAD left out: read by the policy-table test. */
    routeTable: readonly { readonly method: string, readonly url: string }[]
  }
}

export const API_PREFIX = '/v1'

/** A bearer token this service signed (signature, iss, aud) and not expired; the user is not looked up. */
async function hasValidToken (request: FastifyRequest, clock: () => Date): Promise<boolean> {
  if (!/^Bearer\s/i.test(request.headers.authorization ?? '')) return false
  try {
    const claims = await request.jwtVerify<{ exp?: unknown }>()
    return typeof claims.exp === 'number' && clock().getTime() / 1000 < claims.exp
  } catch {
    return false
  }
}

export async function buildApp (deps: AppDeps): Promise<App> {
  const { config } = deps
  const clock = deps.clock ?? (() => new Date())
  const trustProxy = config.http.trustProxy
  const app: App = Fastify({
    logger: loggerOptions(deps.logger, config.logLevel),
    bodyLimit: config.http.bodyLimit,
    onProtoPoisoning: 'error',
    onConstructorPoisoning: 'error',
    // Fastify accepts a hop count (proxy-addr semantics) although its types omit number.
    trustProxy: (Array.isArray(trustProxy) ? [...trustProxy] : trustProxy) as boolean | string[],
    requestIdHeader: false,
    genReqId,
    // One line per request at info ("request completed"); see plugins/logging.ts.
    logController: new RequestLogController({ requestIdLogLabel: 'requestId' }),
    frameworkErrors,
    // Slow-loris guard: the whole request must arrive within 30 s (responses may stream longer).
    requestTimeout: 30_000,
    routerOptions: { maxParamLength: 512 }
  }).withTypeProvider<TypeBoxTypeProvider>()

  if (trustProxy === true) {
    app.log.warn('IDM_TRUST_PROXY=true trusts X-Forwarded-For from anyone who can reach this port: any client can then pick its own address, and so reset the per-address login limit. Set a hop count (e.g. 1) or the proxies\' addresses instead.')
  }
  app.setValidatorCompiler(validatorCompiler)
  app.decorate('config', config)
  app.decorate('clock', clock)
  app.decorate('deviceTokens', createDeviceTokens({ secret: deviceSecret(deps.keys), clock }))
  app.decorate('mfaTokens', createMfaTokens({ secret: mfaTokenSecret(deps.keys), clock, ttlSeconds: config.mfa.tokenTtlSeconds }))
  const secondFactor = deps.secondFactor ?? { requiredRoles: config.mfa.requiredRoles, stepUpSeconds: config.mfa.stepUpSeconds }
  app.decorate('secondFactor', secondFactor)
  // Order matters. Route-shaping hooks first; then the hooks every response needs (request id,
  // problems, security headers), which a child context (like /docs) only inherits when they
  // exist before it is registered; then the OpenAPI collector, before any documented route.
  app.addHook('onRoute', prepareRequestSchemas)
  app.addHook('onRoute', (route) => declareAuth(route, API_PREFIX))
  // Every route as it was registered: the policy-table test (company-matrix) walks all of /v1.
  const routes: { method: string, url: string }[] = []
  app.decorate('routeTable', routes)
  app.addHook('onRoute', (route) => {
    for (const method of [route.method].flat()) if (method !== 'HEAD') routes.push({ method, url: route.url })
  })
  await app.register(requestIdPlugin)
  await app.register(problemsPlugin, { mappers: deps.errorMappers ?? [] })
  await app.register(bodyPlugin)
  await app.register(securityPlugin, { corsOrigins: config.http.corsOrigins })
  await app.register(openApiPlugin, { version: deps.version ?? '1.0.0' })
  await app.register(metricsPlugin, { ...deps.metrics, token: config.metricsToken })
  await app.register(rateLimitPlugin, { config })
  if (deps.waitForPosition !== undefined) {
    // Before the auth hook: a token issued by another node names a user this node may not have
    // yet. So the token's signature (iss, aud, exp) is checked here, and the credential lookup
    // follows in the auth hook once this node has caught up. Only for authenticated callers of
    // /v1 routes: anywhere else the header is ignored, so nobody holds a request open for free.
    const wait = deps.waitForPosition
    const head = deps.headPosition
    app.addHook('onRequest', async (request) => {
      const header = request.headers['x-idm-min-position']
      if (header === undefined) return
      const route = request.routeOptions.url
      if (route === undefined || !route.startsWith(`${API_PREFIX}/`)) return
      if (typeof header !== 'string' || !/^\d{1,15}$/.test(header)) {
        throw problem.badRequest('x-idm-min-position must be a log position (a whole number).',
          [{ path: '/headers/x-idm-min-position', message: 'must be a whole number' }])
      }
      if (!(await hasValidToken(request, clock))) return
      const position = Number(header)
      if (head !== undefined && position > await head()) {
        throw problem.badRequest('x-idm-min-position is beyond the last event in the log.',
          [{ path: '/headers/x-idm-min-position', message: 'must be a position the log has reached' }])
      }
      if (!(await wait(position, config.projectionWaitMs))) {
        throw problem.unavailable('This node has not caught up to that position yet; retry shortly.', 1)
      }
    })
  }
  await app.register(authPlugin, {
    config,
    keys: deps.keys,
    credentials: deps.credentials,
    clock,
    secondFactor,
    ...(deps.tokenCacheSize === undefined ? {} : { tokenCacheSize: deps.tokenCacheSize }),
    ...(deps.sessions === undefined ? {} : { sessions: deps.sessions }),
    ...(deps.clients === undefined ? {} : { clients: deps.clients })
  })
  await app.register(healthPlugin, deps.ready === undefined ? {} : { ready: deps.ready })
  // The admin console's static pages (/console), a client of the /v1 routes below.
  await app.register(consolePlugin)

  for (const plugin of deps.plugins ?? []) {
    if (typeof plugin === 'function') await app.register(plugin)
    else await app.register(plugin.plugin, plugin.options ?? {})
  }

  await app.register(async (v1) => {
    for (const route of deps.routes ?? []) {
      if (typeof route === 'function') await v1.register(route)
      else await v1.register(route.plugin, route.options ?? {})
    }
  }, { prefix: API_PREFIX })

  return app
}
