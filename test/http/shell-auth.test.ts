import { generateKeyPairSync } from 'node:crypto'
import t from 'tap'
import Type from 'typebox'
import type { FastifyPluginAsyncTypebox } from '@fastify/type-provider-typebox'
import { generateSigningKeyPem, signingKeysFromPem } from '../../src/http/keys.js'
import { UuidParam } from '../../src/http/schemas/common.js'
import { CredentialTable, NOW, NOW_S, bearer, buildTestApp, claimsFor, forgeToken, testKeyPem, type TestApp } from '../helpers/http.js'

const ALICE = '0190a6d2-7c1e-7b3a-9f00-00000000a11c'
const BOB = '0190a6d2-7c1e-7b3a-9f00-000000000b0b'
const INVALID = 'Bearer error="invalid_token"'

const routes = (table: CredentialTable): FastifyPluginAsyncTypebox => async (app) => {
  app.post('/tokens', {
    config: { auth: false },
    schema: { body: Type.Object({ userId: Type.String() }) }
  }, async (request) => {
    const state = table.lookup(request.body.userId)
    return app.issueToken({ userId: state!.userId, username: state!.username, roles: state!.roles, credentialVersion: state!.credentialVersion })
  })
  app.get('/me', { config: { auth: {} } }, async (request) => request.principal)
  app.get('/audit', { config: { auth: { roles: ['identity-auditor'] } } }, async () => ({ ok: true }))
  app.get('/users/:id', {
    config: { auth: { roles: ['identity-auditor'], self: 'params.id' } },
    schema: { params: UuidParam }
  }, async (request) => ({ id: request.params.id }))
  app.get('/manual', { config: { auth: false }, preHandler: app.requireRole('identity-subscriber') }, async (request) => ({ user: request.principal?.username }))
}

async function setup (tt: Parameters<typeof buildTestApp>[0], extra: Parameters<typeof buildTestApp>[1] = {}): Promise<TestApp> {
  const table = new CredentialTable()
  const testApp = await buildTestApp(tt, { ...extra, credentials: table, routes: [routes(table)] })
  testApp.credentials.add({ userId: ALICE, username: 'alice', roles: [], companyRoles: [] })
  testApp.credentials.add({ userId: BOB, username: 'bob', roles: ['identity-auditor'] })
  return testApp
}

const tokenFor = async ({ app }: TestApp, userId: string): Promise<string> => {
  const res = await app.inject({ method: 'POST', url: '/v1/tokens', payload: { userId } })
  return res.json().access_token
}

t.test('issued tokens', async (t) => {
  const ctx = await setup(t)
  const res = await ctx.app.inject({ method: 'POST', url: '/v1/tokens', payload: { userId: ALICE } })
  const body = res.json()
  t.match(body, { token_type: 'Bearer', expires_in: 900, access_token: String })
  const [header, payload] = body.access_token.split('.').slice(0, 2).map((p: string) => JSON.parse(Buffer.from(p, 'base64url').toString()))
  t.same(header, { alg: 'ES256', typ: 'JWT', kid: ctx.keys.activeKid })
  t.match(payload, {
    iss: 'http://127.0.0.1:3000', aud: 'identity-manager', sub: ALICE, iat: NOW_S, nbf: NOW_S, exp: NOW_S + 900,
    jti: /^[0-9a-f-]{36}$/, preferred_username: 'alice', roles: [], cv: 0
  })

  const me = await ctx.app.inject({ url: '/v1/me', headers: bearer(body.access_token) })
  t.equal(me.statusCode, 200)
  t.same(me.json(), { kind: 'user', userId: ALICE, username: 'alice', roles: [], amr: ['pwd'], authTime: null, companyRoles: [] }, 'a token without amr was a password sign-in')
})

t.test('a missing or foreign Authorization header is a 401 with a bare Bearer challenge', async (t) => {
  const { app } = await setup(t)
  for (const headers of [{}, { authorization: 'Basic YWxpY2U6c2VjcmV0' }, { authorization: 'Bearer' }]) {
    const res = await app.inject({ url: '/v1/me', headers })
    t.equal(res.statusCode, 401, JSON.stringify(headers))
    t.equal(res.headers['www-authenticate'], 'Bearer')
    t.match(res.headers['content-type'], /^application\/problem\+json/)
    t.match(res.json(), { type: /\/problems\/unauthorized$/, title: 'Unauthorized', status: 401, detail: String })
  }
})

