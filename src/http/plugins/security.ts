/**
 * Security headers (@fastify/helmet) and CORS.
 *
 * The API only ever returns JSON, so its Content-Security-Policy forbids everything
 * (`default-src 'none'`); the /docs pages set their own, looser policy (@fastify/swagger-ui's
 * staticCSP) on their routes.
 *
 * CORS is off unless origins are configured. @fastify/cors is not a dependency of the project,
 * so this is a deliberately small allow-list implementation: no credentials (tokens travel in the
 * Authorization header, never in cookies), preflight answered with 204.
 */
import helmet from '@fastify/helmet'
import type { FastifyReply, FastifyRequest } from 'fastify'
import { globalPlugin } from './global.js'

export interface SecurityOptions { readonly corsOrigins: readonly string[] }

const ALLOWED_METHODS = 'GET, HEAD, POST, PUT, PATCH, DELETE'
const ALLOWED_HEADERS = 'authorization, content-type, if-match, if-none-match, idempotency-key, last-event-id, x-request-id'
const EXPOSED_HEADERS = 'etag, location, retry-after, www-authenticate, x-request-id, x-ratelimit-limit, x-ratelimit-remaining'

export const securityPlugin = globalPlugin<SecurityOptions>('idm-security', async (app, options) => {
  await app.register(helmet, {
    contentSecurityPolicy: {
      useDefaults: false,
      directives: { defaultSrc: ["'none'"], frameAncestors: ["'none'"], baseUri: ["'none'"], formAction: ["'none'"] }
    },
    // Cross-origin reads are governed by CORS below, not by CORP.
    crossOriginResourcePolicy: options.corsOrigins.length > 0 ? { policy: 'cross-origin' } : { policy: 'same-origin' }
  })

  if (options.corsOrigins.length === 0) return
  const any = options.corsOrigins.includes('*')
  const allowed = new Set(options.corsOrigins)
  const allowOrigin = (request: FastifyRequest, reply: FastifyReply): boolean => {
    const origin = request.headers.origin
    reply.header('vary', 'Origin')
    if (origin === undefined || (!any && !allowed.has(origin))) return false
    reply.header('access-control-allow-origin', any ? '*' : origin)
    return true
  }

  app.addHook('onRequest', async (request, reply) => {
    if (allowOrigin(request, reply)) reply.header('access-control-expose-headers', EXPOSED_HEADERS)
  })

  app.options('/*', { config: { auth: false }, schema: { hide: true } }, async (request, reply) => {
    if (request.headers['access-control-request-method'] !== undefined && reply.hasHeader('access-control-allow-origin')) {
      reply.header('access-control-allow-methods', ALLOWED_METHODS)
      reply.header('access-control-allow-headers', ALLOWED_HEADERS)
      reply.header('access-control-max-age', '600')
    }
    return reply.code(204).send()
  })
})
