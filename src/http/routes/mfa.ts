/**
 * /v1/users/{id}/mfa: a user's second factors. Enrolling is the user's own business (the secret
 * is shown to whoever enrols, so nobody enrols for someone else); removing a factor is the user's,
 * or an identity-admin's with a recent second factor (step-up), which also ends every session of
 * the user. Secrets and recovery codes are in a response once, at enrolment, never again.
 */
import type { FastifyPluginAsyncTypebox } from '@fastify/type-provider-typebox'
import type { FastifyRequest } from 'fastify'
import Type from 'typebox'
import { confirmTotp, listFactors, regenerateRecoveryCodes, removeTotp, resetFactors, startTotpEnrolment } from '../../commands/mfa.js'
import { ROLES } from '../../domain/roles.js'
import { getUserById } from '../../projections/user-queries.js'
import { requireRecentSecondFactor } from '../auth/second-factor.js'
import { problem } from '../plugins/problems.js'
import { Uuid, problemResponses } from '../schemas/common.js'
import { caughtUp, commandContext, nowIso, type RouteDeps } from './context.js'

const UserParam = Type.Object({ id: Uuid }, { additionalProperties: false })

const TotpEnrolment = Type.Object({
  secret: Type.String({ description: 'Base32 (RFC 4648), for typing into an authenticator app; shown this once' }),
  uri: Type.String({ description: 'otpauth://totp/… for a QR code: SHA1, 6 digits, 30 s' })
}, { additionalProperties: false })

const RecoveryCodes = Type.Array(Type.String(), { description: 'Ten single-use codes, shown this once: keep them somewhere safe' })

const Confirmed = Type.Object({
  recoveryCodes: Type.Union([RecoveryCodes, Type.Null()], { description: 'New recovery codes when the user had none; null otherwise' })
}, { additionalProperties: false })

const Factor = Type.Object({
  kind: Type.Union([Type.Literal('totp'), Type.Literal('recovery_codes')]),
  name: Type.String(),
  status: Type.Union([Type.Literal('pending'), Type.Literal('active')]),
  addedAt: Type.String({ format: 'date-time' }),
  lastUsedAt: Type.Union([Type.String({ format: 'date-time' }), Type.Null()]),
  remaining: Type.Optional(Type.Integer({ minimum: 0, description: 'Recovery codes left' }))
}, { additionalProperties: false })

const CodeBody = Type.Object({ code: Type.String({ minLength: 1, maxLength: 16 }) }, { additionalProperties: false })

