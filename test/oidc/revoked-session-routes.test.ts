/**
 * A revoked session's access token is refused on EVERY protected /v1 route (401, problem+json,
 * `WWW-Authenticate: Bearer error="invalid_token"`) and by introspection (`active: false` for the
 * session's refresh token and for its JWT access token), after
 * each way a session ends: DELETE of the session, DELETE of all the user's sessions, a password
 * change, an admin password reset, and deactivation.
 *
 * The routes are not listed here: they are read from Fastify's own route table
 * (app.printRoutes), so a route added later is covered without touching this file; the OpenAPI
 * document says which of them are public (security: []), and a /v1 route missing from it fails.
 *
 * The token belongs to an identity-admin, and before the session ends the same requests are made
 * with it and must NOT be 401 (unknown ids and empty bodies, so they change nothing): the 401s
 * afterwards are the session's end, not a request the route would have refused anyway.
 */
import t from 'tap'
import type { ApiService } from '../helpers/api.js'
import { INVALID_TOKEN, PASSWORD, PROBLEM_JSON, UNKNOWN_ID, decodeJwt, loadApiDocument, openApiService } from '../helpers/api.js'

interface RouteEntry { method: string, path: string }

/** Fastify's route table as (method, /openapi/{style}) pairs, from printRoutes' tree. */
function routeTable (svc: ApiService): RouteEntry[] {
  const lines = svc.app.printRoutes({ commonPrefix: false }).split('\n')
  const stack: string[] = []
  const routes: RouteEntry[] = []
  let base = -1
  for (const line of lines) {
    const match = /^([\s│]*)[├└]── (\S+)(?: \(([^)]+)\))?/.exec(line)
    if (match === null) continue
    const indent = match[1]!.length
    if (base < 0) base = indent
    const depth = (indent - base) / 4
    stack.length = depth
    const path = (stack[depth - 1] ?? '') + match[2]!
    stack.push(path)
    for (const method of (match[3] ?? '').split(',').map(m => m.trim()).filter(m => m !== '' && m !== 'HEAD' && m !== 'OPTIONS')) {
      routes.push({ method, path: path.replace(/:([A-Za-z_]+)/g, '{$1}') })
    }
  }
  return routes
}

const svc = await openApiService(t)
const { doc } = await loadApiDocument(svc)
const table = routeTable(svc).filter(r => r.path.startsWith('/v1/'))

const security = (r: RouteEntry): unknown => (doc.paths[r.path]?.[r.method.toLowerCase()] as { security?: unknown } | undefined)?.security
const isPublic = (r: RouteEntry): boolean => Array.isArray(security(r)) && (security(r) as unknown[]).length === 0
const protectedRoutes = table.filter(r => !isPublic(r))
const isStream = (r: RouteEntry): boolean => {
  const responses = (doc.paths[r.path]?.[r.method.toLowerCase()] as { responses?: Record<string, { content?: Record<string, unknown> }> } | undefined)?.responses
  return Object.values(responses ?? {}).some(res => res.content?.['text/event-stream'] !== undefined)
}

/** A request on the route that, made with a valid token, changes nothing: unknown ids, empty bodies. */
async function hit (r: RouteEntry, token: string) {
  const url = r.path.replace(/\{[^}]+\}/g, (param) => param === '{username}' ? 'no-such-user' : param.endsWith('Id}') && param !== '{sessionId}' ? 'no-such-entry' : UNKNOWN_ID)
  const body = r.method === 'POST' || r.method === 'PUT' ? {} : undefined
  return await svc.app.inject({
    method: r.method as 'GET',
    url,
    headers: { authorization: `Bearer ${token}`, ...(body === undefined ? {} : { 'content-type': 'application/json' }) },
    ...(body === undefined ? {} : { payload: JSON.stringify(body) })
  })
}

const rs = await (async () => {
  const res = await svc.call('POST', '/v1/clients', { token: svc.admin, body: { name: 'resource server', type: 'confidential', grantTypes: ['client_credentials'] } })
  if (res.statusCode !== 201) throw new Error(res.body)
  const body = res.json() as { client_id: string, client_secret: string }
  return { id: body.client_id, secret: body.client_secret }
})()

async function introspect (token: string): Promise<{ status: number, body: Record<string, unknown> }> {
  const res = await svc.app.inject({
    method: 'POST',
    url: '/oauth2/introspect',
    headers: { 'content-type': 'application/x-www-form-urlencoded', authorization: `Basic ${Buffer.from(`${encodeURIComponent(rs.id)}:${encodeURIComponent(rs.secret)}`).toString('base64')}` },
    payload: new URLSearchParams({ token }).toString()
  })
  return { status: res.statusCode, body: res.json() as Record<string, unknown> }
}

