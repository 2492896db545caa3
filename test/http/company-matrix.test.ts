/**
 * The policy table (src/http/auth/access-table.ts) against the running service, over EVERY
 * route under /v1 that Fastify registered: a route without a row, or a row without a request
 * here, fails the test, so a new route cannot go unchecked. For each route, each caller
 * {identity-admin, identity-auditor, company-admin of A, company-auditor of A, admin of A and B,
 * plain user, global subscriber, subscriber of A} and each target {user in A, in B, in A and B,
 * in none, identity-admin in A, and a user that does not exist}:
 *   - the status is the table's outcome (2xx, 404, 403, 422);
 *   - a hidden target's answer is exactly the answer for a user that does not exist;
 *   - no body carries the id, username or email of a user outside the caller's scope (values the
 *     request itself sent are taken out first: echoing them tells nothing).
 * Writes are no-ops where the rule allows (the authorization runs before the decision) or are
 * undone by the identity admin, so every request sees the same world.
 */
import t from 'tap'
import type { Response } from 'light-my-request'
import { ACCESS_TABLE, expectedOutcome, type AccessRow, type CallerKind, type Outcome } from '../../src/http/auth/access-table.js'
import { ADMIN_PASSWORD, PASSWORD, UNKNOWN_ID, userBody, type UserView } from '../helpers/api.js'
import { A, B, openCompanyWorld } from './company-fixture.js'

interface Target { readonly id: string, readonly username: string, readonly user: UserView | null }
interface Request { method: string, url: string, body?: unknown, okStatus?: number[], restore?: () => Promise<unknown> }

