/**
 * /v1/users/{id}/sessions: a user's sessions (live first, then recently ended, with why), and
 * signing one or all of them out. Readable by identity-admin, identity-auditor and the user
 * itself; ending them by identity-admin and the user itself. Ending a session is immediate: its
 * access tokens are refused on the next request and its refresh token stops working.
 */
import type { FastifyPluginAsyncTypebox } from '@fastify/type-provider-typebox'
import Type from 'typebox'
import { getSession, listUserSessions } from '../../projections/sessions.js'
import { getUserById } from '../../projections/user-queries.js'
import { problem } from '../plugins/problems.js'
import { Uuid, problemResponses } from '../schemas/common.js'
import { caughtUp, commandContext, nowIso, type RouteDeps } from './context.js'
import { ROLES } from '../../domain/roles.js'

const Nullable = <T extends Parameters<typeof Type.Union>[0][number]>(t: T) => Type.Union([t, Type.Null()])

export const Session = Type.Object({
  id: Uuid,
  userId: Uuid,
  clientId: Type.String({ description: 'The OAuth client signed in to (idm-api for POST /v1/authentication)' }),
  amr: Type.Array(Type.String(), { description: 'Authentication methods (RFC 8176), e.g. ["pwd"]' }),
  clientAddress: Nullable(Type.String()),
  userAgent: Nullable(Type.String()),
  status: Type.Union([Type.Literal('active'), Type.Literal('ended')]),
  endReason: Nullable(Type.String({ description: 'sign_out, deleted, token_revoked, refresh_token_reuse, authorization_code_reuse, user_deactivated, password_changed, password_reset, credentials_changed or expired' })),
  startedAt: Type.String({ format: 'date-time' }),
  lastRefreshedAt: Nullable(Type.String({ format: 'date-time' })),
  idleExpiresAt: Type.String({ format: 'date-time' }),
  expiresAt: Type.String({ format: 'date-time' }),
  endedAt: Nullable(Type.String({ format: 'date-time' }))
}, { additionalProperties: false })

const UserParam = Type.Object({ id: Uuid }, { additionalProperties: false })
const SessionParam = Type.Object({ id: Uuid, sessionId: Uuid }, { additionalProperties: false })

export const sessionsRoutes: FastifyPluginAsyncTypebox<RouteDeps> = async (app, deps) => {
  const requireUser = (id: string): void => {
    if (getUserById(deps.db, id, nowIso(deps)) === null) throw problem.notFound('No such user.')
  }

  app.get('/users/:id/sessions', {
    config: { auth: { roles: [ROLES.auditor], self: 'params.id' } },
    schema: {
      tags: ['sessions'],
      summary: "A user's sessions: live ones first, then the 50 most recent in all",
      params: UserParam,
      response: { 200: Type.Object({ items: Type.Array(Session), nextCursor: Type.Null() }), ...problemResponses(404) }
    }
  }, async (request) => {
    requireUser(request.params.id)
    return { items: listUserSessions(deps.db, request.params.id, nowIso(deps)), nextCursor: null }
  })

  app.delete('/users/:id/sessions/:sessionId', {
    config: { auth: { self: 'params.id', enrolment: true } },
    schema: { tags: ['sessions'], summary: 'Sign one session out (idempotent)', params: SessionParam, response: { 204: Type.Null(), ...problemResponses(404, 503) } }
  }, async (request, reply) => {
    const { id, sessionId } = request.params
    const session = getSession(deps.db, sessionId, nowIso(deps))
    if (session === null || session.userId !== id) throw problem.notFound('No such session.')
    const ended = await deps.oauth.endSession(id, sessionId, 'deleted', commandContext(request, deps))
    await caughtUp(deps, ended.position, reply)
    reply.code(204)
  })

  app.delete('/users/:id/sessions', {
    config: { auth: { self: 'params.id', enrolment: true } },
    schema: { tags: ['sessions'], summary: 'Sign every session of the user out', params: UserParam, response: { 204: Type.Null(), ...problemResponses(404, 503) } }
  }, async (request, reply) => {
    requireUser(request.params.id)
    const ended = await deps.oauth.endAllSessions(request.params.id, 'deleted', commandContext(request, deps))
    await caughtUp(deps, ended.position, reply)
    reply.code(204)
  })
}
