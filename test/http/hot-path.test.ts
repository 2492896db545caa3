/**
 * The per-request shell made cheap (issue 6), and still what it was:
 *   - security headers computed once from @fastify/helmet equal, header for header, what the
 *     plugin itself sets per request with the same options;
 *   - secrets scrubbed from logged objects at any depth, without copying what holds none;
 *   - one request line per request (RequestLogController), carrying the request and the status;
 *   - the verified-token cache: a hit still sets request.user, still checks expiry against the
 *     clock, and a token whose signing key is no longer known is refused even when cached.
 */
import helmet from '@fastify/helmet'
import Fastify from 'fastify'
import t from 'tap'
import type { FastifyPluginAsyncTypebox } from '@fastify/type-provider-typebox'
import type { SigningKeys } from '../../src/http/keys.js'
import { CENSOR, RequestLogController, loggerOptions, scrubSecrets } from '../../src/http/plugins/logging.js'
import { helmetHeaders } from '../../src/http/plugins/security.js'
import { CredentialTable, NOW, bearer, buildTestApp, testKeys } from '../helpers/http.js'

const ALICE = '0190a6d2-7c1e-7b3a-9f00-00000000a11c'

const HELMET_OPTIONS = {
  contentSecurityPolicy: {
    useDefaults: false,
    directives: { defaultSrc: ["'none'"], frameAncestors: ["'none'"], baseUri: ["'none'"], formAction: ["'none'"] }
  },
  crossOriginResourcePolicy: { policy: 'same-origin' as const }
}

/** Response headers minus what Fastify and Node add on their own. */
const securityHeaders = (headers: Record<string, unknown>): Record<string, unknown> => {
  const own = new Set(['content-type', 'content-length', 'date', 'connection', 'keep-alive', 'x-request-id', 'etag'])
  return Object.fromEntries(Object.entries(headers).filter(([name]) => !own.has(name)))
}

t.test('the precomputed headers are the ones @fastify/helmet sets per request', async (t) => {
  const reference = Fastify({ logger: false })
  await reference.register(helmet, HELMET_OPTIONS)
  reference.get('/x', async () => ({}))
  const expected = securityHeaders((await reference.inject({ url: '/x' })).headers)
  await reference.close()
  t.ok(Object.keys(expected).length >= 10, `helmet sets its dozen headers (${Object.keys(expected).length})`)

  const { set, removed } = await helmetHeaders(HELMET_OPTIONS)
  t.same(Object.fromEntries(set.map(([name, value]) => [name.toLowerCase(), String(value)])), expected, 'same names and values')
  t.same(removed, ['x-powered-by'], 'helmet removes X-Powered-By')

  const { app } = await buildTestApp(t, { routes: [async (v1) => { v1.get('/x', { config: { auth: false } }, async () => ({})) }] })
  const served = securityHeaders((await app.inject({ url: '/v1/x' })).headers)
  t.same(served, expected, 'the app serves exactly helmet\'s headers')
  const missing = securityHeaders((await app.inject({ url: '/v1/nothing-here' })).headers)
  t.same(Object.keys(missing).filter((name) => name in expected).sort(), Object.keys(expected).sort(), 'on a 404 too')
})

t.test('a header set by the route replaces helmet\'s', async (t) => {
  const { app } = await buildTestApp(t, {
    routes: [async (v1) => {
      v1.get('/framed', { config: { auth: false } }, async (_request, reply) => {
        reply.header('x-frame-options', 'DENY')
        return {}
      })
    }]
  })
  const res = await app.inject({ url: '/v1/framed' })
  t.equal(res.headers['x-frame-options'], 'DENY')
  t.match(res.headers['content-security-policy'], /default-src 'none'/)
})

t.test('scrubSecrets', async (t) => {
  const clean = { a: 1, b: { c: [1, { d: 'x' }] } }
  t.equal(scrubSecrets(clean), clean, 'nothing secret: the very same object, no copy')

  const given = { user: { profile: { settings: { deep: { password: 'p1', keep: 1 } } } }, list: [{ access_token: 't' }], authorization: 'Bearer x' }
  const scrubbed = scrubSecrets(given) as typeof given
  t.same(scrubbed, {
    user: { profile: { settings: { deep: { password: CENSOR, keep: 1 } } } },
    list: [{ access_token: CENSOR }],
    authorization: CENSOR
  }, 'at any depth, in arrays, at the top')
  t.equal(given.user.profile.settings.deep.password, 'p1', 'the logged object itself is left alone')

  const error = Object.assign(new Error('boom'), { passwordHash: 'h' })
  const scrubbedError = scrubSecrets({ err: error }) as { err: Error & { passwordHash: string } }
  t.ok(scrubbedError.err instanceof Error, 'an error stays an error')
  t.equal(scrubbedError.err.message, 'boom')
  t.match(scrubbedError.err.stack, /Error: boom/)
  t.equal(scrubbedError.err.passwordHash, CENSOR)
  t.equal(error.passwordHash, 'h')

  class Opaque { password = 'not a plain object' }
  const opaque = { thing: new Opaque() }
  t.equal(scrubSecrets(opaque), opaque, 'instances of other classes are left to their serializers')

  const cyclic: Record<string, unknown> = { name: 'loop' }
  cyclic.self = cyclic
  t.doesNotThrow(() => scrubSecrets(cyclic), 'a cycle ends at the depth bound')
})

