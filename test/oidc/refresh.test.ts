/**
 * Sessions and refresh tokens through the real service (SQLite, oidc-provider, inject): sign-in
 * starts a session, the token endpoint rotates refresh tokens, reuse ends the session, and
 * security events end every session of the user.
 */
import t from 'tap'
import { ADMIN_PASSWORD, openApiService, PASSWORD, OTHER_PASSWORD, type ApiService } from '../helpers/api.js'

interface TokenBody { access_token: string, refresh_token?: string, token_type: string, expires_in: number, scope?: string, error?: string }

async function signIn (svc: ApiService, username: string, password = PASSWORD): Promise<TokenBody> {
  const res = await svc.call('POST', '/v1/authentication', { body: { username, password }, headers: { 'user-agent': 'refresh-test/1.0' } })
  if (res.statusCode !== 200) throw new Error(`sign-in failed: ${res.statusCode} ${res.body}`)
  return res.json() as TokenBody
}

async function refresh (svc: ApiService, refreshToken: string, clientId = 'idm-api') {
  const res = await svc.app.inject({
    method: 'POST',
    url: '/oauth2/token',
    headers: { 'content-type': 'application/x-www-form-urlencoded' },
    payload: new URLSearchParams({ grant_type: 'refresh_token', refresh_token: refreshToken, client_id: clientId }).toString()
  })
  return { status: res.statusCode, body: res.json() as TokenBody, headers: res.headers }
}

const claimsOf = (jwt: string): Record<string, unknown> => JSON.parse(Buffer.from(jwt.split('.')[1]!, 'base64url').toString()) as Record<string, unknown>

t.test('sign-in returns a refresh token and a session; refresh rotates', async (t) => {
  const svc = await openApiService(t)
  const user = await svc.createUser()
  const first = await signIn(svc, user.username)
  t.same(Object.keys(first).sort(), ['access_token', 'expires_in', 'refresh_token', 'token_type'])
  t.match(first.refresh_token, /^[A-Za-z0-9_-]{43,}$/, 'opaque, high entropy')
  const sid = claimsOf(first.access_token).sid as string
  t.match(sid, /^[0-9a-f-]{36}$/, 'the access token names its session')

  const sessions = await svc.call('GET', `/v1/users/${user.id}/sessions`, { token: first.access_token })
  t.equal(sessions.statusCode, 200)
  t.match(sessions.json().items, [{ id: sid, userId: user.id, clientId: 'idm-api', amr: ['pwd'], status: 'active', userAgent: 'refresh-test/1.0' }])

  const r1 = await refresh(svc, first.refresh_token!)
  t.equal(r1.status, 200, JSON.stringify(r1.body))
  t.equal(r1.headers['cache-control'], 'no-store')
  t.not(r1.body.refresh_token, first.refresh_token, 'rotated')
  const claims = claimsOf(r1.body.access_token)
  t.match(claims, { sub: user.id, sid, preferred_username: user.username, roles: [], aud: 'identity-manager', client_id: 'idm-api' })
  const me = await svc.call('GET', '/v1/users/me', { token: r1.body.access_token })
  t.equal(me.statusCode, 200, 'a refreshed access token works on /v1')

  const r2 = await refresh(svc, r1.body.refresh_token!)
  t.equal(r2.status, 200)
  const after = await svc.call('GET', `/v1/users/${user.id}/sessions`, { token: r2.body.access_token })
  t.ok(after.json().items[0].lastRefreshedAt, 'the refresh is recorded on the session')
})

