import t from 'tap'
import Type from 'typebox'
import type { FastifyPluginAsyncTypebox } from '@fastify/type-provider-typebox'
import { AccessTokenResponse, problemResponses } from '../../src/http/schemas/common.js'
import { CredentialTable, bearer, buildTestApp } from '../helpers/http.js'

const ALICE = '0190a6d2-7c1e-7b3a-9f00-00000000a11c'
const Login = Type.Object({ username: Type.String(), password: Type.String() })

const routes = (table: CredentialTable): FastifyPluginAsyncTypebox => async (app) => {
  app.post('/authentication', {
    config: { auth: false },
    preHandler: app.loginRateLimits,
    schema: { body: Login, response: { 200: AccessTokenResponse, ...problemResponses(429) } }
  }, async (request) => {
    request.log.info({ body: request.body, headers: request.headers }, 'login attempt')
    const state = table.lookup(ALICE)!
    return app.issueToken({ userId: state.userId, username: state.username, roles: state.roles, credentialVersion: 0 })
  })
  app.get('/limited', { config: { auth: false, rateLimit: { max: 1, timeWindow: 60_000 } } }, async () => ({ ok: true }))
  app.get('/me', { config: { auth: {} } }, async (request) => request.principal)
  app.get('/boom', { config: { auth: false } }, async () => { throw new Error('the database file is corrupt') })
}

const setup = async (tt: Parameters<typeof buildTestApp>[0], extra: Parameters<typeof buildTestApp>[1] = {}) => {
  const table = new CredentialTable()
  table.add({ userId: ALICE, username: 'alice' })
  return buildTestApp(tt, { credentials: table, routes: [routes(table)], ...extra })
}

t.test('login rate limits: per client address and per username, 429 problem with Retry-After', async (t) => {
  const { app } = await setup(t, { env: { IDM_LOGIN_RATE_LIMIT: '4', IDM_LOGIN_RATE_LIMIT_PER_USERNAME: '2' } })
  const login = (username: string, remoteAddress = '203.0.113.7') => app.inject({
    method: 'POST', url: '/v1/authentication', payload: { username, password: 'whatever it is' }, remoteAddress
  })

  t.equal((await login('ana')).statusCode, 200)
  t.equal((await login('ANA')).statusCode, 200, 'usernames are counted in their normal form')
  const third = await login('ａｎａ')
  t.equal(third.statusCode, 429, 'the third attempt on one username, even in full-width letters')
  t.match(third.headers['content-type'], /^application\/problem\+json/)
  t.match(third.json(), { type: /\/problems\/too-many-requests$/, status: 429, title: String, detail: String })
  t.match(third.headers['retry-after'], /^[1-9][0-9]*$/)

  t.equal((await login('bob')).statusCode, 200, 'another username from the same address')
  const fifth = await login('carol')
  t.equal(fifth.statusCode, 429, 'the address budget (4) is spent')
  t.ok(fifth.headers['retry-after'])
  t.equal((await login('dave', '198.51.100.9')).statusCode, 200, 'another address is not affected')

  const invalid = await app.inject({ method: 'POST', url: '/v1/authentication', payload: { username: 'eve' }, remoteAddress: '192.0.2.1' })
  t.equal(invalid.statusCode, 400, 'validation runs before the limits')
})

t.test('a route-level config.rateLimit also answers problem+json with Retry-After', async (t) => {
  const { app } = await setup(t)
  t.equal((await app.inject({ url: '/v1/limited' })).statusCode, 200)
  const res = await app.inject({ url: '/v1/limited' })
  t.equal(res.statusCode, 429)
  t.match(res.headers['content-type'], /^application\/problem\+json/)
  t.match(res.json(), { status: 429, type: /too-many-requests$/ })
  t.match(res.headers['retry-after'], /^[1-9][0-9]*$/)
})

t.test('logs: request id in every line, secrets redacted, unexpected errors in full', async (t) => {
  const lines: Array<Record<string, unknown>> = []
  const { app } = await setup(t, { logger: { level: 'info', stream: { write: (line: string) => { lines.push(JSON.parse(line)) } } } })

  const login = await app.inject({
    method: 'POST',
    url: '/v1/authentication',
    payload: { username: 'alice', password: 'hunter2-hunter2-hunter2' },
    headers: { 'x-request-id': 'req-login-1', authorization: 'Basic c2VjcmV0' }
  })
  const token = login.json().access_token as string
  await app.inject({ url: '/v1/me', headers: { ...bearer(token), 'x-request-id': 'req-me-1' } })
  await app.inject({ url: '/v1/boom', headers: { 'x-request-id': 'req-boom-1' } })

  const text = lines.map((l) => JSON.stringify(l)).join('\n')
  t.notMatch(text, /hunter2/, 'no password')
  t.notMatch(text, /c2VjcmV0/, 'no authorization header')
  t.notMatch(text, new RegExp(token.split('.')[2]!), 'no token')
  const attempt = lines.find((l) => l.msg === 'login attempt')!
  t.match(attempt, { requestId: 'req-login-1', body: { username: 'alice', password: '[REDACTED]' }, headers: { authorization: '[REDACTED]' } })
  for (const line of lines.filter((l) => l.req !== undefined || l.res !== undefined)) {
    t.match(line.requestId, /^req-/, 'request lines carry the request id')
  }
  const failure = lines.find((l) => l.msg === 'request failed')!
  t.match(failure, { level: 50, requestId: 'req-boom-1', err: { message: 'the database file is corrupt', stack: /Error: the database file is corrupt/ } })
})

t.test('over a real socket', async (t) => {
  const { app } = await setup(t)
  await app.listen({ host: '127.0.0.1', port: 0 })
  const address = app.server.address()
  const base = typeof address === 'object' && address !== null ? `http://127.0.0.1:${address.port}` : ''

  const login = await fetch(`${base}/v1/authentication`, {
    method: 'POST',
    headers: { 'content-type': 'application/json', 'x-request-id': 'sock-1' },
    body: JSON.stringify({ username: 'alice', password: 'whatever it is' })
  })
  t.equal(login.status, 200)
  t.equal(login.headers.get('x-request-id'), 'sock-1')
  const { access_token: token } = await login.json() as { access_token: string }

  const me = await fetch(`${base}/v1/me`, { headers: bearer(token) })
  t.equal(me.status, 200)
  t.same(await me.json(), { kind: 'user', userId: ALICE, username: 'alice', roles: [], amr: ['pwd'], authTime: null, companyRoles: [] })

  const anonymous = await fetch(`${base}/v1/me`)
  t.equal(anonymous.status, 401)
  t.equal(anonymous.headers.get('www-authenticate'), 'Bearer')
  t.match(anonymous.headers.get('content-type'), /^application\/problem\+json/)

  const text = await fetch(`${base}/v1/authentication`, { method: 'POST', headers: { 'content-type': 'text/plain' }, body: 'hi' })
  t.equal(text.status, 415)

  const big = await fetch(`${base}/v1/authentication`, {
    method: 'POST', headers: { 'content-type': 'application/json' }, body: JSON.stringify({ username: 'x'.repeat(70_000), password: 'p' })
  })
  t.equal(big.status, 413)
  t.match(big.headers.get('content-type'), /^application\/problem\+json/)

  const badUrl = await fetch(`${base}/v1/%E0%A4%A`)
  t.ok(badUrl.status === 400 || badUrl.status === 404, `malformed URL: ${badUrl.status}`)
  t.match(badUrl.headers.get('content-type'), /^application\/problem\+json/)
  t.ok(badUrl.headers.get('x-request-id'))

  await app.close()
  t.equal(app.server.listening, false, 'closed by the test')
})
