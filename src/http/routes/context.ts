/**
 * What every resource route gets from the composition root, and the two pieces of glue between
 * a request and the write side: the command context (actor, correlation, idempotency) and the
 * read-your-writes wait.
 */
import { createHash } from 'node:crypto'
import type { FastifyReply, FastifyRequest } from 'fastify'
import canonicalize from 'canonicalize'
import { illFormedAt } from '../plugins/validation.js'
import type { CommandContext } from '../../commands/handler.js'
import type { Commands } from '../../commands/deps.js'
import type { MfaDeps } from '../../commands/mfa.js'
import type { OAuthService } from '../../oidc/service.js'
import type { Db } from '../../projections/schema.js'
import { problem } from '../plugins/problems.js'

export interface RouteDeps {
  readonly commands: Commands
  readonly db: Db
  /** Resolves once the local read model has applied `position`; false when the wait timed out. */
  readonly waitFor: (position: number, timeoutMs: number) => Promise<boolean>
  readonly projectionWaitMs: number
  /** Sessions and OAuth tokens (src/oidc/service.ts). */
  readonly oauth: OAuthService
  /** The write side with the operator's secret box, for second factors (src/commands/mfa.ts). */
  readonly mfa: MfaDeps
}

const IDEMPOTENCY_KEY = /^[\x21-\x7e]{1,200}$/

export function commandContext (request: FastifyRequest, deps: RouteDeps): CommandContext {
  const principal = request.principal
  const key = request.headers['idempotency-key']
  const base = {
    actor: principal === null ? { id: null, username: null } : { id: principal.userId, username: principal.username },
    correlationId: request.id,
    commandId: deps.commands.newId()
  }
  if (key === undefined) return base
  if (typeof key !== 'string' || !IDEMPOTENCY_KEY.test(key)) {
    throw problem.badRequest('Idempotency-Key must be 1–200 visible ASCII characters.',
      [{ path: '/headers/idempotency-key', message: 'must be 1-200 visible ASCII characters' }])
  }
  // Scoped to the caller and the exact request: the same key on another request is a new write.
  const scoped = { caller: base.actor.id, method: request.method, url: request.url, body: request.body ?? null }
  // RFC 8785 refuses lone surrogates, which the sign-in body lets through (validation.ts) so that
  // they are its usual 401: such a body is scoped by its JSON text (which escapes them) instead.
  const scope = illFormedAt(scoped, '') === null ? canonicalize(scoped) ?? '' : `ill-formed\0${JSON.stringify(scoped)}`
  return { ...base, idempotencyKey: createHash('sha256').update(key).update('\0').update(scope).digest('hex') }
}

/** The response header that tells a client the log position of its write. */
export const POSITION_HEADER = 'x-idm-position'

/**
 * Read-your-writes: answer a command only once the local read model shows its events. The
 * position goes back in `x-idm-position`, so a client can ask ANOTHER node to wait for it
 * (`x-idm-min-position` on a read).
 */
export async function caughtUp (deps: RouteDeps, position: number | null, reply?: FastifyReply): Promise<void> {
  if (position === null) return
  reply?.header(POSITION_HEADER, String(position))
  if (!(await deps.waitFor(position, deps.projectionWaitMs))) {
    throw problem.unavailable('The write was stored, but the read model has not caught up yet; retry the read shortly.')
  }
}

export const nowIso = (deps: RouteDeps): string => deps.commands.clock().toISOString()

/** Parses `If-Match: "7"`; undefined when absent, `*`, or a 400 when not a strong version tag. */
export function ifMatchVersion (request: FastifyRequest): number | undefined {
  const header = request.headers['if-match']
  if (header === undefined || header === '*') return undefined
  const match = typeof header === 'string' ? /^"(\d{1,15})"$/.exec(header.trim()) : null
  if (match === null) {
    throw problem.badRequest('If-Match must be a strong ETag such as "7".',
      [{ path: '/headers/if-match', message: 'must be a strong ETag such as "7"' }])
  }
  return Number(match[1])
}