t.test('request lines: one per request, secrets redacted, request id in each', async (t) => {
  const lines: Array<Record<string, unknown>> = []
  const app = Fastify({
    logger: loggerOptions({ level: 'info', stream: { write: (line: string) => { lines.push(JSON.parse(line) as Record<string, unknown>) } } }, 'info'),
    logController: new RequestLogController({ requestIdLogLabel: 'requestId' }),
    genReqId: () => 'req-one'
  })
  app.post('/login', async (request) => {
    request.log.info({ body: request.body, headers: request.headers }, 'login attempt')
    return { ok: true }
  })
  app.get('/boom', async () => { throw new Error('kaput') })
  t.teardown(() => app.close())

  await app.inject({ method: 'POST', url: '/login', payload: { username: 'alice', password: 'hunter2-hunter2' }, headers: { authorization: 'Basic c2VjcmV0' } })
  const text = lines.map((l) => JSON.stringify(l)).join('\n')
  t.notMatch(text, /hunter2/, 'no password')
  t.notMatch(text, /c2VjcmV0/, 'no authorization header')
  t.match(lines.find((l) => l.msg === 'login attempt'), { body: { password: CENSOR }, headers: { authorization: CENSOR } })
  const requestLines = lines.filter((l) => l.req !== undefined || l.res !== undefined)
  t.equal(requestLines.length, 1, 'one request line at info')
  t.match(requestLines[0], { msg: 'request completed', requestId: 'req-one', req: { method: 'POST', url: '/login' }, res: { statusCode: 200 }, responseTime: Number })

  lines.length = 0
  await app.inject({ url: '/boom' })
  t.ok(lines.some((l) => l.level === 50 && (l.err as { message?: string } | undefined)?.message === 'kaput'), 'a failure is logged in full')
})

t.test('verified-token cache', async (t) => {
  const base = testKeys()
  const retired = new Set<string>()
  // The same keys, with a switch that makes a kid unknown (as `retireSigningKey` and a restart would).
  const keys: SigningKeys = {
    activeKid: base.activeKid,
    kids: base.kids,
    warnings: base.warnings,
    activePrivateKeyPem: () => base.activePrivateKeyPem(),
    publicKeyPem: (kid) => retired.has(kid) ? undefined : base.publicKeyPem(kid),
    jwks: () => base.jwks()
  }
  const table = new CredentialTable()
  const routes: FastifyPluginAsyncTypebox = async (app) => {
    app.get('/token-exp', { config: { auth: {} } }, async (request) => ({ exp: (request.user as { exp?: number }).exp ?? null }))
  }
  const ctx = await buildTestApp(t, { keys, credentials: table, routes: [routes] })
  ctx.credentials.add({ userId: ALICE, username: 'alice', roles: [] })
  const token = ctx.app.issueToken({ userId: ALICE, username: 'alice', roles: [], credentialVersion: 0 }).access_token
  const exp = Math.floor(NOW.getTime() / 1000) + ctx.config.token.ttlSeconds

  for (let i = 0; i < 3; i++) {
    const res = await ctx.app.inject({ url: '/v1/token-exp', headers: bearer(token) })
    t.equal(res.statusCode, 200, `request ${i + 1}`)
    t.same(res.json(), { exp }, `request.user carries the token's claims (request ${i + 1}: ${i === 0 ? 'verified' : 'cached'})`)
  }

  retired.add(keys.activeKid)
  const refused = await ctx.app.inject({ url: '/v1/token-exp', headers: bearer(token) })
  t.equal(refused.statusCode, 401, 'a cached token whose key is no longer known is refused')
  retired.clear()
  t.equal((await ctx.app.inject({ url: '/v1/token-exp', headers: bearer(token) })).statusCode, 200, 'verified again once the key is back')

  const tampered = `${token.slice(0, -2)}${token.endsWith('AA') ? 'BB' : 'AA'}`
  for (let i = 0; i < 2; i++) {
    t.equal((await ctx.app.inject({ url: '/v1/token-exp', headers: bearer(tampered) })).statusCode, 401, `a bad signature is refused every time (${i + 1})`)
  }

  ctx.clock.set(new Date(exp * 1000))
  t.equal((await ctx.app.inject({ url: '/v1/token-exp', headers: bearer(token) })).statusCode, 401, 'expired by the clock, though cached')
})
