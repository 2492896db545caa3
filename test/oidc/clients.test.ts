/**
 * OAuth clients and service accounts through the real service: registration (secret shown once,
 * stored as a hash), client_credentials on /v1/events, deactivation refusing tokens at once,
 * secret rotation with overlap, discovery, revocation and introspection.
 */
import t from 'tap'
import { openApiService, PASSWORD, type ApiService } from '../helpers/api.js'

const form = async (svc: ApiService, url: string, params: Record<string, string>, auth?: { id: string, secret: string }) => {
  const res = await svc.app.inject({
    method: 'POST',
    url,
    headers: {
      'content-type': 'application/x-www-form-urlencoded',
      ...(auth === undefined ? {} : { authorization: `Basic ${Buffer.from(`${encodeURIComponent(auth.id)}:${encodeURIComponent(auth.secret)}`).toString('base64')}` })
    },
    payload: new URLSearchParams(params).toString()
  })
  return { status: res.statusCode, body: (res.body === '' ? {} : res.json()) as Record<string, any>, headers: res.headers }
}

async function serviceAccount (svc: ApiService, roles = ['identity-subscriber']) {
  const res = await svc.call('POST', '/v1/clients', { token: svc.admin, body: { name: 'feed reader', type: 'confidential', grantTypes: ['client_credentials'], roles } })
  if (res.statusCode !== 201) throw new Error(res.body)
  return res
}

t.test('a service account reads the feed with client_credentials; deactivation refuses it at once', async (t) => {
  const svc = await openApiService(t)
  const created = await serviceAccount(svc)
  t.equal(created.headers['cache-control'], 'no-store')
  const body = created.json()
  t.match(body, { client_id: String, client_secret: /^[A-Za-z0-9_-]{43}$/, type: 'confidential', status: 'active', roles: ['identity-subscriber'], grantTypes: ['client_credentials'] })
  t.equal(created.headers.location, `/v1/clients/${body.client_id as string}`)
  const read = await svc.call('GET', `/v1/clients/${body.client_id as string}`, { token: svc.admin })
  t.equal(read.statusCode, 200)
  t.notOk('client_secret' in read.json(), 'the secret is never shown again')
  t.notOk(read.body.includes(body.client_secret), 'not even as part of something else')
  const events = await svc.app.inject({ url: '/v1/events?limit=200', headers: { authorization: `Bearer ${svc.admin}` } })
  t.notOk(events.body.includes(body.client_secret), 'nor in the feed')

  const auth = { id: body.client_id as string, secret: body.client_secret as string }
  const token = await form(svc, '/oauth2/token', { grant_type: 'client_credentials' }, auth)
  t.equal(token.status, 200, JSON.stringify(token.body))
  t.match(token.body, { access_token: String, token_type: 'Bearer', expires_in: 900 })
  t.notOk('refresh_token' in token.body)
  const claims = JSON.parse(Buffer.from((token.body.access_token as string).split('.')[1]!, 'base64url').toString())
  t.match(claims, { sub: auth.id, client_id: auth.id, roles: ['identity-subscriber'], aud: 'identity-manager', iss: svc.oauth.issuer })
  t.notOk('cv' in claims)

  const feed = await svc.call('GET', '/v1/events?limit=5', { token: token.body.access_token })
  t.equal(feed.statusCode, 200, 'the feed answers a service account')
  t.equal((await svc.call('GET', '/v1/users', { token: token.body.access_token })).statusCode, 403, 'and nothing its roles do not allow')
  const stream = await svc.app.inject({ method: 'GET', url: '/v1/events/stream?after=0', headers: { authorization: `Bearer ${token.body.access_token as string}`, 'x-test-close': '1' }, payloadAsStream: true })
  t.equal(stream.statusCode, 200, 'and the live stream')
  t.match(stream.headers['content-type'], /^text\/event-stream/)
  stream.stream().destroy()

  const wrong = await form(svc, '/oauth2/token', { grant_type: 'client_credentials' }, { id: auth.id, secret: 'not-the-secret' })
  t.equal(wrong.status, 401)
  t.equal(wrong.body.error, 'invalid_client', 'RFC 6749 §5.2')

  const off = await svc.call('PUT', `/v1/clients/${auth.id}`, { token: svc.admin, body: { name: 'feed reader', grantTypes: ['client_credentials'], roles: ['identity-subscriber'], status: 'inactive' } })
  t.equal(off.statusCode, 200)
  t.equal(off.json().status, 'inactive')
  t.equal((await svc.call('GET', '/v1/events?limit=5', { token: token.body.access_token })).statusCode, 401, 'its token is refused at once')
  t.equal((await form(svc, '/oauth2/token', { grant_type: 'client_credentials' }, auth)).status, 401, 'and it gets no new one')
})

