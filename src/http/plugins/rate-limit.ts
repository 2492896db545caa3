/**
 * Rate limits. @fastify/rate-limit is registered with `global: false` and runs in `preHandler`
 * (after body parsing and validation), so a route's `config.rateLimit` can key on the body.
 * Limits answer 429 problem+json with Retry-After.
 *
 * @fastify/rate-limit runs at most one of its route hooks per request, so two limits on one route
 * (per address and per username on POST /v1/authentication) are built here with
 * `createRateLimit` instead: `preHandler: app.loginRateLimits`.
 */
import rateLimit from '@fastify/rate-limit'
import type { FastifyRequest, preHandlerAsyncHookHandler } from 'fastify'
import type { Config } from '../../config.js'
import { globalPlugin } from './global.js'
import { problem } from './problems.js'

export interface RateLimitGuardOptions {
  /** Requests allowed per window and key. */
  readonly max: number
  readonly timeWindowMs?: number
  /** The key to count under; undefined skips the limit. Default: the client address. */
  readonly key?: (request: FastifyRequest) => string | undefined
  /**
   * Send x-ratelimit-limit/-remaining (default true). Off for limits keyed on something other
   * than the caller itself: a per-username count would tell anyone how often others tried that
   * username in the last minute (an enumeration side channel).
   */
  readonly exposeHeaders?: boolean
}

declare module 'fastify' {
  interface FastifyInstance {
    /** A preHandler that answers 429 once a key exceeds its budget. */
    rateLimitGuard (options: RateLimitGuardOptions): preHandlerAsyncHookHandler
    /** Per client address and per (normalised) body.username, from the configuration. */
    loginRateLimits: preHandlerAsyncHookHandler[]
  }
}

/** The per-username key: NFKC and lower case, as usernames are compared. */
export const usernameKey = (request: FastifyRequest): string | undefined => {
  const username = (request.body as { username?: unknown } | undefined)?.username
  return typeof username === 'string' ? `u:${username.normalize('NFKC').toLowerCase()}` : undefined
}

export const rateLimitPlugin = globalPlugin<{ config: Config }>('idm-rate-limit', async (app, { config }) => {
  await app.register(rateLimit, {
    global: false,
    hook: 'preHandler',
    errorResponseBuilder: (_request, context) => problem.tooManyRequests(context.ttl / 1000)
  })

  const guard = (options: RateLimitGuardOptions): preHandlerAsyncHookHandler => {
    const key = options.key
    const limiter = app.createRateLimit({
      max: options.max,
      timeWindow: options.timeWindowMs ?? 60_000,
      ...(key === undefined ? {} : { keyGenerator: (request: FastifyRequest) => key(request) ?? '' })
    })
    return async (request, reply) => {
      if (key !== undefined && key(request) === undefined) return
      const result = await limiter(request)
      if (result.isAllowed) return
      if (options.exposeHeaders !== false) {
        reply.header('x-ratelimit-limit', result.max)
        reply.header('x-ratelimit-remaining', result.remaining)
      }
      if (result.isExceeded) throw problem.tooManyRequests(result.ttlInSeconds)
    }
  }

  app.decorate('rateLimitGuard', guard)
  app.decorate('loginRateLimits', [
    guard({ max: config.rateLimit.loginPerMinute }),
    guard({ max: config.rateLimit.loginPerMinutePerUsername, key: usernameKey, exposeHeaders: false })
  ])
})
