/**
 * Route policy: who may call a route, declared on the route and enforced in one hook.
 *
 * Every route under /v1 must declare `config.auth` (the app refuses to start otherwise):
 *   - `false`: public;
 *   - `{}`: any authenticated user;
 *   - `{ roles: ['identity-auditor'] }`: a user holding one of the roles;
 *   - `{ roles: [...], self: 'params.id' }`: one of the roles, or the user whose id is that
 *     route parameter;
 *   - `enrolment: true` beside any of these: also open to a user who must first enrol a second
 *     factor (every other route refuses that user, src/http/auth/second-factor.ts).
 *   - `{ ..., company: ['company-admin'] }`: also a user holding one of these roles in any
 *     company; the handler then narrows what it sees and changes to those companies
 *     (src/http/auth/scope.ts, src/domain/company-scope.ts; the table: access-table.ts).
 * `identity-admin` passes every role check. The OpenAPI `security` of the route and its 401/403
 * responses are derived from the same declaration (`declareAuth`), so documentation and
 * enforcement cannot drift apart.
 */
import type { RouteOptions } from 'fastify'
import { ADMIN_ROLE } from '../../domain/roles.js'
import { problemResponse } from '../schemas/common.js'
import type { Principal } from './verification.js'

export { ADMIN_ROLE }

export type SelfParam = `params.${string}`

export type RouteAuth =
  | false
  | {
    readonly roles?: readonly string[]
    readonly self?: SelfParam
    /** Also a user holding one of these roles in any company (the handler narrows to those companies). */
    readonly company?: readonly string[]
    /**
     * Open to a user who must enrol a second factor before anything else (src/http/auth/second-factor.ts
     * `mustEnrol`): reading itself, enrolling, signing out. Every other route refuses such a token (403).
     */
    readonly enrolment?: true
  }

export function isAllowed (principal: Principal, policy: Exclude<RouteAuth, false>, params: unknown): boolean {
  if (principal.roles.includes(ADMIN_ROLE)) return true
  const roles = policy.roles ?? []
  if (roles.length === 0 && policy.self === undefined && policy.company === undefined) return true
  if (roles.some((role) => principal.roles.includes(role))) return true
  const company = policy.company ?? []
  if (principal.companyRoles.some(r => company.includes(r.roleId))) return true
  if (policy.self !== undefined) {
    const value = (params as Record<string, unknown> | undefined)?.[policy.self.slice('params.'.length)]
    return typeof value === 'string' && value === principal.userId
  }
  return false
}

/**
 * onRoute: every route under the protected prefix must say who may call it; the declaration
 * becomes the route's OpenAPI `security` and its 401/403 responses. Add it before any route.
 */
export function declareAuth (route: RouteOptions, protectedPrefix: string): void {
  const auth = route.config?.auth
  const where = `${String(route.method)} ${route.url}`
  if (auth === undefined) {
    if (route.url === protectedPrefix || route.url.startsWith(`${protectedPrefix}/`)) {
      throw new Error(`${where} must declare config.auth (false for a public route, or { roles?, self? })`)
    }
    return
  }
  if (auth !== false) {
    if (auth.roles !== undefined && (!Array.isArray(auth.roles) || !auth.roles.every((r) => typeof r === 'string' && r !== ''))) {
      throw new Error(`${where}: config.auth.roles must be an array of role ids`)
    }
    if (auth.company !== undefined && (!Array.isArray(auth.company) || !auth.company.every((r) => typeof r === 'string' && r !== ''))) {
      throw new Error(`${where}: config.auth.company must be an array of role ids`)
    }
    if (auth.self !== undefined && !/^params\.[A-Za-z_][A-Za-z0-9_]*$/.test(auth.self)) {
      throw new Error(`${where}: config.auth.self must name a route parameter, like 'params.id'`)
    }
  }
  const security = auth === false ? [] : [{ bearerAuth: [] }]
  const schema = route.schema ?? {}
  const declared = (schema as { security?: unknown }).security
  if (declared !== undefined && JSON.stringify(declared) !== JSON.stringify(security)) {
    throw new Error(`${where}: schema.security contradicts config.auth; leave it out, it is derived`)
  }
  const response = { ...(schema.response as Record<string, unknown> | undefined) }
  if (auth !== false) response[401] ??= problemResponse(401)
  // 403 also on routes open to any user: a user who must first enrol a second factor gets it.
  if (auth !== false) response[403] ??= problemResponse(403)
  route.schema = { ...schema, security, ...(Object.keys(response).length > 0 ? { response } : {}) } as RouteOptions['schema']
}
