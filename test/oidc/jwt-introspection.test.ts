/**
 * RFC 7662 introspection of the service's JWT access tokens (src/oidc/jwt-introspection.ts):
 * a resource server (a confidential client) asks whether an access token is still good and gets
 * the same answer a /v1 request would, with the claims when it is; nobody else learns anything.
 *
 * How it would be broken, and the test for each: a forged or altered token called active
 * (another key, `alg: none`, a changed payload, another issuer or audience); an expired token
 * called active; a token whose session ended, whose user's password changed or whose client was
 * deactivated called active; a public client or an unauthenticated caller using introspection as
 * an oracle; a wrong client secret accepted.
 */
import { generateKeyPairSync, sign as signBytes } from 'node:crypto'
import t from 'tap'
import { decodeJwt, openApiService, PASSWORD, type ApiService } from '../helpers/api.js'

type Form = { status: number, body: Record<string, any> }
const basic = (id: string, secret: string): string => `Basic ${Buffer.from(`${encodeURIComponent(id)}:${encodeURIComponent(secret)}`).toString('base64')}`

async function introspect (svc: ApiService, token: string, auth: { id: string, secret: string } | null, extra: Record<string, string> = {}): Promise<Form> {
  const res = await svc.app.inject({
    method: 'POST',
    url: '/oauth2/introspect',
    headers: { 'content-type': 'application/x-www-form-urlencoded', ...(auth === null ? {} : { authorization: basic(auth.id, auth.secret) }) },
    payload: new URLSearchParams({ token, ...extra }).toString()
  })
  t.not(res.statusCode >= 500, true, `no 5xx: ${res.statusCode}`)
  return { status: res.statusCode, body: res.body === '' ? {} : res.json() }
}

async function confidential (svc: ApiService, roles: string[] = [], grantTypes = ['client_credentials']): Promise<{ id: string, secret: string }> {
  const res = await svc.call('POST', '/v1/clients', { token: svc.admin, body: { name: `rs ${roles.join(',')}`, type: 'confidential', grantTypes, roles } })
  if (res.statusCode !== 201) throw new Error(res.body)
  return { id: res.json().client_id, secret: res.json().client_secret }
}

const b64 = (value: unknown): string => Buffer.from(JSON.stringify(value)).toString('base64url')

t.test('a user access token: active with its claims, then inactive once its session ends or the password changes', async (t) => {
  const svc = await openApiService(t)
  const rs = await confidential(svc)
  const user = await svc.createUser({ roles: ['identity-auditor'] })
  const login = async () => (await svc.call('POST', '/v1/authentication', { body: { username: user.username, password: PASSWORD } })).json() as { access_token: string }
  const first = await login()
  const claims = decodeJwt(first.access_token).payload

  const active = await introspect(svc, first.access_token, rs)
  t.equal(active.status, 200)
  t.same(active.body, {
    active: true,
    iss: claims.iss,
    sub: user.id,
    aud: claims.aud,
    exp: claims.exp,
    iat: claims.iat,
    nbf: claims.nbf,
    jti: claims.jti,
    sid: claims.sid,
    token_type: 'Bearer',
    username: user.username,
    roles: ['identity-auditor']
  }, 'the claims of RFC 7662 §2.2, the current username and roles')
  t.same((await introspect(svc, first.access_token, rs, { token_type_hint: 'refresh_token' })).body.active, true, 'a wrong hint does not hide the token (RFC 7662 §2.1)')

  // Roles are the read model's, as on /v1: a removal shows at once.
  t.equal((await svc.call('DELETE', `/v1/users/${user.id}/roles/identity-auditor`, { token: svc.admin })).statusCode, 204)
  t.same((await introspect(svc, first.access_token, rs)).body.roles, [], 'a removed role is gone from the answer at once')

  t.equal((await svc.call('DELETE', `/v1/users/${user.id}/sessions/${String(claims.sid)}`, { token: svc.admin })).statusCode, 204)
  t.same((await introspect(svc, first.access_token, rs)).body, { active: false }, 'its session ended: inactive')

  const second = await login()
  t.equal((await introspect(svc, second.access_token, rs)).body.active, true)
  t.equal((await svc.call('PUT', `/v1/users/${user.id}/password`, { token: svc.admin, body: { newPassword: 'a different passphrase entirely' } })).statusCode, 204)
  t.same((await introspect(svc, second.access_token, rs)).body, { active: false }, 'after a password reset: inactive')
})

