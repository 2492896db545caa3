/**
 * Fixtures for the audit and event-feed tests: the real service with a clock the test moves,
 * users created through the API, and callers holding one role each.
 */
import type { Test } from 'tap'
import type { ServiceOptions } from '../../src/service.js'
import { ADMIN_PASSWORD, openTestService, type TestService } from '../helpers/service.js'

export const PASSWORD = 'correct horse battery staple'
export const START = new Date('2031-03-04T05:06:07.000Z')

export interface AuditService extends TestService {
  /** The service's clock; `tick(ms)` moves it forward. */
  now(): Date
  tick(ms?: number): Date
  admin: string
  /** Creates a user as the admin; fails the test unless 201. */
  createUser(overrides?: Record<string, unknown>): Promise<{ id: string, username: string } & Record<string, unknown>>
  /** A new user holding exactly `roles`, logged in: its token. */
  caller(roles: string[]): Promise<string>
  /** Expects a 2xx and returns the JSON body. */
  ok(method: string, url: string, options?: { token?: string, body?: unknown, headers?: Record<string, string> }): Promise<any>
}

let sequence = 0

export async function openAuditService (t: Test, env: Record<string, string> = {}, options: ServiceOptions = {}): Promise<AuditService> {
  let now = START
  const svc = await openTestService(t, { IDM_TOKEN_TTL: '86400', ...env }, { clock: () => now, ...options })
  const ok: AuditService['ok'] = async (method, url, opts = {}) => {
    const res = await svc.call(method, url, opts)
    if (res.statusCode < 200 || res.statusCode > 299) throw new Error(`${method} ${url}: ${res.statusCode} ${res.body}`)
    return res.body === '' ? null : res.json()
  }
  const admin = await svc.token('admin', ADMIN_PASSWORD)
  const createUser: AuditService['createUser'] = async (overrides = {}) => {
    const n = ++sequence
    return await ok('POST', '/v1/users', {
      token: admin,
      body: {
        username: `audited${n}`,
        email: `audited${n}@example.com`,
        firstName: 'Ada',
        lastName: `Audited${n}`,
        identificationType: 'CC',
        identificationNumber: `77${n}`,
        password: PASSWORD,
        ...overrides
      }
    })
  }
  const caller: AuditService['caller'] = async (roles) => {
    const user = await createUser({ roles })
    return await svc.token(user.username, PASSWORD)
  }
  return {
    ...svc,
    now: () => now,
    tick: (ms = 60_000) => { now = new Date(now.getTime() + ms); return now },
    admin,
    createUser,
    caller,
    ok
  }
}