t.test('a reused refresh token ends the session', async (t) => {
  const svc = await openApiService(t)
  const user = await svc.createUser()
  const first = await signIn(svc, user.username)
  const r1 = await refresh(svc, first.refresh_token!)
  t.equal(r1.status, 200)
  const reuse = await refresh(svc, first.refresh_token!)
  t.equal(reuse.status, 400)
  t.same(reuse.body.error, 'invalid_grant', 'RFC 6749 §5.2 body')
  const r2 = await refresh(svc, r1.body.refresh_token!)
  t.equal(r2.status, 400, 'the rotated token died with the session')
  for (const token of [first.access_token, r1.body.access_token]) {
    const me = await svc.call('GET', '/v1/users/me', { token })
    t.equal(me.statusCode, 401, 'access tokens of the session are refused at once')
  }
  const again = await signIn(svc, user.username)
  const list = (await svc.call('GET', `/v1/users/${user.id}/sessions`, { token: again.access_token })).json().items
  t.match(list.find((s: { status: string }) => s.status === 'ended'), { endReason: 'refresh_token_reuse' })
})

t.test('50 parallel refreshes of one token: exactly one succeeds, then the session is ended as a reuse', async (t) => {
  const svc = await openApiService(t)
  const user = await svc.createUser()
  const first = await signIn(svc, user.username)
  const results = await Promise.all(Array.from({ length: 50 }, async () => await refresh(svc, first.refresh_token!)))
  const ok = results.filter(r => r.status === 200)
  t.equal(ok.length, 1, 'exactly one succeeds')
  t.ok(results.every(r => r.status === 200 || (r.status === 400 && r.body.error === 'invalid_grant')), 'the others are invalid_grant, never 5xx')
  const winner = ok[0]!.body
  t.equal((await refresh(svc, winner.refresh_token!)).status, 400, "the winner's new refresh token is revoked with the session")
  t.equal((await svc.call('GET', '/v1/users/me', { token: winner.access_token })).statusCode, 401)
  const again = await signIn(svc, user.username)
  const ended = (await svc.call('GET', `/v1/users/${user.id}/sessions`, { token: again.access_token })).json().items.filter((s: { status: string }) => s.status === 'ended')
  t.equal(ended.length, 1)
  t.equal(ended[0].endReason, 'refresh_token_reuse')
})

t.test('sessions API: delete one, delete all; password change ends all, a lockout none', async (t) => {
  const svc = await openApiService(t, { IDM_LOCKOUT_THRESHOLD: '2' })
  const user = await svc.createUser()
  const a = await signIn(svc, user.username)
  const b = await signIn(svc, user.username)
  const sidA = claimsOf(a.access_token).sid as string

  const other = await svc.createUser()
  const stranger = await signIn(svc, other.username)
  t.equal((await svc.call('GET', `/v1/users/${user.id}/sessions`, { token: stranger.access_token })).statusCode, 403)
  t.equal((await svc.call('DELETE', `/v1/users/${user.id}/sessions/${sidA}`, { token: stranger.access_token })).statusCode, 403)
  t.equal((await svc.call('DELETE', `/v1/users/${user.id}/sessions/${claimsOf(stranger.access_token).sid as string}`, { token: svc.admin })).statusCode, 404, "another user's session is not this user's")

  const del = await svc.call('DELETE', `/v1/users/${user.id}/sessions/${sidA}`, { token: b.access_token })
  t.equal(del.statusCode, 204)
  t.equal((await svc.call('GET', '/v1/users/me', { token: a.access_token })).statusCode, 401, 'the deleted session is refused')
  t.equal((await refresh(svc, a.refresh_token!)).status, 400, 'and its refresh token')
  t.equal((await svc.call('GET', '/v1/users/me', { token: b.access_token })).statusCode, 200, 'the other session lives')

  // Failed logins up to a lockout: the owner's sessions stay.
  for (let i = 0; i < 3; i++) await svc.call('POST', '/v1/authentication', { body: { username: user.username, password: 'wrong password, long enough' } })
  const bRefreshed = await refresh(svc, b.refresh_token!)
  const live = (await svc.call('GET', `/v1/users/${user.id}/sessions`, { token: svc.admin })).json().items.filter((s: { status: string }) => s.status === 'active')
  t.equal(live.length, 1, 'a lockout ends no session')
  t.equal(bRefreshed.status === 200 || bRefreshed.status === 400, true)
  t.equal((await svc.call('PUT', `/v1/users/${user.id}/status`, { token: svc.admin, body: { status: 'active' } })).statusCode, 200, 'unlocked')

  const c = await signIn(svc, user.username)
  const changed = await svc.call('PUT', `/v1/users/${user.id}/password`, { token: c.access_token, body: { currentPassword: PASSWORD, newPassword: OTHER_PASSWORD } })
  t.equal(changed.statusCode, 204)
  t.equal((await refresh(svc, c.refresh_token!)).status, 400, 'a password change ends the refresh token at once')
  await t.resolves(waitFor(async () => {
    const items = (await svc.call('GET', `/v1/users/${user.id}/sessions`, { token: svc.admin })).json().items as { status: string, endReason: string }[]
    return items.every(s => s.status === 'ended') && items.some(s => s.endReason === 'password_changed')
  }), 'every session ended with reason password_changed')

  const d = await signIn(svc, user.username, OTHER_PASSWORD)
  const e = await signIn(svc, user.username, OTHER_PASSWORD)
  const all = await svc.call('DELETE', `/v1/users/${user.id}/sessions`, { token: d.access_token })
  t.equal(all.statusCode, 204)
  for (const token of [d.access_token, e.access_token]) t.equal((await svc.call('GET', '/v1/users/me', { token })).statusCode, 401)
})

