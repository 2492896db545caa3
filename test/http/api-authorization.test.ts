/**
 * The authorization matrix of the real routes: identity-admin may do everything,
 * identity-auditor reads users and catalogs, identity-subscriber and plain users may only read
 * themselves and change their own password; no token is a 401 everywhere. The requests are
 * chosen so that, where they are allowed, they change nothing (a 404, 409, 412 or 422, or a
 * no-op), so the matrix can run on every caller. Then revocation: a deactivated user's token
 * stops working at once, everywhere.
 */
import t from 'tap'
import { INVALID_TOKEN, PASSWORD, UNKNOWN_ID, expectProblem, openApiService, profileOf, userBody, type UserView } from '../helpers/api.js'

const svc = await openApiService(t)
for (const [path, id] of [['companies', 'acme'], ['providers', 'carrier-x']] as const) {
  await svc.call('POST', `/v1/${path}`, { token: svc.admin, body: { id, name: id } })
}
const target = await svc.createUser({ companies: ['acme'] })

type Caller = 'admin' | 'auditor' | 'subscriber' | 'plain'
const users: Record<Caller, { token: string, id: string }> = {
  admin: { token: svc.admin, id: (await svc.call('GET', '/v1/users/me', { token: svc.admin })).json().id },
  auditor: await caller(['identity-auditor']),
  subscriber: await caller(['identity-subscriber']),
  plain: await caller([])
}
async function caller (roles: string[]) {
  const user = await svc.createUser({ roles })
  return { token: await svc.login(user.username), id: user.id }
}

interface Route { method: string, url: (self: string) => string, body?: unknown, headers?: Record<string, string> }
const READ = 'read'
const WRITE = 'write'
const SELF = 'self'
const routes: [typeof READ | typeof WRITE | typeof SELF, Route][] = [
  [READ, { method: 'GET', url: () => '/v1/users' }],
  [READ, { method: 'GET', url: () => `/v1/users?companyId=acme&q=${target.username}` }],
  [READ, { method: 'GET', url: () => `/v1/users/${target.id}` }],
  [READ, { method: 'GET', url: () => `/v1/users/${UNKNOWN_ID}` }],
  [READ, { method: 'GET', url: () => `/v1/users/by-username/${target.username}` }],
  [SELF, { method: 'GET', url: () => '/v1/users/me' }],
  [SELF, { method: 'GET', url: self => `/v1/users/${self}` }],
  [SELF, { method: 'PUT', url: self => `/v1/users/${self}/password`, body: { currentPassword: PASSWORD, newPassword: 'tiny pass' } }],
  [WRITE, { method: 'POST', url: () => '/v1/users', body: userBody({ username: target.username }) }],
  [WRITE, { method: 'PUT', url: () => `/v1/users/${target.id}`, body: profileOf(target), headers: { 'if-match': '"999"' } }],
  [WRITE, { method: 'PUT', url: () => `/v1/users/${target.id}/status`, body: { status: 'active' } }],
  [WRITE, { method: 'PUT', url: () => `/v1/users/${target.id}/password`, body: { newPassword: 'tiny pass' } }],
  [WRITE, { method: 'POST', url: () => `/v1/users/${target.id}/roles`, body: { roleId: 'no-such-role' } }],
  [WRITE, { method: 'DELETE', url: () => `/v1/users/${target.id}/roles/no-such-role` }],
  [WRITE, { method: 'POST', url: () => `/v1/users/${target.id}/companies`, body: { companyId: 'acme' } }],
  [WRITE, { method: 'DELETE', url: () => `/v1/users/${target.id}/companies/no-such-co` }],
  [WRITE, { method: 'POST', url: () => `/v1/users/${target.id}/providers`, body: { providerId: 'no-such-provider' } }],
  [WRITE, { method: 'DELETE', url: () => `/v1/users/${target.id}/providers/carrier-x` }],
  // The user's own profile, status and roles are not its to change.
  [WRITE, { method: 'PUT', url: self => `/v1/users/${self}`, body: profileOf(target), headers: { 'if-match': '"999"' } }],
  [WRITE, { method: 'PUT', url: self => `/v1/users/${self}/status`, body: { status: 'active' } }],
  [WRITE, { method: 'POST', url: self => `/v1/users/${self}/roles`, body: { roleId: 'no-such-role' } }],
  [WRITE, { method: 'DELETE', url: self => `/v1/users/${self}/companies/no-such-co` }]
]
for (const [path, taken, unknown] of [['roles', 'identity-admin', 'no-such-role'], ['companies', 'acme', 'no-such-co'], ['providers', 'carrier-x', 'no-such-provider'], ['identification-types', 'CC', 'NOPE']] as const) {
  routes.push(
    [READ, { method: 'GET', url: () => `/v1/${path}` }],
    [READ, { method: 'GET', url: () => `/v1/${path}/${taken}` }],
    [WRITE, { method: 'POST', url: () => `/v1/${path}`, body: { id: taken, name: 'Taken' } }],
    [WRITE, { method: 'PUT', url: () => `/v1/${path}/${unknown}`, body: { name: 'Unknown', status: 'active' } }]
  )
}