t.test('every bad token is a 401 invalid_token', async (t) => {
  const ctx = await setup(t)
  const { app, config, credentials } = ctx
  const alice = credentials.users.get(ALICE)!
  const claims = claimsFor(config, alice)
  const kid = ctx.keys.activeKid
  const publicPem = ctx.keys.publicKeyPem(kid)!
  const otherKey = generateSigningKeyPem()
  const valid = forgeToken({ header: { kid }, payload: claims })
  const [h, , s] = valid.split('.')
  const tampered = `${h}.${Buffer.from(JSON.stringify({ ...claims, roles: ['identity-admin'] })).toString('base64url')}.${s}`

  const cases: Record<string, string> = {
    expired: forgeToken({ header: { kid }, payload: { ...claims, iat: NOW_S - 1000, nbf: NOW_S - 1000, exp: NOW_S } }),
    'not yet valid': forgeToken({ header: { kid }, payload: { ...claims, nbf: NOW_S + 60 } }),
    'wrong issuer': forgeToken({ header: { kid }, payload: { ...claims, iss: 'someone-else' } }),
    'wrong audience': forgeToken({ header: { kid }, payload: { ...claims, aud: 'another-service' } }),
    'missing cv': forgeToken({ header: { kid }, payload: { ...claims, cv: undefined } }),
    'missing exp': forgeToken({ header: { kid }, payload: { ...claims, exp: undefined } }),
    'tampered payload': tampered,
    'alg none': forgeToken({ alg: 'none', header: { kid }, payload: claims }),
    'alg none, empty kid': forgeToken({ alg: 'none', payload: claims }),
    'HS256 keyed with the public key (key confusion)': forgeToken({ alg: 'HS256', header: { kid }, payload: claims, hmacKey: publicPem }),
    'unknown kid': forgeToken({ header: { kid: 'not-a-known-key' }, payload: claims }),
    'no kid': forgeToken({ payload: claims }),
    'another key under our kid': forgeToken({ header: { kid }, payload: claims, privateKeyPem: otherKey }),
    garbage: 'not.a.jwt',
    'two parts': 'abc.def'
  }
  t.equal((await app.inject({ url: '/v1/me', headers: bearer(valid) })).statusCode, 200, 'the untampered forge is valid')
  for (const [name, token] of Object.entries(cases)) {
    const res = await app.inject({ url: '/v1/me', headers: bearer(token) })
    t.equal(res.statusCode, 401, name)
    t.equal(res.headers['www-authenticate'], INVALID, name)
    t.match(res.json(), { status: 401, type: /\/problems\/unauthorized$/ }, name)
  }
})

t.test('expiry follows the clock, even for a cached token', async (t) => {
  const ctx = await setup(t)
  const token = await tokenFor(ctx, ALICE)
  t.equal((await ctx.app.inject({ url: '/v1/me', headers: bearer(token) })).statusCode, 200)
  ctx.clock.set(new Date(NOW.getTime() + 899_000))
  t.equal((await ctx.app.inject({ url: '/v1/me', headers: bearer(token) })).statusCode, 200, 'a second before expiry')
  ctx.clock.set(new Date(NOW.getTime() + 900_000))
  const res = await ctx.app.inject({ url: '/v1/me', headers: bearer(token) })
  t.equal(res.statusCode, 401, 'at exp')
  t.equal(res.headers['www-authenticate'], INVALID)
})

t.test('revocation is checked on every request', async (t) => {
  const ctx = await setup(t)
  const { app, credentials } = ctx
  const token = await tokenFor(ctx, ALICE)
  const me = () => app.inject({ url: '/v1/me', headers: bearer(token) })
  t.equal((await me()).statusCode, 200)

  const changes: Array<[string, Parameters<typeof credentials.update>[1]]> = [
    ['inactive', { status: 'inactive' }],
    ['credential version moved on', { credentialVersion: 1 }]
  ]
  for (const [name, change] of changes) {
    const before = credentials.users.get(ALICE)!
    credentials.update(ALICE, change)
    const res = await me()
    t.equal(res.statusCode, 401, name)
    t.equal(res.headers['www-authenticate'], INVALID, name)
    credentials.users.set(ALICE, before)
    t.equal((await me()).statusCode, 200, `${name}, undone`)
  }

  // A lockout stops password guessing; it ends no token (issue 18).
  credentials.update(ALICE, { lockedUntil: new Date(NOW.getTime() + 60_000).toISOString() })
  t.equal((await me()).statusCode, 200, 'a locked account keeps its tokens')

  credentials.users.delete(ALICE)
  t.equal((await me()).statusCode, 401, 'unknown user')
  t.ok(credentials.lookups >= 6, 'one lookup per request')
})