t.test('deactivation and reset end every session', async (t) => {
  const svc = await openApiService(t)
  const user = await svc.createUser()
  const a = await signIn(svc, user.username)
  await svc.call('PUT', `/v1/users/${user.id}/password`, { token: svc.admin, body: { newPassword: OTHER_PASSWORD } })
  t.equal((await refresh(svc, a.refresh_token!)).status, 400)
  const b = await signIn(svc, user.username, OTHER_PASSWORD)
  const off = await svc.call('PUT', `/v1/users/${user.id}/status`, { token: svc.admin, body: { status: 'inactive' } })
  t.equal(off.statusCode, 200)
  t.equal((await refresh(svc, b.refresh_token!)).status, 400)
  await t.resolves(waitFor(async () => {
    const items = (await svc.call('GET', `/v1/users/${user.id}/sessions`, { token: svc.admin })).json().items as { status: string, endReason: string }[]
    return items.map(s => s.endReason).sort().join() === 'password_reset,user_deactivated'
  }))
})

async function waitFor (check: () => Promise<boolean>, ms = 5000): Promise<void> {
  const until = Date.now() + ms
  while (!(await check())) {
    if (Date.now() > until) throw new Error('condition not reached')
    await new Promise(resolve => setTimeout(resolve, 20))
  }
}

t.test('sessions that expired are ended by an event at the next sign-in, with their deadline as endedAt', async (t) => {
  let now = Date.now()
  const svc = await openApiService(t, { IDM_SESSION_IDLE_SECONDS: '3600' }, { clock: () => new Date(now) })
  const user = await svc.createUser()
  const first = claimsOf((await signIn(svc, user.username)).access_token).sid as string
  // The admin signs in afresh each time: the clock jumps past every access token's lifetime.
  const sessions = async () => (await svc.call('GET', `/v1/users/${user.id}/sessions`, { token: await svc.login('admin', ADMIN_PASSWORD) })).json().items as Array<Record<string, unknown>>
  const deadline = (await sessions()).find(s => s.id === first)!.idleExpiresAt as string
  now += 2 * 3600 * 1000
  const before = (await svc.store.readAll({ limit: 1e6 })).filter(e => e.type === 'SessionRevoked').length
  const second = claimsOf((await signIn(svc, user.username)).access_token).sid as string
  const revoked = (await svc.store.readAll({ limit: 1e6 })).filter(e => e.type === 'SessionRevoked')
  t.equal(revoked.length, before + 1, 'one SessionRevoked more')
  t.match(revoked.at(-1)!.data, { sessionId: first, reason: 'expired' })
  const listed = await sessions()
  t.match(listed.find(s => s.id === first), { status: 'ended', endReason: 'expired', endedAt: deadline }, 'ended at its idle deadline, not at the sign-in that noticed')
  t.match(listed.find(s => s.id === second), { status: 'active' })
})