t.test('secret rotation: both secrets work during the overlap, then only the new one', async (t) => {
  const svc = await openApiService(t, { IDM_CLIENT_SECRET_OVERLAP_SECONDS: '60' })
  const body = (await serviceAccount(svc)).json()
  const rotated = await svc.call('POST', `/v1/clients/${body.client_id as string}/secret`, { token: svc.admin })
  t.equal(rotated.statusCode, 201)
  const r = rotated.json()
  t.not(r.client_secret, body.client_secret)
  t.ok(Date.parse(r.previousSecretExpiresAt) > Date.now(), 'the old secret has an end')
  for (const secret of [body.client_secret, r.client_secret]) {
    t.equal((await form(svc, '/oauth2/token', { grant_type: 'client_credentials' }, { id: body.client_id, secret })).status, 200)
  }
  const again = await svc.call('POST', `/v1/clients/${body.client_id as string}/secret`, { token: svc.admin })
  const third = again.json().client_secret as string
  t.equal((await form(svc, '/oauth2/token', { grant_type: 'client_credentials' }, { id: body.client_id, secret: body.client_secret })).status, 401, 'two rotations later the first secret is dead')
  t.equal((await form(svc, '/oauth2/token', { grant_type: 'client_credentials' }, { id: body.client_id, secret: third })).status, 200)
})

t.test('client validation: 400 for bad bodies, 422 for rules, 403 for non-admins', async (t) => {
  const svc = await openApiService(t)
  const bad = await svc.call('POST', '/v1/clients', { token: svc.admin, body: { name: 'x', type: 'public', grantTypes: ['client_credentials'] } })
  t.equal(bad.statusCode, 422, 'a public client cannot have client_credentials')
  t.equal((await svc.call('POST', '/v1/clients', { token: svc.admin, body: { name: 'x', type: 'public', grantTypes: ['authorization_code'] } })).statusCode, 422, 'code without redirect URIs')
  t.equal((await svc.call('POST', '/v1/clients', { token: svc.admin, body: { name: 'x', type: 'public', grantTypes: ['authorization_code'], redirectUris: ['https://app.example/cb#frag'] } })).statusCode, 400)
  t.equal((await svc.call('POST', '/v1/clients', { token: svc.admin, body: { name: 'x', type: 'confidential', grantTypes: ['client_credentials'], roles: ['no-such-role'] } })).statusCode, 422)
  t.equal((await svc.call('POST', '/v1/clients', { token: svc.admin, body: { name: 'x', type: 'confidential', grantTypes: ['client_credentials'], secret: 'mine' } })).statusCode, 400, 'no mass assignment')
  const user = await svc.createUser()
  const token = await svc.login(user.username)
  t.equal((await svc.call('GET', '/v1/clients', { token })).statusCode, 403)
  t.equal((await svc.call('POST', '/v1/clients', { token, body: { name: 'x', type: 'confidential', grantTypes: ['client_credentials'] } })).statusCode, 403)
  t.equal((await svc.call('GET', '/v1/clients/nope', { token: svc.admin })).statusCode, 404)
  const list = await svc.call('GET', '/v1/clients', { token: svc.admin })
  t.same(list.json(), { items: [], nextCursor: null })
})

