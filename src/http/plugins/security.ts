/**
 * Security headers (@fastify/helmet) and CORS.
 *
 * The API only ever returns JSON, so its Content-Security-Policy forbids everything
 * (`default-src 'none'`); the /docs pages set their own, looser policy (@fastify/swagger-ui's
 * staticCSP) on their routes.
 *
 * The header set comes from @fastify/helmet, computed once at start-up: the plugin's own hooks
 * build helmet's middleware again on every request (validating the options and parsing the CSP
 * each time, most of a small read's CPU in the bench's profile), although with global options and
 * no nonces the headers never change. So helmet runs once, with the same options, on a scratch
 * Fastify instance, and the headers its middleware puts on the raw response are recorded; one
 * onRequest hook sets them on each reply (route headers set later, like /docs's CSP, still
 * override them). A route that hijacks the reply and writes the raw response itself must add
 * them (none does).
 *
 * CORS is off unless origins are configured. @fastify/cors is not a dependency of the project,
 * so this is a deliberately small allow-list implementation: no credentials (tokens travel in the
 * Authorization header, never in cookies), preflight answered with 204.
 */
import helmet, { type FastifyHelmetOptions } from '@fastify/helmet'
import Fastify, { type FastifyReply, type FastifyRequest } from 'fastify'
import { globalPlugin } from './global.js'

export interface SecurityOptions { readonly corsOrigins: readonly string[] }

const ALLOWED_METHODS = 'GET, HEAD, POST, PUT, PATCH, DELETE'
const ALLOWED_HEADERS = 'authorization, content-type, if-match, if-none-match, idempotency-key, last-event-id, x-request-id'
const EXPOSED_HEADERS = 'etag, location, retry-after, www-authenticate, x-request-id, x-ratelimit-limit, x-ratelimit-remaining'

type HeaderValue = string | number | readonly string[]

/**
 * The headers helmet's middleware sets with these options, in its order and spelling, and the
 * ones it removes: @fastify/helmet registered on a throw-away instance, one injected request,
 * the raw response's setHeader and removeHeader recorded by a hook that runs before helmet's.
 */
export async function helmetHeaders (options: FastifyHelmetOptions): Promise<{ set: ReadonlyArray<readonly [string, HeaderValue]>, removed: readonly string[] }> {
  const scratch = Fastify({ logger: false })
  const set = new Map<string, readonly [string, HeaderValue]>()
  const removed = new Set<string>()
  // Only between the hook before helmet's and the one after: the reply itself sets more later.
  let recording = false
  scratch.addHook('onRequest', async (_request, reply) => {
    const raw = reply.raw
    const setHeader = raw.setHeader.bind(raw)
    const removeHeader = raw.removeHeader.bind(raw)
    raw.setHeader = (name: string, value: HeaderValue) => {
      if (recording) {
        set.set(name.toLowerCase(), [name, value])
        removed.delete(name.toLowerCase())
      }
      return setHeader(name, value)
    }
    raw.removeHeader = (name: string) => {
      if (recording) {
        set.delete(name.toLowerCase())
        removed.add(name.toLowerCase())
      }
      removeHeader(name)
    }
    recording = true
  })
  await scratch.register(helmet, options)
  scratch.addHook('onRequest', async () => { recording = false })
  scratch.get('/', async () => ({}))
  try {
    await scratch.inject({ url: '/' })
  } finally {
    await scratch.close()
  }
  if (set.size === 0) throw new Error('@fastify/helmet set no header: the security headers would be missing')
  return { set: [...set.values()], removed: [...removed] }
}

export const securityPlugin = globalPlugin<SecurityOptions>('idm-security', async (app, options) => {
  const { set, removed } = await helmetHeaders({
    contentSecurityPolicy: {
      useDefaults: false,
      directives: { defaultSrc: ["'none'"], frameAncestors: ["'none'"], baseUri: ["'none'"], formAction: ["'none'"] }
    },
    // Cross-origin reads are governed by CORS below, not by CORP.
    crossOriginResourcePolicy: options.corsOrigins.length > 0 ? { policy: 'cross-origin' } : { policy: 'same-origin' }
  })
  // On the reply, as any route header: Fastify hands them to the single writeHead with the rest,
  // where raw setHeader calls would make Node validate and store every header twice. A header
  // the route sets later (the /docs and /console CSP) replaces helmet's, as it did before.
  // What helmet removes (X-Powered-By) Node and Fastify never set; removed all the same.
  const headers: Record<string, string | number | string[]> = Object.fromEntries(
    set.map(([name, value]) => [name.toLowerCase(), typeof value === 'object' ? [...value] : value]))
  app.addHook('onRequest', (_request, reply, done) => {
    for (const name of removed) reply.raw.removeHeader(name)
    reply.headers(headers)
    done()
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