t.test('authorization', async (t) => {
  const ctx = await setup(t)
  const { app, credentials } = ctx
  const alice = await tokenFor(ctx, ALICE)
  const bob = await tokenFor(ctx, BOB)
  const get = (url: string, token: string) => app.inject({ url, headers: bearer(token) })

  t.test('a missing role is a 403 problem', async (t) => {
    const res = await get('/v1/audit', alice)
    t.equal(res.statusCode, 403)
    t.match(res.headers['content-type'], /^application\/problem\+json/)
    t.match(res.json(), { type: /\/problems\/forbidden$/, title: 'Forbidden', status: 403, detail: String })
    t.equal((await get('/v1/audit', bob)).statusCode, 200)
  })

  t.test('self access', async (t) => {
    t.equal((await get(`/v1/users/${ALICE}`, alice)).statusCode, 200, 'own id')
    t.equal((await get(`/v1/users/${BOB}`, alice)).statusCode, 403, 'another id')
    t.equal((await get(`/v1/users/${ALICE}`, bob)).statusCode, 200, 'an auditor reads others')
  })

  t.test('roles come from the read model, not the token', async (t) => {
    credentials.update(BOB, { roles: [] })
    t.equal((await get('/v1/audit', bob)).statusCode, 403, 'a removed role applies at once')
    credentials.update(BOB, { roles: ['identity-auditor'] })
    credentials.update(ALICE, { roles: ['identity-admin'] })
    t.equal((await get('/v1/audit', alice)).statusCode, 200, 'identity-admin passes every role check')
    credentials.update(ALICE, { roles: [] })
  })

  t.test('requireRole as a preHandler', async (t) => {
    t.equal((await app.inject({ url: '/v1/manual' })).statusCode, 401)
    t.equal((await get('/v1/manual', alice)).statusCode, 403)
    credentials.update(ALICE, { roles: ['identity-subscriber'] })
    t.same((await get('/v1/manual', alice)).json(), { user: 'alice' })
  })

  t.test('authentication comes before validation and body parsing', async (t) => {
    const res = await app.inject({ url: '/v1/users/not-a-uuid' })
    t.equal(res.statusCode, 401)
  })
})

t.test('JWKS', async (t) => {
  const { app, keys } = await setup(t)
  const res = await app.inject({ url: '/.well-known/jwks.json' })
  t.equal(res.statusCode, 200)
  t.match(res.headers['cache-control'], /public, max-age=\d+/)
  const jwks = res.json()
  t.equal(jwks.keys.length, 1)
  t.same(Object.keys(jwks.keys[0]).sort(), ['alg', 'crv', 'kid', 'kty', 'use', 'x', 'y'])
  t.match(jwks.keys[0], { kty: 'EC', crv: 'P-256', alg: 'ES256', use: 'sig', kid: keys.activeKid })
  t.notOk('d' in jwks.keys[0], 'no private member')
})

t.test('rotation: the old key keeps verifying, the new one signs', async (t) => {
  const oldPem = testKeyPem()
  const newPem = generateSigningKeyPem()
  const keys = signingKeysFromPem(`${newPem}\n${oldPem}`)
  const oldKid = signingKeysFromPem(oldPem).activeKid
  const ctx = await setup(t, { keys })
  t.not(keys.activeKid, oldKid)
  const jwks = (await ctx.app.inject({ url: '/.well-known/jwks.json' })).json()
  t.same(jwks.keys.map((k: { kid: string }) => k.kid), [keys.activeKid, oldKid])

  const alice = ctx.credentials.users.get(ALICE)!
  const oldToken = forgeToken({ header: { kid: oldKid }, payload: claimsFor(ctx.config, alice), privateKeyPem: oldPem })
  t.equal((await ctx.app.inject({ url: '/v1/me', headers: bearer(oldToken) })).statusCode, 200)
  const fresh = await tokenFor(ctx, ALICE)
  t.equal(JSON.parse(Buffer.from(fresh.split('.')[0]!, 'base64url').toString()).kid, keys.activeKid)
  t.equal((await ctx.app.inject({ url: '/v1/me', headers: bearer(fresh) })).statusCode, 200)
})

t.test('a P-384 key cannot sign for the service', async (t) => {
  const { privateKey } = generateKeyPairSync('ec', { namedCurve: 'P-384' })
  t.throws(() => signingKeysFromPem(privateKey.export({ type: 'pkcs8', format: 'pem' }).toString()), /not a P-256/)
})