t.test('the route table is read, and every /v1 route is in the OpenAPI document', async t => {
  t.ok(table.length >= 40, `${table.length} /v1 routes found in the route table`)
  for (const expected of ['GET /v1/users/{id}', 'DELETE /v1/users/{id}/sessions/{sessionId}', 'POST /v1/clients/{id}/secret', 'GET /v1/events/stream']) {
    t.ok(table.some(r => `${r.method} ${r.path}` === expected), `${expected} is in the route table`)
  }
  for (const r of table) t.ok(doc.paths[r.path]?.[r.method.toLowerCase()], `${r.method} ${r.path} is documented`)
})

interface Victim { id: string, username: string, password: string, access: string, refresh: string, sid: string }

const ENDINGS: [string, (v: Victim) => Promise<{ statusCode: number }>][] = [
  ['DELETE of the session', async v => await svc.call('DELETE', `/v1/users/${v.id}/sessions/${v.sid}`, { token: svc.admin })],
  ['DELETE of all sessions', async v => await svc.call('DELETE', `/v1/users/${v.id}/sessions`, { token: v.access })],
  ['a password change', async v => await svc.call('PUT', `/v1/users/${v.id}/password`, { token: v.access, body: { currentPassword: v.password, newPassword: `${v.password} again` } })],
  ['a password reset', async v => await svc.call('PUT', `/v1/users/${v.id}/password`, { token: svc.admin, body: { newPassword: `${v.password} reset` } })],
  ['deactivation', async v => await svc.call('PUT', `/v1/users/${v.id}/status`, { token: svc.admin, body: { status: 'inactive' } })]
]

for (const [what, end] of ENDINGS) {
  t.test(`after ${what}, the session's access token is refused everywhere`, async t => {
    const user = await svc.createUser({ roles: ['identity-admin'] })
    const signIn = await svc.call('POST', '/v1/authentication', { body: { username: user.username, password: PASSWORD } })
    t.equal(signIn.statusCode, 200)
    const tokens = signIn.json() as { access_token: string, refresh_token: string }
    const victim: Victim = { id: user.id, username: user.username, password: PASSWORD, access: tokens.access_token, refresh: tokens.refresh_token, sid: String(decodeJwt(tokens.access_token).payload.sid) }

    // Before: the token works (no route answers 401), and introspection says active.
    const before = await svc.eventCount()
    for (const r of protectedRoutes.filter(r => !isStream(r))) {
      const res = await hit(r, victim.access)
      if (res.statusCode === 401 || res.statusCode >= 500) t.fail(`${r.method} ${r.path} before ${what}: ${res.statusCode} ${res.body.slice(0, 200)}`)
    }
    t.equal(await svc.eventCount(), before, 'the control requests changed nothing')
    t.match(await introspect(victim.refresh), { status: 200, body: { active: true, sid: victim.sid } }, 'the refresh token is active before')
    t.match(await introspect(victim.access), { status: 200, body: { active: true, sub: victim.id, sid: victim.sid, username: victim.username, token_type: 'Bearer' } }, 'the access token is active before')

    const ended = await end(victim)
    t.ok(ended.statusCode >= 200 && ended.statusCode < 300, `${what}: ${ended.statusCode}`)

    let refused = 0
    for (const r of protectedRoutes) {
      const res = await hit(r, victim.access)
      const ok = res.statusCode === 401 && PROBLEM_JSON.test(String(res.headers['content-type'])) &&
        res.headers['www-authenticate'] === INVALID_TOKEN && (res.json() as { status?: number }).status === 401
      if (ok) refused++
      else t.fail(`${r.method} ${r.path} after ${what}: ${res.statusCode} ${String(res.headers['content-type'])} ${res.body.slice(0, 200)}`)
    }
    t.equal(refused, protectedRoutes.length, `all ${protectedRoutes.length} protected /v1 routes answer 401 problem+json invalid_token`)
    t.same(await introspect(victim.refresh), { status: 200, body: { active: false } }, 'introspection of the refresh token: active false')
    t.same(await introspect(victim.access), { status: 200, body: { active: false } }, 'introspection of the access token (a JWT): active false')
    const refreshed = await svc.app.inject({
      method: 'POST',
      url: '/oauth2/token',
      headers: { 'content-type': 'application/x-www-form-urlencoded' },
      payload: new URLSearchParams({ grant_type: 'refresh_token', refresh_token: victim.refresh, client_id: 'idm-api' }).toString()
    })
    t.match({ status: refreshed.statusCode, body: refreshed.json() }, { status: 400, body: { error: 'invalid_grant' } }, 'and its refresh token gets no new access token (RFC 6749 §5.2)')
  })
}
