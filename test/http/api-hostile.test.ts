/**
 * Hostile input against the real routes: each request is refused with a 4xx problem, appends
 * nothing, and (through the leak guard of openApiService) never echoes a secret or a stack.
 */
import t, { type Test } from 'tap'
import type { Response } from 'light-my-request'
import { generateSigningKeyPem } from '../../src/http/keys.js'
import { forgeToken, testKeys } from '../helpers/http.js'
import {
  INVALID_TOKEN, PASSWORD, UNKNOWN_ID, decodeJwt, errorPaths, expectProblem, openApiService, profileOf, userBody
} from '../helpers/api.js'

const svc = await openApiService(t)
const admin = svc.admin
const victim = await svc.createUser()
const victimToken = await svc.login(victim.username)

/** The request is refused with `status` (a problem), and the event store did not move. */
async function refused (t: Test, name: string, status: number, send: () => Promise<Response>): Promise<Response> {
  const before = await svc.eventCount()
  const res = await send()
  expectProblem(t, res, status, {}, name)
  t.equal(await svc.eventCount(), before, `${name}: nothing appended`)
  return res
}
const json = (payload: string, token = admin) => () => svc.raw('POST', '/v1/users', { token, payload, contentType: 'application/json' })

t.test('malformed JSON is a 400', async t => {
  for (const payload of ['{"username": "x",', '{username: "x"}', "{'a': 1}", '{"a": 1}}', 'undefined', '{"a": NaN}', '']) {
    const res = await refused(t, `payload ${JSON.stringify(payload)}`, 400, json(payload))
    t.same(errorPaths(res.json()), ['/body'])
  }
})

t.test('other content types are a 415', async t => {
  const body = JSON.stringify(userBody())
  for (const contentType of ['text/plain', 'application/x-www-form-urlencoded', 'multipart/form-data; boundary=x', 'application/xml', 'application/merge-patch+json']) {
    await refused(t, contentType, 415, () => svc.raw('POST', '/v1/users', { token: admin, payload: body, contentType }))
  }
  await refused(t, 'no content type', 415, () => svc.raw('POST', '/v1/users', { token: admin, payload: body }))
  await refused(t, 'text/plain on a password change', 415, () => svc.raw('PUT', `/v1/users/${victim.id}/password`, { token: victimToken, payload: 'newPassword=x', contentType: 'text/plain' }))
  await refused(t, 'text/plain on the login', 415, () => svc.raw('POST', '/v1/authentication', { payload: 'username=admin&password=x', contentType: 'text/plain' }))
})

t.test('a 70 KiB body is a 413', async t => {
  const payload = JSON.stringify(userBody({ firstName: 'x'.repeat(70 * 1024) }))
  await refused(t, '70 KiB user', 413, json(payload))
  await refused(t, '70 KiB login', 413, () => svc.raw('POST', '/v1/authentication', { payload: JSON.stringify({ username: 'admin', password: 'p'.repeat(70 * 1024) }), contentType: 'application/json' }))
})

t.test('__proto__ and constructor keys are a 400 and pollute nothing', async t => {
  const payloads = [
    '{"__proto__":{"x":1}}',
    '{"constructor":{"prototype":{"x":1}}}',
    JSON.stringify(userBody()).replace(/}$/, ',"__proto__":{"isAdmin":true}}'),
    JSON.stringify(userBody()).replace('"password"', '"providers":[{"providerId":"p","__proto__":{"x":1}}],"password"'),
    '{"a":{"b":{"c":{"constructor":{"prototype":{"polluted":true}}}}}}'
  ]
  for (const payload of payloads) await refused(t, payload.slice(0, 60), 400, json(payload))
  await refused(t, '__proto__ in a profile update', 400, () => svc.raw('PUT', `/v1/users/${victim.id}`, {
    token: admin, contentType: 'application/json', payload: JSON.stringify(profileOf(victim)).replace(/}$/, ',"__proto__":{"roles":["identity-admin"]}}')
  }))
  await refused(t, '__proto__ in a login', 400, () => svc.raw('POST', '/v1/authentication', { contentType: 'application/json', payload: '{"username":"admin","password":"x","__proto__":{"ok":true}}' }))
  t.equal(({} as Record<string, unknown>).x, undefined)
  t.equal(({} as Record<string, unknown>).polluted, undefined)
  t.equal(({} as Record<string, unknown>).isAdmin, undefined)
})