t.test('discovery: both well-known documents; revocation and introspection of refresh tokens', async (t) => {
  const svc = await openApiService(t)
  const oidc = await svc.app.inject({ url: '/.well-known/openid-configuration' })
  t.equal(oidc.statusCode, 200)
  const meta = oidc.json()
  const issuer = svc.oauth.issuer
  t.match(meta, {
    issuer,
    token_endpoint: `${issuer}/oauth2/token`,
    authorization_endpoint: `${issuer}/oauth2/authorize`,
    jwks_uri: `${issuer}/.well-known/jwks.json`,
    userinfo_endpoint: `${issuer}/oauth2/userinfo`,
    introspection_endpoint: `${issuer}/oauth2/introspect`,
    revocation_endpoint: `${issuer}/oauth2/revoke`,
    end_session_endpoint: `${issuer}/oauth2/logout`,
    code_challenge_methods_supported: ['S256'],
    id_token_signing_alg_values_supported: ['ES256']
  })
  t.same([...meta.grant_types_supported].sort(), ['authorization_code', 'client_credentials', 'refresh_token'])
  const rfc8414 = await svc.app.inject({ url: '/.well-known/oauth-authorization-server' })
  t.equal(rfc8414.statusCode, 200)
  t.same(rfc8414.json(), meta, 'RFC 8414 metadata: the same document')

  const sa = (await serviceAccount(svc, [])).json()
  const rs = { id: sa.client_id as string, secret: sa.client_secret as string }
  const user = await svc.createUser()
  const login = (await svc.call('POST', '/v1/authentication', { body: { username: user.username, password: PASSWORD } })).json()
  const active = await form(svc, '/oauth2/introspect', { token: login.refresh_token }, rs)
  t.equal(active.status, 200)
  t.match(active.body, { active: true, sub: user.id, client_id: 'idm-api', sid: String })
  const publicCaller = await form(svc, '/oauth2/introspect', { token: login.refresh_token, client_id: 'idm-api' })
  t.not(publicCaller.body.active, true, 'a public client learns nothing from introspection')

  const revoked = await form(svc, '/oauth2/revoke', { token: login.refresh_token, client_id: 'idm-api' })
  t.equal(revoked.status, 200, 'RFC 7009')
  t.same((await form(svc, '/oauth2/introspect', { token: login.refresh_token }, rs)).body, { active: false })
  t.equal((await svc.call('GET', '/v1/users/me', { token: login.access_token })).statusCode, 401, 'revoking the refresh token ends the session')
  const sessions = (await svc.call('GET', `/v1/users/${user.id}/sessions`, { token: svc.admin })).json().items
  t.match(sessions, [{ status: 'ended', endReason: 'token_revoked' }])

  for (const [what, end] of [
    ['session deletion', async (sid: string) => await svc.call('DELETE', `/v1/users/${user.id}/sessions/${sid}`, { token: svc.admin })],
    ['password reset', async () => await svc.call('PUT', `/v1/users/${user.id}/password`, { token: svc.admin, body: { newPassword: `${PASSWORD} ${Math.random()}` } })],
    ['deactivation', async () => await svc.call('PUT', `/v1/users/${user.id}/status`, { token: svc.admin, body: { status: 'inactive' } })]
  ] as const) {
    const res = await svc.call('PUT', `/v1/users/${user.id}/password`, { token: svc.admin, body: { newPassword: PASSWORD } })
    t.equal(res.statusCode, 204)
    const fresh = (await svc.call('POST', '/v1/authentication', { body: { username: user.username, password: PASSWORD } })).json()
    t.equal((await form(svc, '/oauth2/introspect', { token: fresh.refresh_token }, rs)).body.active, true, `active before ${what}`)
    const sid = JSON.parse(Buffer.from((fresh.access_token as string).split('.')[1]!, 'base64url').toString()).sid as string
    const done = await end(sid)
    t.ok(done.statusCode < 300, `${what}: ${done.statusCode}`)
    t.same((await form(svc, '/oauth2/introspect', { token: fresh.refresh_token }, rs)).body, { active: false }, `inactive after ${what}`)
  }
})