t.test('a service account token: active while the client is, inactive once it is deactivated', async (t) => {
  const svc = await openApiService(t)
  const rs = await confidential(svc)
  const sa = await confidential(svc, ['identity-subscriber'])
  const grant = await svc.app.inject({
    method: 'POST',
    url: '/oauth2/token',
    headers: { 'content-type': 'application/x-www-form-urlencoded', authorization: basic(sa.id, sa.secret) },
    payload: 'grant_type=client_credentials'
  })
  t.equal(grant.statusCode, 200, 'client_credentials grant')
  const token = grant.json().access_token as string
  t.match((await introspect(svc, token, rs)).body, { active: true, sub: sa.id, client_id: sa.id, roles: ['identity-subscriber'], token_type: 'Bearer' })
  t.notOk('username' in (await introspect(svc, token, rs)).body, 'a client has no username')
  t.match((await introspect(svc, token, sa)).body, { active: true }, 'a client may introspect its own token')

  const off = await svc.call('PUT', `/v1/clients/${sa.id}`, { token: svc.admin, body: { name: 'rs identity-subscriber', grantTypes: ['client_credentials'], roles: ['identity-subscriber'], status: 'inactive' } })
  t.equal(off.statusCode, 200, off.body)
  t.same((await introspect(svc, token, rs)).body, { active: false }, 'the client deactivated: inactive at once')
})

t.test('forged, altered, foreign and expired tokens are inactive', async (t) => {
  let now = Date.now()
  const svc = await openApiService(t, {}, { clock: () => new Date(now) })
  const rs = await confidential(svc)
  const user = await svc.createUser()
  const good = (await svc.call('POST', '/v1/authentication', { body: { username: user.username, password: PASSWORD } })).json().access_token as string
  const [header, payload, signature] = good.split('.') as [string, string, string]
  const claims = decodeJwt(good).payload

  // Signed by a key that is not ours, under our kid.
  const stranger = generateKeyPairSync('ec', { namedCurve: 'P-256' }).privateKey
  const foreignSig = signBytes('sha256', Buffer.from(`${header}.${payload}`), { key: stranger, dsaEncoding: 'ieee-p1363' }).toString('base64url')
  const variants: Record<string, string> = {
    'another key': `${header}.${payload}.${foreignSig}`,
    'alg none': `${b64({ alg: 'none', typ: 'JWT' })}.${payload}.`,
    'payload changed (roles)': `${header}.${b64({ ...claims, roles: ['identity-admin'] })}.${signature}`,
    'signature cut': `${header}.${payload}.`,
    'another issuer, signed by us': svc.app.jwt.sign({ ...claims, iss: 'https://evil.example' }),
    'another audience, signed by us': svc.app.jwt.sign({ ...claims, aud: 'someone-else' }),
    'not a JWT at all': 'eyJhbGciOiJFUzI1NiJ9.garbage.garbage'
  }
  for (const [what, token] of Object.entries(variants)) {
    const res = await introspect(svc, token, rs)
    t.same(res, { status: 200, body: { active: false } }, what)
  }
  t.equal((await introspect(svc, good, rs)).body.active, true, 'the untouched token is active')
  now += (Number(claims.exp) - Number(claims.iat) + 1) * 1000
  t.same((await introspect(svc, good, rs)).body, { active: false }, 'expired on the service clock: inactive')
})

t.test('only an authenticated confidential client learns anything', async (t) => {
  const svc = await openApiService(t)
  const rs = await confidential(svc)
  const user = await svc.createUser()
  const token = (await svc.call('POST', '/v1/authentication', { body: { username: user.username, password: PASSWORD } })).json().access_token as string

  const anonymous = await introspect(svc, token, null)
  t.equal(anonymous.status, 400, 'no client authentication: refused by the provider')
  t.equal(anonymous.body.active, undefined)
  const wrong = await introspect(svc, token, { id: rs.id, secret: `${rs.secret}x` })
  t.equal(wrong.status, 401)
  t.equal(wrong.body.error, 'invalid_client', 'a wrong secret: RFC 6749 invalid_client')
  const publicClient = await introspect(svc, token, null, { client_id: 'idm-api' })
  t.same(publicClient, { status: 200, body: { active: false } }, 'the public client idm-api: active false, nothing else')
  t.equal((await introspect(svc, token, rs)).body.active, true, 'the resource server: active')
})
