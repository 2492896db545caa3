/**
 * /v1/users/{id}/roles|companies|providers: assign and remove. Idempotent: assigning what the
 * user has, or removing what it lacks, succeeds and appends nothing.
 */
import type { FastifyPluginAsyncTypebox } from '@fastify/type-provider-typebox'
import type { FastifyReply } from 'fastify'
import {
  assignCompanyRole, assignRole, linkCompany, linkProvider, revokeCompanyRole, revokeRole, unlinkCompany, unlinkProvider, type WriteResult
} from '../../commands/users.js'
import { getUserById } from '../../projections/user-queries.js'
import { problemResponses } from '../schemas/common.js'
import {
  CompanyBody, ProviderBody, RoleBody, RoleRemoveQuery, User, UserCompanyParams, UserIdParam, UserProviderParams, UserRoleParams
} from '../schemas/users.js'
import { caughtUp, commandContext, nowIso, type RouteDeps } from './context.js'
import { sendUser, visibleUser } from './users.js'
import { ROLES } from '../../domain/roles.js'
import { requireRecentSecondFactor } from '../auth/second-factor.js'
import { COMPANY_ADMINS, writeAuthority } from '../auth/scope.js'
import type { FastifyRequest } from 'fastify'

const ADMINS = { auth: { roles: [ROLES.admin] } }
/** Roles and company links: company admins too, within their companies (src/domain/company-scope.ts). */
const SCOPED_ADMINS = { auth: { roles: [ROLES.admin], company: COMPANY_ADMINS } }
const scoped = (request: FastifyRequest) => ({ authority: writeAuthority(request.principal!) })
const assignResponses = { 200: User, ...problemResponses(404, 409, 422, 503) }
const removeResponses = { 204: { type: 'null', description: 'Removed (or was not there)' }, ...problemResponses(404, 409, 422, 503) }

export const userAssociationsRoutes: FastifyPluginAsyncTypebox<RouteDeps> = async (app, deps) => {
  const answerWithUser = async (request: FastifyRequest, reply: FastifyReply, userId: string, write: Promise<WriteResult>) => {
    await caughtUp(deps, (await write).position, reply)
    return visibleUser(request.principal!, getUserById(deps.db, userId, nowIso(deps)))
  }
  const answerEmpty = async (reply: FastifyReply, write: Promise<WriteResult>) => {
    await caughtUp(deps, (await write).position, reply)
    return null
  }

  app.post('/users/:id/roles', {
    config: SCOPED_ADMINS,
    schema: {
      tags: ['user roles'],
      summary: 'Assign a role: globally, or with companyId in that company (the user must be linked to it)',
      params: UserIdParam,
      body: RoleBody,
      response: assignResponses
    }
  }, async (request, reply) => {
    const { roleId, companyId } = request.body
    const { id } = request.params
    // Making an administrator is the most powerful write there is: a factor within the step-up window.
    if (roleId === ROLES.admin && companyId === undefined) requireRecentSecondFactor(app.secondFactor, request.principal!, deps.commands.clock().getTime())
    const ctx = commandContext(request, deps)
    return sendUser(reply, await answerWithUser(request, reply, id, companyId === undefined
      ? assignRole(deps.commands, id, roleId, ctx, scoped(request))
      : assignCompanyRole(deps.commands, id, companyId, roleId, ctx, scoped(request))))
  })

  app.delete('/users/:id/roles/:roleId', {
    config: SCOPED_ADMINS,
    schema: {
      tags: ['user roles'],
      summary: 'Remove a role: the global one, or with ?companyId= the one held in that company',
      params: UserRoleParams,
      querystring: RoleRemoveQuery,
      response: removeResponses
    }
  }, async (request, reply) => {
    const { id, roleId } = request.params
    const { companyId } = request.query
    const ctx = commandContext(request, deps)
    return reply.code(204).send(await answerEmpty(reply, companyId === undefined
      ? revokeRole(deps.commands, id, roleId, ctx, scoped(request))
      : revokeCompanyRole(deps.commands, id, companyId, roleId, ctx, scoped(request))))
  })

  app.post('/users/:id/companies', {
    config: SCOPED_ADMINS,
    schema: { tags: ['user companies'], summary: 'Link a company', params: UserIdParam, body: CompanyBody, response: assignResponses }
  }, async (request, reply) => sendUser(reply, await answerWithUser(request, reply, request.params.id,
    linkCompany(deps.commands, request.params.id, request.body.companyId, commandContext(request, deps), scoped(request)))))

  app.delete('/users/:id/companies/:companyId', {
    config: SCOPED_ADMINS,
    schema: {
      tags: ['user companies'],
      summary: 'Unlink a company (also removes the roles the user holds there)',
      params: UserCompanyParams,
      response: removeResponses
    }
  }, async (request, reply) => reply.code(204).send(await answerEmpty(reply,
    unlinkCompany(deps.commands, request.params.id, request.params.companyId, commandContext(request, deps), scoped(request)))))

  app.post('/users/:id/providers', {
    config: ADMINS,
    schema: {
      tags: ['user providers'],
      summary: 'Link an external provider (again with another externalUserId to change it)',
      params: UserIdParam,
      body: ProviderBody,
      response: assignResponses
    }
  }, async (request, reply) => sendUser(reply, await answerWithUser(request, reply, request.params.id,
    linkProvider(deps.commands, request.params.id, request.body.providerId, request.body.externalUserId ?? null, commandContext(request, deps)))))

  app.delete('/users/:id/providers/:providerId', {
    config: ADMINS,
    schema: { tags: ['user providers'], summary: 'Unlink a provider', params: UserProviderParams, response: removeResponses }
  }, async (request, reply) => reply.code(204).send(await answerEmpty(reply,
    unlinkProvider(deps.commands, request.params.id, request.params.providerId, commandContext(request, deps)))))
}