export const mfaRoutes: FastifyPluginAsyncTypebox<RouteDeps> = async (app, deps) => {
  const ownOnly = (request: FastifyRequest): void => {
    if (request.principal!.userId !== (request.params as { id: string }).id) throw problem.forbidden('Only the user can enrol their own factors.')
  }
  const userOf = (id: string) => {
    const user = getUserById(deps.db, id, nowIso(deps))
    if (user === null) throw problem.notFound('No such user.')
    return user
  }

  app.get('/users/:id/mfa', {
    config: { auth: { roles: [ROLES.auditor], self: 'params.id', enrolment: true } },
    schema: {
      tags: ['mfa'],
      summary: "The user's second factors: kind, name, added, last used (never a secret)",
      params: UserParam,
      response: { 200: Type.Object({ items: Type.Array(Factor) }, { additionalProperties: false }), ...problemResponses(404) }
    }
  }, async (request) => {
    userOf(request.params.id)
    return { items: await listFactors(deps.commands, request.params.id) }
  })

  app.post('/users/:id/mfa/totp', {
    config: { auth: { self: 'params.id', enrolment: true } },
    schema: {
      tags: ['mfa'],
      summary: 'Start enrolling a TOTP authenticator: the secret and its otpauth:// URI, once',
      description: 'Confirm with POST /v1/users/{id}/mfa/totp/verify and the first code. Starting again replaces an unconfirmed enrolment; an enrolled authenticator must be removed first (409).',
      params: UserParam,
      response: { 201: TotpEnrolment, ...problemResponses(404, 409, 503) }
    }
  }, async (request, reply) => {
    ownOnly(request)
    const user = userOf(request.params.id)
    const enrolment = await startTotpEnrolment(deps.mfa, { userId: user.id, username: user.username }, commandContext(request, deps))
    await caughtUp(deps, enrolment.position, reply)
    reply.code(201).header('cache-control', 'no-store')
    return { secret: enrolment.secret, uri: enrolment.uri }
  })

  app.post('/users/:id/mfa/totp/verify', {
    config: { auth: { self: 'params.id', enrolment: true } },
    schema: {
      tags: ['mfa'],
      summary: 'Confirm the TOTP enrolment with the first code (the first factor also gets ten recovery codes)',
      params: UserParam,
      body: CodeBody,
      response: { 200: Confirmed, ...problemResponses(404, 409, 422, 503) }
    }
  }, async (request, reply) => {
    ownOnly(request)
    userOf(request.params.id)
    const confirmed = await confirmTotp(deps.mfa, request.params.id, request.body.code, commandContext(request, deps))
    await caughtUp(deps, confirmed.position, reply)
    reply.header('cache-control', 'no-store')
    return { recoveryCodes: confirmed.recoveryCodes }
  })

  app.delete('/users/:id/mfa/totp', {
    config: { auth: { self: 'params.id', enrolment: true } },
    schema: {
      tags: ['mfa'],
      summary: 'Remove the TOTP authenticator (and the recovery codes that stand in for it)',
      description: 'The user, or an identity-admin with a recent second factor (step-up). An admin\'s removal ends every session of the user.',
      params: UserParam,
      response: { 204: Type.Null(), ...problemResponses(404, 503) }
    }
  }, async (request, reply) => {
    const { id } = request.params
    const own = request.principal!.userId === id
    if (!own) requireRecentSecondFactor(app.secondFactor, request.principal!, deps.commands.clock().getTime())
    userOf(id)
    const ctx = commandContext(request, deps)
    const position = await removeTotp(deps.commands, id, ctx)
    const ended = own ? null : await deps.oauth.endAllSessions(id, 'credentials_changed', ctx)
    await caughtUp(deps, ended?.position ?? position, reply)
    return reply.code(204).send(null)
  })

  app.post('/users/:id/mfa/recovery-codes', {
    config: { auth: { self: 'params.id', enrolment: true } },
    schema: {
      tags: ['mfa'],
      summary: 'Ten new recovery codes, shown once; the earlier ones stop working',
      params: UserParam,
      response: { 201: Type.Object({ recoveryCodes: RecoveryCodes }, { additionalProperties: false }), ...problemResponses(404, 503) }
    }
  }, async (request, reply) => {
    ownOnly(request)
    userOf(request.params.id)
    const { recoveryCodes, position } = await regenerateRecoveryCodes(deps.commands, request.params.id, commandContext(request, deps))
    await caughtUp(deps, position, reply)
    reply.code(201).header('cache-control', 'no-store')
    return { recoveryCodes }
  })

  app.delete('/users/:id/mfa', {
    config: { auth: { roles: [ROLES.admin] } },
    schema: {
      tags: ['mfa'],
      summary: 'Reset: remove every second factor of the user and end every session (identity-admin, step-up)',
      description: 'For a user who lost their authenticator and recovery codes. The user signs in with the password alone again, and must enrol again if their role requires a factor.',
      params: UserParam,
      response: { 204: Type.Null(), ...problemResponses(404, 503) }
    }
  }, async (request, reply) => {
    const { id } = request.params
    if (request.principal!.userId !== id) requireRecentSecondFactor(app.secondFactor, request.principal!, deps.commands.clock().getTime())
    userOf(id)
    const ctx = commandContext(request, deps)
    const position = await resetFactors(deps.commands, id, ctx)
    const ended = await deps.oauth.endAllSessions(id, 'credentials_changed', ctx)
    await caughtUp(deps, ended.position ?? position, reply)
    return reply.code(204).send(null)
  })
}