t.test('bodies of the wrong shape are a 400', async t => {
  for (const payload of ['[]', 'null', '"a string"', '42', 'true', JSON.stringify([userBody()])]) {
    const res = await refused(t, `body ${payload.slice(0, 30)}`, 400, json(payload))
    t.same(errorPaths(res.json()), ['/body'])
  }
  await refused(t, 'deeply nested arrays', 400, json(`{"username":${'['.repeat(5000)}${']'.repeat(5000)}}`))
  await refused(t, 'unknown properties', 400, json(JSON.stringify(userBody({ isAdmin: true, permissions: ['*'] }))))
})

t.test('non-UUID ids in every :id route are a 400 on /params/id, never a 500', async t => {
  const routes: [string, (id: string) => string, unknown][] = [
    ['GET', id => `/v1/users/${id}`, undefined],
    ['PUT', id => `/v1/users/${id}`, profileOf(victim)],
    ['PUT', id => `/v1/users/${id}/status`, { status: 'inactive' }],
    ['PUT', id => `/v1/users/${id}/password`, { newPassword: 'a perfectly fine password' }],
    ['POST', id => `/v1/users/${id}/roles`, { roleId: 'identity-auditor' }],
    ['DELETE', id => `/v1/users/${id}/roles/identity-auditor`, undefined],
    ['POST', id => `/v1/users/${id}/companies`, { companyId: 'acme' }],
    ['DELETE', id => `/v1/users/${id}/companies/acme`, undefined],
    ['POST', id => `/v1/users/${id}/providers`, { providerId: 'carrier-x' }],
    ['DELETE', id => `/v1/users/${id}/providers/carrier-x`, undefined]
  ]
  const ids = ['abc', '1', 'null', 'undefined', '..%2F..%2Fetc%2Fpasswd', '%00', "1'%20OR%20'1'%3D'1", `${victim.id}0`, victim.id.replace(/-/g, ''), '{id}', '%F0%9F%98%80']
  for (const [method, url, body] of routes) {
    for (const id of ids) {
      const res = await refused(t, `${method} ${url(id)}`, 400, () => svc.call(method, url(id), { token: admin, ...(body === undefined ? {} : { body }) }))
      t.same(errorPaths(res.json()), ['/params/id'], `${method} ${url(id)}`)
    }
  }
})

t.test('an id longer than the router accepts is still a 4xx problem, not a 5xx', async t => {
  // The contract asks for 400; the router's maxParamLength (512) answers 414 first. Either is a
  // refusal; what must never happen is a 5xx.
  const res = await svc.call('GET', `/v1/users/${'a'.repeat(600)}`, { token: admin })
  t.ok([400, 414].includes(res.statusCode), `a 600-character id: ${res.statusCode}`)
  expectProblem(t, res, res.statusCode)
})

t.test('out-of-range and repeated limits are a 400', async t => {
  for (const url of ['/v1/users?limit=0', '/v1/users?limit=201', '/v1/users?limit=abc', '/v1/users?limit=1&limit=2', '/v1/users?limit=99999999999999999999', '/v1/roles?limit=-5', '/v1/identification-types?limit=0x10']) {
    const res = await refused(t, url, 400, () => svc.call('GET', url, { token: admin }))
    t.same(errorPaths(res.json()), ['/query/limit'], url)
  }
})

t.test('injection-looking filters are just strings', async t => {
  for (const q of ["' OR 1=1 --", '%', '_', '\\', '"; DROP TABLE users; --', '*']) {
    const res = await svc.call('GET', `/v1/users?q=${encodeURIComponent(q)}`, { token: admin })
    t.equal(res.statusCode, 200, q)
    t.same(res.json().items, [], `${q} matches nobody`)
  }
  const res = await svc.call('GET', `/v1/users?username=${encodeURIComponent("admin' --")}`, { token: admin })
  t.same(res.json().items, [])
  const everyone = await svc.call('GET', '/v1/users?q=%25', { token: admin })
  t.same(everyone.json().items, [], 'a LIKE wildcard is not a wildcard')
})

