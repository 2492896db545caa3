/**
 * The audit trail: a user's history (its own and its authentication events) and the hash-chain
 * check over the whole log. Readers: identity-admin and identity-auditor. The event-log reads
 * live in src/audit; these handlers only translate.
 */
import type { FastifyPluginAsyncTypebox } from '@fastify/type-provider-typebox'
import type { FastifyRequest } from 'fastify'
import { instantMs, userAsOf } from '../../audit/as-of.js'
import { userHistory } from '../../audit/history.js'
import { verifyLog, type VerifyResult } from '../../audit/verify.js'
import { getUserById, type UserView } from '../../projections/user-queries.js'
import { isAllowed } from '../auth/policy.js'
import { COMPANY_READERS, readScope, scopedEventData, scopedView } from '../auth/scope.js'
import { problem } from '../plugins/problems.js'
import { HistoryItem, PageQuery, VerifyResponse } from '../schemas/audit.js'
import { Paged, problemResponses } from '../schemas/common.js'
import { UserIdParam } from '../schemas/users.js'
import { nowIso, type RouteDeps } from './context.js'
import { ROLES } from '../../domain/roles.js'

export const AUDITORS = [ROLES.auditor]

/** `after` and its alias `cursor` (the generic list convention); 400 when they disagree. */
export function pagePosition (query: { after?: number, cursor?: number }): number {
  const { after, cursor } = query
  if (after !== undefined && cursor !== undefined && after !== cursor) {
    throw problem.badRequest('after and cursor are the same parameter; send one.',
      [{ path: '/query/cursor', message: 'must equal after when both are sent' }])
  }
  return after ?? cursor ?? 0
}

/**
 * `GET /v1/users/{id}?asOf=` and `/v1/users/by-username/{username}?asOf=`: the user folded from
 * the log as it was at that instant (null: it did not exist yet). An audit read: identity-admin
 * and identity-auditor only, even for a user reading itself.
 */
export async function userAsOfView (request: FastifyRequest, deps: RouteDeps, userId: string, asOf: string): Promise<UserView | null> {
  if (request.principal === null || !isAllowed(request.principal, { roles: AUDITORS, company: COMPANY_READERS }, {})) {
    throw problem.forbidden('Reading a user as of an instant needs identity-auditor, identity-admin, or company-auditor/company-admin of its company.')
  }
  if (Number.isNaN(instantMs(asOf))) {
    throw problem.badRequest('asOf must be an RFC 3339 instant.', [{ path: '/query/asOf', message: 'must be an RFC 3339 date-time' }])
  }
  return scopedView(readScope(request.principal), await userAsOf(deps.commands.store, userId, asOf, nowIso(deps)))
}

export const auditRoutes: FastifyPluginAsyncTypebox<RouteDeps> = async (app, deps) => {
  const store = deps.commands.store

  app.get('/users/:id/history', {
    config: { auth: { roles: AUDITORS, company: COMPANY_READERS } },
    schema: {
      tags: ['audit'],
      summary: 'The user\'s events (its own and its authentication events), oldest first by position, secrets redacted',
      params: UserIdParam,
      querystring: PageQuery,
      response: { 200: Paged(HistoryItem), ...problemResponses(404) }
    }
  }, async (request) => {
    const scope = readScope(request.principal!)
    // A company-scoped reader: users linked to its companies now, else as if there were none.
    if (scope.kind === 'companies' && scopedView(scope, getUserById(deps.db, request.params.id, nowIso(deps))) === null) {
      throw problem.notFound('No such user.')
    }
    const page = await userHistory(store, request.params.id, { after: pagePosition(request.query), limit: request.query.limit ?? 50 })
    if (page === null) throw problem.notFound('No such user.')
    if (scope.kind === 'all') return page
    const items = page.items.flatMap(item => {
      const data = scopedEventData(scope, item.type, item.data as Record<string, unknown>)
      return data === null ? [] : [{ ...item, data }]
    })
    return { ...page, items }
  })

  // One check at a time: concurrent requests share the running one instead of each reading
  // the whole log.
  let running: Promise<VerifyResult> | undefined
  app.get('/audit/verify', {
    config: { auth: { roles: AUDITORS } },
    schema: {
      tags: ['audit'],
      summary: 'Check every stream\'s hash chain over the whole log',
      response: { 200: VerifyResponse }
    }
  }, async () => {
    running ??= verifyLog(store).finally(() => { running = undefined })
    const { ok, streams, events, brokenLinks, truncated } = await running
    return ok ? { ok, streams, events } : { ok, streams, events, brokenLinks, ...(truncated ? { truncated } : {}) }
  })
}
