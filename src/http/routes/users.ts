/** /v1/users: list, read, create, update profile, status and password. */
import type { FastifyPluginAsyncTypebox } from '@fastify/type-provider-typebox'
import type { FastifyReply } from 'fastify'
import { changeOwnPassword, resetPassword } from '../../commands/authentication.js'
import { changeStatus, registerUser, updateProfile } from '../../commands/users.js'
import { normalizeUsername } from '../../domain/identity-values.js'
import { ROLES } from '../../domain/roles.js'
import { getUserById, getUserByUsername, type UserView } from '../../projections/user-queries.js'
import { listUsers } from '../../projections/list-users.js'
import { requireRecentSecondFactor } from '../auth/second-factor.js'
import { problem } from '../plugins/problems.js'
import { Paged, problemResponses } from '../schemas/common.js'
import {
  CreateUserBody, PasswordBody, StatusBody, UpdateProfileBody, User, UserIdParam, UserListQuery, UsernameParam
} from '../schemas/users.js'
import { AsOfQuery } from '../schemas/audit.js'
import { userAsOfView } from './audit.js'
import { caughtUp, commandContext, ifMatchVersion, nowIso, type RouteDeps } from './context.js'
import { COMPANY_ADMINS, COMPANY_READERS, readScope, scopedView, writeAuthority } from '../auth/scope.js'
import type { Principal } from '../auth/verification.js'

const READERS = [ROLES.auditor]
const ADMINS = [ROLES.admin]

/** The user as the caller may see it (itself always), or null: answered as if it did not exist. */
export function visibleUser (principal: Principal, user: UserView | null): UserView | null {
  if (user !== null && user.id === principal.userId) return user
  return scopedView(readScope(principal), user)
}

/** Sends one user with its strong ETag (the stream revision). */
export function sendUser (reply: FastifyReply, user: UserView | null, status = 200): UserView {
  if (user === null) throw problem.notFound('No such user.')
  reply.code(status).header('etag', `"${user.version}"`)
  return user
}

