/**
 * The one error handler: every failure leaves as RFC 9457 `application/problem+json`
 * `{ type, title, status, detail }` (+ extension members), with no stack trace or internal
 * message. Unknown errors are a 500 with a generic detail; the full error goes to the log.
 */
import { STATUS_CODES } from 'node:http'
import type { FastifyError, FastifyReply, FastifyRequest } from 'fastify'
import { PROBLEM_CONTENT_TYPE } from '../schemas/common.js'
import { GENERIC, PROBLEM_TYPE_BASE, mapKnownError, type ErrorMapper, type ProblemInit } from './error-map.js'
import { globalPlugin } from './global.js'

export { PROBLEM_TYPE_BASE, type ErrorMapper, type ProblemInit } from './error-map.js'

/** An error that already knows its HTTP meaning. Throw it from routes and hooks. */
export class HttpProblem extends Error {
  constructor (readonly problem: ProblemInit) {
    super(problem.detail ?? GENERIC[problem.status]?.detail ?? `HTTP ${problem.status}`)
    this.name = 'HttpProblem'
  }
}

export interface Issue { readonly path: string, readonly message: string }

/** Factories for the problems routes raise themselves. */
export const problem = {
  badRequest: (detail: string, errors?: readonly Issue[]) =>
    new HttpProblem({ status: 400, detail, ...(errors === undefined ? {} : { extensions: { errors } }) }),
  forbidden: (detail = GENERIC[403]!.detail) => new HttpProblem({ status: 403, detail }),
  notFound: (detail = GENERIC[404]!.detail) => new HttpProblem({ status: 404, detail }),
  conflict: (detail = GENERIC[409]!.detail) => new HttpProblem({ status: 409, detail }),
  preconditionFailed: (detail = GENERIC[412]!.detail) => new HttpProblem({ status: 412, detail }),
  unprocessable: (detail: string, extensions?: Record<string, unknown>) =>
    new HttpProblem({ status: 422, detail, ...(extensions === undefined ? {} : { extensions }) }),
  tooManyRequests: (retryAfterSeconds: number) => new HttpProblem({
    status: 429, headers: { 'retry-after': String(Math.max(1, Math.ceil(retryAfterSeconds))) }
  }),
  unavailable: (detail = GENERIC[503]!.detail, retryAfterSeconds = 5) =>
    new HttpProblem({ status: 503, detail, headers: { 'retry-after': String(retryAfterSeconds) } })
}

const RESERVED = new Set(['type', 'title', 'status', 'detail'])

const PART: Readonly<Record<string, string>> = { body: '/body', querystring: '/query', params: '/params', headers: '/headers' }

/** Fastify's own errors, by code. */
function mapFrameworkError (error: FastifyError): ProblemInit | undefined {
  if (Array.isArray(error.validation)) {
    const prefix = PART[error.validationContext ?? ''] ?? ''
    const errors = error.validation.map((v) => ({ path: `${prefix}${v.instancePath}`, message: v.message ?? 'is invalid' }))
    return { status: 400, slug: 'validation', title: 'Invalid request', detail: 'The request does not match the schema; see errors.', extensions: { errors } }
  }
  switch (error.code) {
    case 'FST_ERR_CTP_INVALID_MEDIA_TYPE':
    case 'FST_ERR_CTP_INVALID_TYPE':
    case 'FST_ERR_CTP_EMPTY_TYPE':
      return { status: 415 }
    case 'FST_ERR_CTP_BODY_TOO_LARGE':
      return { status: 413 }
    case 'FST_ERR_CTP_INVALID_CONTENT_LENGTH':
      return { status: 400, detail: 'The Content-Length does not match the body.' }
    case 'FST_ERR_CTP_EMPTY_JSON_BODY':
    case 'FST_ERR_CTP_INVALID_JSON_BODY':
      return malformedBody('is not valid JSON')
    case 'FST_JWT_NO_AUTHORIZATION_IN_HEADER':
      return unauthorized('Bearer')
  }
  if (typeof error.code === 'string' && (error.code.startsWith('FST_JWT_') || error.code.startsWith('FAST_JWT_'))) {
    return unauthorized('Bearer error="invalid_token"')
  }
  return undefined
}

