/**
 * Two companies (a, b), a business role, and users in each combination, for the company-scope
 * tests: a real service (openApiService), everything created over the API.
 */
import type { Test } from 'tap'
import { openApiService, type ApiService, type UserView } from '../helpers/api.js'

export const A = 'acme'
export const B = 'globex'

export interface CompanyWorld {
  readonly svc: ApiService
  /** Targets: linked to A, to B, to both, to none, and an identity-admin linked to A. */
  readonly users: { inA: UserView, inB: UserView, inAB: UserView, inNone: UserView, adminInA: UserView }
  /** Makes a user (linked to `companies`) holding `companyRoles` and `roles`; returns it and its token. */
  readonly caller: (spec: { companies?: string[], companyRoles?: [string, string][], roles?: string[] }) => Promise<{ user: UserView, token: string }>
}

export async function openCompanyWorld (t: Test, env: Record<string, string> = {}): Promise<CompanyWorld> {
  const svc = await openApiService(t, env)
  const admin = svc.admin
  for (const [path, body] of [
    ['/v1/companies', { id: A, name: 'Acme' }],
    ['/v1/companies', { id: B, name: 'Globex' }],
    ['/v1/roles', { id: 'dispatcher', name: 'Dispatcher' }],
    ['/v1/providers', { id: 'carrier-x', name: 'Carrier X' }]
  ] as const) {
    const res = await svc.call('POST', path, { token: admin, body })
    if (res.statusCode !== 201) throw new Error(`${path}: ${res.statusCode} ${res.body}`)
  }
  const grant = async (user: UserView, companyId: string, roleId: string): Promise<void> => {
    const res = await svc.call('POST', `/v1/users/${user.id}/roles`, { token: admin, body: { roleId, companyId } })
    if (res.statusCode !== 200) throw new Error(`grant ${roleId}@${companyId}: ${res.statusCode} ${res.body}`)
  }
  const caller: CompanyWorld['caller'] = async ({ companies = [], companyRoles = [], roles = [] }) => {
    const created = await svc.createUser({ companies, roles })
    for (const [companyId, roleId] of companyRoles) await grant(created, companyId, roleId)
    const token = await svc.login(created.username)
    return { user: created, token }
  }
  const users = {
    inA: await svc.createUser({ companies: [A], roles: ['dispatcher'] }),
    inB: await svc.createUser({ companies: [B] }),
    inAB: await svc.createUser({ companies: [A, B] }),
    inNone: await svc.createUser({}),
    adminInA: await svc.createUser({ companies: [A], roles: ['identity-admin'] })
  }
  await grant(users.inAB, B, 'dispatcher')
  return { svc, users, caller }
}
