/**
 * Logger options: pino at the configured level, the request id in every line (Fastify binds it
 * as `requestId`), and secrets redacted wherever they appear in a logged object.
 *
 * Why not pino's `redact` with wildcard paths (`*.password`, `*.*.password`, … 28 of them), as
 * before: pino runs a wildcard redactor over every object value of every line, the request lines
 * included (`req`, `res`), which cost about 55 µs per request for the two request lines in a
 * micro-benchmark (bench/analysis.md) — a quarter of a small authenticated read. Instead
 * `formatters.log` walks what a call logged, before pino's serializers: plain objects, arrays
 * and the enumerable fields of errors, at any depth (up to MAX_DEPTH), copying only what holds a
 * secret key. The request and reply objects Fastify logs are not plain objects and are left to
 * their serializers, which never emit headers; the exact header paths stay in pino's redact in
 * case a caller's serializer does. Same censor, same keys, any depth instead of four.
 *
 * RequestLogController: one line per request at info ("request completed", with the request's
 * method, url and remote address beside the status and response time) where Fastify writes two;
 * "incoming request" moves to debug, for tracing a request that never completes.
 */
import { LogController, type FastifyReply, type FastifyRequest, type FastifyServerOptions } from 'fastify'

const SECRET_FIELDS = ['password', 'newPassword', 'currentPassword', 'access_token', 'refresh_token', 'passwordHash', 'authorization', 'cookie',
  'secret', 'mfa_token', 'recoveryCodes', 'sealedSecret', 'codeHashes']
const SECRET = new Set<string>(SECRET_FIELDS)
export const CENSOR = '[REDACTED]'
const MAX_DEPTH = 8

/** Exact paths for pino's redact: headers, should a serializer ever emit them. */
export const REDACT_PATHS: readonly string[] = [
  'req.headers.authorization',
  'req.headers.cookie',
  'res.headers["set-cookie"]'
]

const isPlain = (value: object): boolean => {
  const proto = Object.getPrototypeOf(value) as unknown
  return proto === Object.prototype || proto === null
}

/**
 * `value` with every SECRET_FIELDS key replaced by the censor, at any depth: the same value when
 * there is none (no allocation on the common path), otherwise a copy of what leads to one.
 */
export function scrubSecrets (value: unknown, depth = 0): unknown {
  if (typeof value !== 'object' || value === null || depth > MAX_DEPTH) return value
  if (Array.isArray(value)) {
    let copy: unknown[] | undefined
    for (let i = 0; i < value.length; i++) {
      const item: unknown = value[i]
      const scrubbed = scrubSecrets(item, depth + 1)
      if (scrubbed !== item) (copy ??= value.slice())[i] = scrubbed
    }
    return copy ?? value
  }
  const error = value instanceof Error
  if (!error && !isPlain(value)) return value
  let copy: Record<string, unknown> | undefined
  const record = value as Record<string, unknown>
  for (const key of Object.keys(record)) {
    const item = record[key]
    const scrubbed = SECRET.has(key) ? CENSOR : scrubSecrets(item, depth + 1)
    if (scrubbed === item) continue
    // An error keeps its prototype, message and stack (pino's err serializer needs them).
    copy ??= error
      ? Object.create(Object.getPrototypeOf(value) as object, Object.getOwnPropertyDescriptors(value)) as Record<string, unknown>
      : { ...record }
    copy[key] = scrubbed
  }
  return copy ?? value
}

type LogFormatter = (object: Record<string, unknown>) => Record<string, unknown>

/** `logger` as passed to buildApp: false (silent), true (defaults) or pino options. */
export function loggerOptions (logger: boolean | Record<string, unknown> | undefined, level: string): FastifyServerOptions['logger'] {
  if (logger === false) return false
  const given = logger === true || logger === undefined ? {} : logger
  const redact = given.redact as { paths?: string[] } | string[] | undefined
  const extra = Array.isArray(redact) ? redact : redact?.paths ?? []
  const formatters = (given.formatters ?? {}) as { log?: LogFormatter }
  const theirs = formatters.log
  return {
    level,
    ...given,
    formatters: {
      ...formatters,
      log: (object: Record<string, unknown>) => scrubSecrets(theirs === undefined ? object : theirs(object)) as Record<string, unknown>
    },
    redact: { paths: [...REDACT_PATHS, ...extra], censor: CENSOR },
    serializers: { req: serializeRequest, ...(given.serializers as Record<string, unknown> | undefined) }
  } as FastifyServerOptions['logger']
}

/**
 * The request as logged: the path without its query string (`?email=…`, `?q=…` are personal
 * data), the route pattern, and the names of the query parameters sent.
 */
export function serializeRequest (request: FastifyRequest): Record<string, unknown> {
  const url = request.url
  const mark = url.indexOf('?')
  return {
    method: request.method,
    url: mark === -1 ? url : url.slice(0, mark),
    route: request.routeOptions?.url,
    ...(mark === -1 ? {} : { query: [...new Set(new URLSearchParams(url.slice(mark + 1)).keys())] }),
    remoteAddress: request.ip,
    remotePort: request.socket?.remotePort
  }
}

/** Fastify's request lines, one per request at info (see the file's comment). */
export class RequestLogController extends LogController {
  override incomingRequest (request: FastifyRequest): void {
    if (this.isLogDisabled(request)) return
    request.log.debug({ req: request }, 'incoming request')
  }

  override requestCompleted (error: Error | null | undefined, request: FastifyRequest, reply: FastifyReply): void {
    if (this.isLogDisabled(request)) return
    if (error !== null && error !== undefined) {
      reply.log.error({ req: request, res: reply, err: error, responseTime: reply.elapsedTime }, 'request errored')
    } else {
      reply.log.info({ req: request, res: reply, responseTime: reply.elapsedTime }, 'request completed')
    }
  }
}