const allowed: Record<Caller, ReadonlySet<string>> = {
  admin: new Set([READ, WRITE, SELF]),
  auditor: new Set([READ, SELF]),
  subscriber: new Set([SELF]),
  plain: new Set([SELF])
}

for (const who of Object.keys(users) as Caller[]) {
  t.test(`the matrix for ${who}`, async t => {
    const { token, id } = users[who]
    const before = await svc.eventCount()
    for (const [kind, route] of routes) {
      const url = route.url(id)
      const name = `${who}: ${route.method} ${url.replace(id, '{self}')}`
      const res = await svc.call(route.method, url, { token, ...(route.body === undefined ? {} : { body: route.body }), ...(route.headers === undefined ? {} : { headers: route.headers }) })
      if (allowed[who].has(kind)) {
        t.ok(res.statusCode < 500 && res.statusCode !== 401 && res.statusCode !== 403, `${name} is allowed (${res.statusCode})`)
      } else {
        expectProblem(t, res, 403, {}, name)
      }
    }
    // Allowed reads and harmless writes append nothing either; authentication events aside,
    // the store must not have moved.
    t.equal(await svc.eventCount(), before, `${who}: the matrix appended nothing`)
    t.match((await svc.call('GET', `/v1/users/${target.id}`, { token: svc.admin })).json(), { ...target, updatedAt: String, version: Number })
  })
}

t.test('without a token every /v1 route but the login is a 401 with a Bearer challenge', async t => {
  for (const [, route] of routes) {
    const url = route.url(users.plain.id)
    const res = await svc.call(route.method, url, route.body === undefined ? {} : { body: route.body })
    expectProblem(t, res, 401, {}, `${route.method} ${url}`)
    t.equal(res.headers['www-authenticate'], 'Bearer')
  }
})

t.test('a refused caller is refused before its body is read', async t => {
  const res = await svc.raw('POST', '/v1/users', { token: users.plain.token, payload: '{not json', contentType: 'application/json' })
  expectProblem(t, res, 403, {}, 'plain user, malformed body')
  const anonymous = await svc.raw('POST', '/v1/users', { payload: 'x'.repeat(70 * 1024), contentType: 'text/plain' })
  expectProblem(t, anonymous, 401, {}, 'no token, oversized body of the wrong type')
})

t.test('a deactivated user\'s token is refused at once, on every route it could use', async t => {
  const user = await svc.createUser({ roles: ['identity-auditor'] })
  const token = await svc.login(user.username)
  const urls = ['/v1/users/me', `/v1/users/${user.id}`, '/v1/users', '/v1/roles']
  for (const url of urls) t.equal((await svc.call('GET', url, { token })).statusCode, 200, `before: ${url}`)
  t.equal((await svc.call('PUT', `/v1/users/${user.id}/status`, { token: svc.admin, body: { status: 'inactive' } })).statusCode, 200)
  for (const url of urls) {
    const res = await svc.call('GET', url, { token })
    expectProblem(t, res, 401, {}, `after: ${url}`)
    t.equal(res.headers['www-authenticate'], INVALID_TOKEN)
  }
  const own = await svc.call('PUT', `/v1/users/${user.id}/password`, { token, body: { currentPassword: PASSWORD, newPassword: 'a new password for me' } })
  expectProblem(t, own, 401, {}, 'own password change')
  t.equal(own.headers['www-authenticate'], INVALID_TOKEN)
  const body = (await svc.call('GET', `/v1/users/${user.id}`, { token: svc.admin })).json() as UserView
  t.equal(body.status, 'inactive')
})