export const usersRoutes: FastifyPluginAsyncTypebox<RouteDeps> = async (app, deps) => {
  const userAfter = async (reply: FastifyReply, principal: Principal, userId: string, position: number | null) => {
    await caughtUp(deps, position, reply)
    return visibleUser(principal, getUserById(deps.db, userId, nowIso(deps)))
  }

  app.get('/users', {
    config: { auth: { roles: READERS, company: COMPANY_READERS } },
    schema: {
      tags: ['users'],
      summary: 'List users (filters combine with AND; keyset pagination by username)',
      querystring: UserListQuery,
      response: { 200: Paged(User) }
    }
  }, async (request) => {
    const { limit, cursor, ...filter } = request.query
    const scope = readScope(request.principal!)
    // Another company's id as a filter would tell who else is linked there: it matches nobody.
    const inCompanies = scope.kind === 'all' ? undefined
      : filter.companyId !== undefined && !scope.companies.includes(filter.companyId) ? [] : scope.companies
    const page = listUsers(deps.db, inCompanies === undefined ? filter : { ...filter, inCompanies },
      { limit: limit ?? 50, ...(cursor === undefined ? {} : { cursor }) }, nowIso(deps))
    return { ...page, items: page.items.map(user => scopedView(scope, user)!) }
  })

  app.get('/users/me', {
    config: { auth: { enrolment: true } },
    schema: { tags: ['users'], summary: 'The authenticated user', response: { 200: User, ...problemResponses(404) } }
  }, async (request, reply) => sendUser(reply, getUserById(deps.db, request.principal!.userId, nowIso(deps))))

  app.get('/users/by-username/:username', {
    config: { auth: { roles: READERS, company: COMPANY_READERS } },
    schema: { tags: ['users'], summary: 'Look a user up by username', params: UsernameParam, querystring: AsOfQuery, response: { 200: User, ...problemResponses(404) } }
  }, async (request, reply) => {
    let username: string
    try {
      username = normalizeUsername(request.params.username)
    } catch {
      throw problem.notFound('No such user.')
    }
    const user = visibleUser(request.principal!, getUserByUsername(deps.db, username, nowIso(deps)))
    const { asOf } = request.query
    return sendUser(reply, asOf === undefined || user === null ? user : await userAsOfView(request, deps, user.id, asOf))
  })

  app.get('/users/:id', {
    config: { auth: { roles: READERS, self: 'params.id', company: COMPANY_READERS } },
    schema: { tags: ['users'], summary: 'Read a user', params: UserIdParam, querystring: AsOfQuery, response: { 200: User, ...problemResponses(404) } }
  }, async (request, reply) => {
    const user = visibleUser(request.principal!, getUserById(deps.db, request.params.id, nowIso(deps)))
    const { asOf } = request.query
    // As of an instant: of a user the caller may see now (a company auditor: linked to its company now).
    if (asOf === undefined || (user === null && readScope(request.principal!).kind !== 'all')) return sendUser(reply, user)
    return sendUser(reply, await userAsOfView(request, deps, request.params.id, asOf))
  })

  app.post('/users', {
    config: { auth: { roles: ADMINS, company: COMPANY_ADMINS } },
    schema: {
      tags: ['users'],
      summary: 'Create a user',
      body: CreateUserBody,
      response: { 201: User, ...problemResponses(409, 422, 503) }
    }
  }, async (request, reply) => {
    const principal = request.principal!
    const authority = writeAuthority(principal)
    const body = { phone: null, ...request.body }
    // A company admin of one company creates its users there unless it names the company.
    if (authority.kind === 'company' && body.companies === undefined && authority.companies.length === 1) body.companies = [...authority.companies]
    const { userId, position } = await registerUser(deps.commands, body, commandContext(request, deps), { authority })
    reply.header('location', `/v1/users/${userId}`)
    return sendUser(reply, await userAfter(reply, principal, userId, position), 201)
  })

  app.put('/users/:id', {
    config: { auth: { roles: ADMINS, company: COMPANY_ADMINS } },
    schema: {
      tags: ['users'],
      summary: 'Replace the profile fields (username, roles, status and password are not part of it)',
      params: UserIdParam,
      body: UpdateProfileBody,
      response: { 200: User, ...problemResponses(404, 409, 412, 422, 503) }
    }
  }, async (request, reply) => {
    const ifMatch = ifMatchVersion(request)
    const authority = writeAuthority(request.principal!)
    const { position } = await updateProfile(deps.commands, request.params.id, { phone: null, ...request.body },
      commandContext(request, deps), ifMatch === undefined ? { authority } : { ifMatch, authority })
    return sendUser(reply, await userAfter(reply, request.principal!, request.params.id, position))
  })

  app.put('/users/:id/status', {
    config: { auth: { roles: ADMINS, company: COMPANY_ADMINS } },
    schema: {
      tags: ['users'],
      summary: 'Activate or deactivate a user (activating also ends a lockout)',
      params: UserIdParam,
      body: StatusBody,
      response: { 200: User, ...problemResponses(404, 409, 422, 503) }
    }
  }, async (request, reply) => {
    const { status, reason } = request.body
    const ctx = commandContext(request, deps)
    const { position } = await changeStatus(deps.commands, request.params.id, status, reason ?? null, ctx, { authority: writeAuthority(request.principal!) })
    // Deactivation ends every session of the user (SessionRevoked), before the answer.
    const ended = position !== null && status === 'inactive' ? await deps.oauth.endAllSessions(request.params.id, 'user_deactivated', ctx) : null
    return sendUser(reply, await userAfter(reply, request.principal!, request.params.id, ended?.position ?? position))
  })

  app.put('/users/:id/password', {
    config: { auth: { roles: ADMINS, self: 'params.id', company: COMPANY_ADMINS } },
    schema: {
      tags: ['users'],
      summary: 'Change one\'s own password (currentPassword required) or, as an admin, reset another user\'s',
      params: UserIdParam,
      body: PasswordBody,
      response: { 204: { type: 'null', description: 'Password changed' }, ...problemResponses(404, 422, 503) }
    }
  }, async (request, reply) => {
    const { newPassword, currentPassword } = request.body
    const ctx = commandContext(request, deps)
    const own = request.params.id === request.principal!.userId
    // Resetting someone else's password takes over their account: a factor within the step-up window.
    if (!own) requireRecentSecondFactor(app.secondFactor, request.principal!, deps.commands.clock().getTime())
    if (own && currentPassword === undefined) {
      throw problem.badRequest('Changing your own password needs currentPassword.',
        [{ path: '/body/currentPassword', message: 'is required to change your own password' }])
    }
    const { position } = own
      ? await changeOwnPassword(deps.commands, request.params.id, { currentPassword: currentPassword!, newPassword }, ctx)
      : await resetPassword(deps.commands, request.params.id, newPassword, ctx, { authority: writeAuthority(request.principal!) })
    // A new password ends every session of the user (SessionRevoked), before the answer.
    const ended = await deps.oauth.endAllSessions(request.params.id, own ? 'password_changed' : 'password_reset', ctx)
    await caughtUp(deps, ended.position ?? position, reply)
    return reply.code(204).send(null)
  })
}
