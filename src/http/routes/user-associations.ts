/**
 * /v1/users/{id}/roles|companies|providers: assign and remove. Idempotent: assigning what the
 * user has, or removing what it lacks, succeeds and appends nothing.
 */
import type { FastifyPluginAsyncTypebox } from '@fastify/type-provider-typebox'
import type { FastifyReply } from 'fastify'
import { assignRole, linkCompany, linkProvider, revokeRole, unlinkCompany, unlinkProvider, type WriteResult } from '../../commands/users.js'
import { getUserById } from '../../projections/user-queries.js'
import { problemResponses } from '../schemas/common.js'
import {
  CompanyBody, ProviderBody, RoleBody, User, UserCompanyParams, UserIdParam, UserProviderParams, UserRoleParams
} from '../schemas/users.js'
import { caughtUp, commandContext, nowIso, type RouteDeps } from './context.js'
import { sendUser } from './users.js'
import { ROLES } from '../../domain/roles.js'
import { requireRecentSecondFactor } from '../auth/second-factor.js'

const ADMINS = { auth: { roles: [ROLES.admin] } }
const assignResponses = { 200: User, ...problemResponses(404, 409, 422, 503) }
const removeResponses = { 204: { type: 'null', description: 'Removed (or was not there)' }, ...problemResponses(404, 409, 422, 503) }

export const userAssociationsRoutes: FastifyPluginAsyncTypebox<RouteDeps> = async (app, deps) => {
  const answerWithUser = async (reply: FastifyReply, userId: string, write: Promise<WriteResult>) => {
    await caughtUp(deps, (await write).position, reply)
    return getUserById(deps.db, userId, nowIso(deps))
  }
  const answerEmpty = async (reply: FastifyReply, write: Promise<WriteResult>) => {
    await caughtUp(deps, (await write).position, reply)
    return null
  }

  app.post('/users/:id/roles', {
    config: ADMINS,
    schema: { tags: ['user roles'], summary: 'Assign a role (identity-admin needs a recent second factor: step-up)', params: UserIdParam, body: RoleBody, response: assignResponses }
  }, async (request, reply) => {
    // Making an administrator is the most powerful write there is: a factor within the step-up window.
    if (request.body.roleId === ROLES.admin) requireRecentSecondFactor(app.secondFactor, request.principal!, deps.commands.clock().getTime())
    return sendUser(reply, await answerWithUser(reply, request.params.id,
      assignRole(deps.commands, request.params.id, request.body.roleId, commandContext(request, deps))))
  })

  app.delete('/users/:id/roles/:roleId', {
    config: ADMINS,
    schema: { tags: ['user roles'], summary: 'Remove a role', params: UserRoleParams, response: removeResponses }
  }, async (request, reply) => reply.code(204).send(await answerEmpty(reply,
    revokeRole(deps.commands, request.params.id, request.params.roleId, commandContext(request, deps)))))

  app.post('/users/:id/companies', {
    config: ADMINS,
    schema: { tags: ['user companies'], summary: 'Link a company', params: UserIdParam, body: CompanyBody, response: assignResponses }
  }, async (request, reply) => sendUser(reply, await answerWithUser(reply, request.params.id,
    linkCompany(deps.commands, request.params.id, request.body.companyId, commandContext(request, deps)))))

  app.delete('/users/:id/companies/:companyId', {
    config: ADMINS,
    schema: { tags: ['user companies'], summary: 'Unlink a company', params: UserCompanyParams, response: removeResponses }
  }, async (request, reply) => reply.code(204).send(await answerEmpty(reply,
    unlinkCompany(deps.commands, request.params.id, request.params.companyId, commandContext(request, deps)))))

  app.post('/users/:id/providers', {
    config: ADMINS,
    schema: {
      tags: ['user providers'],
      summary: 'Link an external provider (again with another externalUserId to change it)',
      params: UserIdParam,
      body: ProviderBody,
      response: assignResponses
    }
  }, async (request, reply) => sendUser(reply, await answerWithUser(reply, request.params.id,
    linkProvider(deps.commands, request.params.id, request.body.providerId, request.body.externalUserId ?? null, commandContext(request, deps)))))

  app.delete('/users/:id/providers/:providerId', {
    config: ADMINS,
    schema: { tags: ['user providers'], summary: 'Unlink a provider', params: UserProviderParams, response: removeResponses }
  }, async (request, reply) => reply.code(204).send(await answerEmpty(reply,
    unlinkProvider(deps.commands, request.params.id, request.params.providerId, commandContext(request, deps)))))
}