t.test('tokens that must not work on a real route', async t => {
  const login = decodeJwt(victimToken)
  const claims = login.payload
  const now = Math.floor(Date.now() / 1000)
  const kid = testKeys().activeKid
  const forged = (payload: Record<string, unknown>, options: Partial<Parameters<typeof forgeToken>[0]> = {}) =>
    forgeToken({ header: { kid }, payload: { ...claims, ...payload }, ...options })

  const baseline = await svc.call('GET', '/v1/users/me', { token: forged({ jti: '11111111-2222-4333-8444-555555555555' }) })
  t.equal(baseline.statusCode, 200, 'the forge makes valid tokens when nothing is wrong (so the refusals below mean something)')

  const [h, p, s] = victimToken.split('.') as [string, string, string]
  const elevated = Buffer.from(JSON.stringify({ ...claims, roles: ['identity-admin'] })).toString('base64url')
  const flipped = s.slice(0, 10) + (s[10] === 'A' ? 'B' : 'A') + s.slice(11)
  const cases: [string, string][] = [
    ['payload edited (roles elevated), signature kept', `${h}.${elevated}.${s}`],
    ['signature changed', `${h}.${p}.${flipped}`],
    ['signature removed', `${h}.${p}.`],
    ['alg none', forged({}, { alg: 'none' })],
    ['HS256 keyed with the public key', forged({}, { alg: 'HS256', hmacKey: testKeys().publicKeyPem(kid) ?? '' })],
    ['signed by another key under the same kid', forged({}, { privateKeyPem: generateSigningKeyPem() })],
    ['unknown kid', forgeToken({ header: { kid: 'not-a-key' }, payload: claims })],
    ['expired', forged({ iat: now - 3600, nbf: now - 3600, exp: now - 60 })],
    ['not yet valid', forged({ iat: now, nbf: now + 3600, exp: now + 7200 })],
    ['wrong issuer', forged({ iss: 'https://evil.example' })],
    ['wrong audience', forged({ aud: 'another-service' })],
    ['no cv claim', forged({ cv: undefined })],
    ['an older credential version', forged({ cv: (claims.cv as number) - 1 })],
    ['a newer credential version', forged({ cv: (claims.cv as number) + 1 })],
    ['unknown subject', forged({ sub: UNKNOWN_ID })],
    ['subject is not a string', forged({ sub: 42 })],
    ['garbage', 'not.a.jwt'],
    ['empty', ''],
    ['two tokens', `${victimToken} ${victimToken}`]
  ]
  for (const [name, token] of cases) {
    const before = await svc.eventCount()
    const res = await svc.call('GET', '/v1/users/me', { headers: { authorization: `Bearer ${token}` } })
    expectProblem(t, res, 401, {}, name)
    t.match(res.headers['www-authenticate'], /^Bearer/, `${name}: a Bearer challenge`)
    const write = await svc.call('PUT', `/v1/users/${victim.id}/status`, { headers: { authorization: `Bearer ${token}` }, body: { status: 'inactive' } })
    expectProblem(t, write, 401, {}, `${name}, on a write`)
    t.equal(await svc.eventCount(), before, `${name}: nothing appended`)
  }
  const expired = await svc.call('GET', '/v1/users', { token: forged({ iat: now - 3600, nbf: now - 3600, exp: now - 60, roles: ['identity-admin'] }) })
  t.equal(expired.headers['www-authenticate'], INVALID_TOKEN)
  for (const header of [`Basic ${Buffer.from(`admin:${PASSWORD}`).toString('base64')}`, admin, `Token ${admin}`]) {
    const res = await svc.call('GET', '/v1/users/me', { headers: { authorization: header } })
    expectProblem(t, res, 401, {}, header.slice(0, 20))
    t.equal(res.headers['www-authenticate'], 'Bearer')
  }
  expectProblem(t, await svc.call('GET', `/v1/users/me?access_token=${admin}`), 401, {}, 'a token in the query string is not accepted')
  t.equal((await svc.call('GET', '/v1/users/me', { token: victimToken })).statusCode, 200, 'the real token still works')
})

t.test('nothing a user can read carries a secret', async t => {
  const everyone = await svc.call('GET', '/v1/users?limit=200', { token: admin })
  t.equal(everyone.statusCode, 200)
  t.notMatch(everyone.body, /password/i)
  for (const user of everyone.json().items as { id: string }[]) {
    const one = await svc.call('GET', `/v1/users/${user.id}`, { token: admin })
    t.notMatch(one.body, /password|hash/i, user.id)
  }
})