t.test('every /v1 route answers every caller and target as the policy table says', async t => {
  const world = await openCompanyWorld(t)
  const { svc, users, caller } = world
  const admin = svc.admin
  const asAdmin = (method: string, url: string, body?: unknown) => svc.call(method, url, { token: admin, ...(body === undefined ? {} : { body }) })

  const client = (await asAdmin('POST', '/v1/clients', { name: 'matrix', type: 'confidential', grantTypes: ['client_credentials'], roles: [] })).json() as { clientId: string }
  let serial = 0

  const callers: { name: string, kind: CallerKind, companies: string[] | 'all', token: string, id: string }[] = []
  const add = async (name: string, kind: CallerKind, companies: string[] | 'all', spec: Parameters<typeof caller>[0]) => {
    const { user, token } = await caller(spec)
    callers.push({ name, kind, companies, token, id: user.id })
  }
  callers.push({ name: 'identity-admin', kind: 'identity-admin', companies: 'all', token: admin, id: '' })
  await add('identity-auditor', 'identity-auditor', 'all', { roles: ['identity-auditor'] })
  await add('company-admin of A', 'company-admin', [A], { companies: [A], companyRoles: [[A, 'company-admin']] })
  await add('company-auditor of A', 'company-auditor', [A], { companies: [A], companyRoles: [[A, 'company-auditor']] })
  await add('admin of A and B', 'company-admin', [A, B], { companies: [A, B], companyRoles: [[A, 'company-admin'], [B, 'company-admin']] })
  await add('plain user', 'plain', [], {})
  await add('global subscriber', 'subscriber', 'all', { roles: ['identity-subscriber'] })
  await add('subscriber of A', 'company-subscriber', [A], { companies: [A], companyRoles: [[A, 'identity-subscriber']] })

  const targets: [string, Target][] = [
    ...Object.entries(users).map(([name, user]): [string, Target] => [name, { id: user.id, username: user.username, user }]),
    ['nonexistent', { id: UNKNOWN_ID, username: 'nobody-at-all', user: null }]
  ]
  const everyone = [...Object.values(users)]
  const profile = (u: UserView | null) => u === null
    ? { email: 'nobody@example.com', firstName: 'N', lastName: 'B', identificationType: 'CC', identificationNumber: 'NOBODY1' }
    : { email: u.email, firstName: u.firstName, lastName: u.lastName, identificationType: u.identificationType, identificationNumber: u.identificationNumber, phone: u.phone }
  const linkedToA = (x: Target) => x.user !== null && x.user.companies.includes(A)

  /** One request per table row: what it sends for a target (null: a route without one). */
  const requests: Record<string, (x: Target | null, me: { token: string, username: string }) => Request> = {
    'POST /v1/authentication': (_x, me) => ({
      method: 'POST', url: '/v1/authentication', body: { username: me.username, password: me.username === 'admin' ? ADMIN_PASSWORD : PASSWORD }, okStatus: [200]
    }),
    // No such challenge, no factor enrolled: the same 401 for everyone.
    'POST /v1/authentication/mfa': () => ({ method: 'POST', url: '/v1/authentication/mfa', body: { mfa_token: 'not-a-token', method: 'totp', code: '123456' }, okStatus: [401] }),
    'POST /v1/authentication/step-up': () => ({ method: 'POST', url: '/v1/authentication/step-up', body: { method: 'totp', code: '123456' }, okStatus: [401] }),
    'POST /v1/users/:id/mfa/totp': x => ({ method: 'POST', url: `/v1/users/${x!.id}/mfa/totp` }),
    'POST /v1/users/:id/mfa/totp/verify': x => ({ method: 'POST', url: `/v1/users/${x!.id}/mfa/totp/verify`, body: { code: '123456' } }),
    // The targets have no authenticator: the identity admin gets that 404.
    'DELETE /v1/users/:id/mfa/totp': x => ({ method: 'DELETE', url: `/v1/users/${x!.id}/mfa/totp`, body: { code: '123456' }, okStatus: [404] }),
    'POST /v1/users/:id/mfa/recovery-codes': x => ({ method: 'POST', url: `/v1/users/${x!.id}/mfa/recovery-codes`, body: { code: '123456' } }),
    'GET /v1/users/:id/mfa': x => ({ method: 'GET', url: `/v1/users/${x!.id}/mfa` }),
    'DELETE /v1/users/:id/mfa': x => ({ method: 'DELETE', url: `/v1/users/${x!.id}/mfa` }),
    'GET /v1/users': () => ({ method: 'GET', url: '/v1/users?limit=200' }),
    'GET /v1/users/me': () => ({ method: 'GET', url: '/v1/users/me' }),
    'GET /v1/users/by-username/:username': x => ({ method: 'GET', url: `/v1/users/by-username/${x!.username}` }),
    'GET /v1/users/:id': x => ({ method: 'GET', url: `/v1/users/${x!.id}` }),
    'GET /v1/users/:id#asOf': x => ({ method: 'GET', url: `/v1/users/${x!.id}?asOf=${encodeURIComponent(new Date(Date.now() + 60_000).toISOString())}` }),
    'GET /v1/users/:id/history': x => ({ method: 'GET', url: `/v1/users/${x!.id}/history` }),
    'POST /v1/users': () => ({ method: 'POST', url: '/v1/users', body: userBody({ companies: [A] }) }),
    'PUT /v1/users/:id': x => ({ method: 'PUT', url: `/v1/users/${x!.id}`, body: profile(x!.user) }),
    'PUT /v1/users/:id/status': x => ({ method: 'PUT', url: `/v1/users/${x!.id}/status`, body: { status: 'active' } }),
    'PUT /v1/users/:id/password': x => ({ method: 'PUT', url: `/v1/users/${x!.id}/password`, body: { newPassword: PASSWORD } }),
    'POST /v1/users/:id/roles': x => ({ method: 'POST', url: `/v1/users/${x!.id}/roles`, body: { roleId: 'dispatcher' } }),
    'POST /v1/users/:id/roles#company': x => ({ method: 'POST', url: `/v1/users/${x!.id}/roles`, body: { roleId: 'dispatcher', companyId: A } }),
    'POST /v1/users/:id/roles#company-admin': x => ({
      method: 'POST', url: `/v1/users/${x!.id}/roles`, body: { roleId: 'company-admin', companyId: A },
      restore: () => asAdmin('DELETE', `/v1/users/${x!.id}/roles/company-admin?companyId=${A}`)
    }),
    'DELETE /v1/users/:id/roles/:roleId': x => ({ method: 'DELETE', url: `/v1/users/${x!.id}/roles/not-held` }),
    'DELETE /v1/users/:id/roles/:roleId#company': x => ({ method: 'DELETE', url: `/v1/users/${x!.id}/roles/dispatcher?companyId=${A}` }),
    'POST /v1/users/:id/companies': x => ({
      method: 'POST', url: `/v1/users/${x!.id}/companies`, body: { companyId: A },
      restore: async () => { if (x!.user !== null && !linkedToA(x!)) await asAdmin('DELETE', `/v1/users/${x!.id}/companies/${A}`) }
    }),
    'DELETE /v1/users/:id/companies/:companyId': x => ({
      method: 'DELETE', url: `/v1/users/${x!.id}/companies/${A}`,
      restore: async () => { if (linkedToA(x!)) await asAdmin('POST', `/v1/users/${x!.id}/companies`, { companyId: A }) }
    }),
    'POST /v1/users/:id/providers': x => ({ method: 'POST', url: `/v1/users/${x!.id}/providers`, body: { providerId: 'carrier-x' } }),
    'DELETE /v1/users/:id/providers/:providerId': x => ({ method: 'DELETE', url: `/v1/users/${x!.id}/providers/carrier-x` }),
    'GET /v1/users/:id/sessions': x => ({ method: 'GET', url: `/v1/users/${x!.id}/sessions` }),
    'DELETE /v1/users/:id/sessions': x => ({ method: 'DELETE', url: `/v1/users/${x!.id}/sessions` }),
    // No such session for anyone: the one allowed caller gets the session's 404.
    'DELETE /v1/users/:id/sessions/:sessionId': x => ({ method: 'DELETE', url: `/v1/users/${x!.id}/sessions/${UNKNOWN_ID}`, okStatus: [404] }),
    'GET /v1/audit/verify': () => ({ method: 'GET', url: '/v1/audit/verify' }),
    'GET /v1/events': () => ({ method: 'GET', url: '/v1/events?limit=200' }),
    'GET /v1/events/stream': () => ({ method: 'GET', url: '/v1/events/stream' }),
    'GET /v1/events/schema': () => ({ method: 'GET', url: '/v1/events/schema' }),
    'GET /v1/clients': () => ({ method: 'GET', url: '/v1/clients' }),
    'GET /v1/clients/:id': () => ({ method: 'GET', url: `/v1/clients/${client.clientId}` }),
    'POST /v1/clients': () => ({ method: 'POST', url: '/v1/clients', body: { name: `m${++serial}`, type: 'confidential', grantTypes: ['client_credentials'] } }),
    'PUT /v1/clients/:id': () => ({ method: 'PUT', url: `/v1/clients/${client.clientId}`, body: { name: 'matrix', grantTypes: ['client_credentials'], roles: [], status: 'active' } }),
    'POST /v1/clients/:id/secret': () => ({ method: 'POST', url: `/v1/clients/${client.clientId}/secret` })
  }
  const catalogs: [string, string, Record<string, unknown>][] = [
    ['roles', 'dispatcher', { name: 'Dispatcher', status: 'active' }],
    ['identification-types', 'CC', { name: 'Cédula de ciudadanía', status: 'active' }],
    ['companies', A, { name: 'Acme', status: 'active' }],
    ['providers', 'carrier-x', { name: 'Carrier X', status: 'active' }]
  ]
  for (const [path, id, put] of catalogs) {
    requests[`GET /v1/${path}`] = () => ({ method: 'GET', url: `/v1/${path}` })
    requests[`GET /v1/${path}/:id`] = () => ({ method: 'GET', url: `/v1/${path}/${id}` })
    requests[`POST /v1/${path}`] = () => ({ method: 'POST', url: `/v1/${path}`, body: { id: path === 'identification-types' ? `M${++serial}` : `m-${++serial}`, name: 'Matrix' } })
    requests[`PUT /v1/${path}/:id`] = () => ({ method: 'PUT', url: `/v1/${path}/${id}`, body: put })
  }

  // Every registered /v1 route has a row, and every row a request.
  const registered = [...new Set(svc.app.routeTable.filter(r => r.url.startsWith('/v1/')).map(r => `${r.method} ${r.url}`))]
  const rowRoutes = new Set(ACCESS_TABLE.map(r => r.route.split('#')[0]))
  for (const route of registered) t.ok(rowRoutes.has(route), `${route} has a row in the policy table`)
  for (const row of ACCESS_TABLE) {
    t.ok(registered.includes(row.route.split('#')[0]!), `${row.route}: the route exists`)
    t.ok(requests[row.route] !== undefined, `${row.route}: the matrix has a request for it`)
  }

  // The stream never ends: its allowed answers are read over a real socket, headers only.
  const base = await svc.app.listen({ port: 0, host: '127.0.0.1' })
  const send = async (req: Request, token: string): Promise<Pick<Response, 'statusCode' | 'body'>> => {
    if (req.url.startsWith('/v1/events/stream')) {
      const abort = new AbortController()
      const res = await fetch(base + req.url, { headers: { authorization: `Bearer ${token}` }, signal: abort.signal })
      const body = res.status === 200 ? '' : await res.text()
      abort.abort()
      return { statusCode: res.status, body }
    }
    // Past the helper's leak guard (history and feed items carry the redacted passwordHash key);
    // the hashes themselves are checked for below.
    const res = await svc.app.inject({
      method: req.method as 'GET',
      url: req.url,
      headers: { authorization: `Bearer ${token}`, ...(req.body === undefined ? {} : { 'content-type': 'application/json' }) },
      ...(req.body === undefined ? {} : { payload: JSON.stringify(req.body) })
    })
    if (res.body.includes('c2NyeXB0') || res.body.includes(PASSWORD)) throw new Error(`${req.url} leaks a secret`)
    return res
  }
  const statusOf: Record<Outcome, (s: number, req: Request) => boolean> = {
    ok: (s, req) => req.okStatus !== undefined ? req.okStatus.includes(s) : s >= 200 && s < 300,
    hidden: s => s === 404,
    forbidden: s => s === 403,
    invalid: s => s === 422
  }
  const visibleTo = (c: typeof callers[number], u: UserView) => c.companies === 'all' || u.id === c.id || u.companies.some(x => (c.companies as string[]).includes(x))
  const strip = (body: string, req: Request, x: Target | null) => {
    let out = body
    for (const value of [x?.id, x?.username, req.url]) if (value !== undefined) out = out.split(value).join('<sent>')
    return out
  }

  const mismatches: string[] = []
  const leaks: string[] = []
  let requestsSent = 0
  for (const row of ACCESS_TABLE) {
    const build = requests[row.route]
    if (build === undefined) continue
    for (const c of callers) {
      const me = { token: c.token, username: '' }
      if (row.route === 'POST /v1/authentication') {
        const self = c.id === '' ? { username: 'admin' } : ((await asAdmin('GET', `/v1/users/${c.id}`)).json() as UserView)
        me.username = self.username
      }
      const outOfScope = [...everyone, ...callers.filter(o => o.id !== '' && o.id !== c.id).map(o => ({ id: o.id } as UserView))]
      const answers = new Map<string, Pick<Response, 'statusCode' | 'body'>>()
      const hiddenTargets = new Set<string>()
      for (const [name, x] of row.target ? targets : [['-', null] as [string, null]]) {
        const req = build(x, me)
        const res = await send(req, c.token)
        requestsSent++
        if (req.restore !== undefined && res.statusCode < 300) await req.restore()
        answers.set(name, res)
        const relation = x === null
          ? null
          : {
              inScope: x.user !== null && (c.companies === 'all' || x.user.companies.some(co => (c.companies as string[]).includes(co))),
              guarded: x.user !== null && x.user.roles.includes('identity-admin'),
              linked: linkedToA(x)
            }
        const expected = x !== null && x.user === null && row.rules[c.kind] !== 'forbidden' ? 'hidden' : expectedOutcome(row, c.kind, relation)
        if (expected === 'hidden') hiddenTargets.add(name)
        if (!statusOf[expected](res.statusCode, req)) mismatches.push(`${row.route} by ${c.name} on ${name}: expected ${expected}, got ${res.statusCode} ${res.body.slice(0, 160)}`)
        // The leak scan: users out of this caller's scope must not show up.
        const body = strip(res.body, req, x)
        for (const u of outOfScope) {
          const full = everyone.find(e => e.id === u.id)
          if (full !== undefined && visibleTo(c, full)) continue
          if (full === undefined && c.companies === 'all') continue
          if (full === undefined) {
            // Another caller: visible when it shares a company with this one.
            const other = callers.find(o => o.id === u.id)!
            if (other.companies !== 'all' && c.companies !== 'all' && other.companies.some(co => (c.companies as string[]).includes(co))) continue
          }
          for (const value of [u.id, full?.username, full?.email]) {
            if (value !== undefined && body.includes(value)) leaks.push(`${row.route} by ${c.name} on ${name}: shows ${value}`)
          }
        }
      }
      // A hidden user answers exactly as one that does not exist.
      if (row.target) {
        const missing = answers.get('nonexistent')!
        for (const [name, x] of targets) {
          if (x.user === null || !hiddenTargets.has(name)) continue
          const res = answers.get(name)!
          if (res.statusCode !== 404 || missing.statusCode !== 404) continue
          const same = res.body.split(x.id).join(UNKNOWN_ID).split(x.username).join('nobody-at-all') === missing.body
          if (!same) mismatches.push(`${row.route} by ${c.name}: hidden ${name} ≠ nonexistent: ${res.body} vs ${missing.body}`)
        }
      }
    }
  }
  t.strictSame(mismatches, [], `every answer matches the table (${requestsSent} requests)`)
  t.strictSame(leaks, [], 'no out-of-scope user shows in any body')
  t.ok(requestsSent > 1000, `${requestsSent} requests sent`)
})