export const malformedBody = (message: string): ProblemInit => ({
  status: 400,
  slug: 'malformed-body',
  title: 'Malformed request body',
  detail: `The request body ${message}.`,
  extensions: { errors: [{ path: '/body', message }] }
})

export const unauthorized = (challenge: string, detail = GENERIC[401]!.detail): ProblemInit =>
  ({ status: 401, detail, headers: { 'www-authenticate': challenge } })

export interface ResolvedProblem {
  readonly status: number
  readonly body: Record<string, unknown>
  readonly headers: Readonly<Record<string, string>>
  /** Whether the error was expected (mapped) or is a bug/outage to log in full. */
  readonly expected: boolean
}

export function resolveProblem (error: unknown, mappers: readonly ErrorMapper[] = []): ResolvedProblem {
  let init: ProblemInit | undefined = error instanceof HttpProblem ? error.problem : undefined
  for (const mapper of mappers) init ??= mapper(error)
  init ??= mapKnownError(error)
  if (init === undefined && error instanceof Error) init = mapFrameworkError(error as FastifyError)
  if (init === undefined) {
    const status = statusOf(error)
    if (status !== undefined && status < 500) init = { status }
  }
  const expected = init !== undefined && init.status < 500
  init ??= { status: 500 }
  // A status without an entry of its own gets RFC 9457's about:blank and the status phrase.
  const generic = GENERIC[init.status]
  const fallback = GENERIC[init.status < 500 ? 400 : 500]!
  return {
    status: init.status,
    body: {
      type: init.slug !== undefined ? `${PROBLEM_TYPE_BASE}${init.slug}` : generic !== undefined ? `${PROBLEM_TYPE_BASE}${generic.slug}` : 'about:blank',
      title: init.title ?? generic?.title ?? STATUS_CODES[init.status] ?? fallback.title,
      status: init.status,
      detail: init.detail ?? generic?.detail ?? fallback.detail,
      ...Object.fromEntries(Object.entries(init.extensions ?? {}).filter(([k]) => !RESERVED.has(k)))
    },
    headers: init.headers ?? {},
    expected
  }
}

function statusOf (error: unknown): number | undefined {
  if (error === null || typeof error !== 'object') return undefined
  const status = (error as { statusCode?: unknown }).statusCode ?? (error as { status?: unknown }).status
  return typeof status === 'number' && Number.isInteger(status) && status >= 400 && status <= 599 ? status : undefined
}

export function sendProblem (reply: FastifyReply, resolved: ResolvedProblem): FastifyReply {
  for (const [name, value] of Object.entries(resolved.headers)) reply.header(name, value)
  return reply.code(resolved.status).type(PROBLEM_CONTENT_TYPE).send(resolved.body)
}

function logProblem (request: FastifyRequest, error: unknown, resolved: ResolvedProblem): void {
  if (error instanceof HttpProblem && resolved.status >= 500) {
    // Raised on purpose (the read model still catching up): worth a warning, not a stack.
    request.log.warn({ status: resolved.status, detail: error.message }, 'request deferred')
  } else if (!resolved.expected) {
    request.log.error({ err: error }, 'request failed')
  } else if (resolved.status !== 404) {
    const code = (error as { code?: unknown } | null)?.code
    request.log.info({ status: resolved.status, code, type: resolved.body.type }, 'request refused')
  }
}

export interface ProblemsOptions { readonly mappers?: readonly ErrorMapper[] }

export const problemsPlugin = globalPlugin<ProblemsOptions>('idm-problems', async (app, options) => {
  const mappers = options.mappers ?? []
  app.setErrorHandler((error, request, reply) => {
    const resolved = resolveProblem(error, mappers)
    logProblem(request, error, resolved)
    return sendProblem(reply, resolved)
  })
  app.setNotFoundHandler((_request, reply) => sendProblem(reply, resolveProblem(new HttpProblem({ status: 404 }))))
})

/** Fastify's `frameworkErrors` option: errors raised before routing (bad URL, bad headers). */
export function frameworkErrors (error: FastifyError, request: FastifyRequest, reply: FastifyReply): void {
  const resolved = resolveProblem(error)
  logProblem(request, error, resolved)
  reply.header('x-request-id', request.id)
  void sendProblem(reply, resolved)
}
