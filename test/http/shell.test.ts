import t from 'tap'
import Type from 'typebox'
import type { FastifyPluginAsyncTypebox } from '@fastify/type-provider-typebox'
import { Validator } from '@seriousme/openapi-schema-validator'
import { DomainError } from '../../src/domain/errors.js'
import { IdempotencyConflictError, StoreUnavailableError, WrongExpectedRevisionError } from '../../src/eventstore/port.js'
import { problem } from '../../src/http/plugins/problems.js'
import { Paged, Pagination, UuidParam, problemResponses } from '../../src/http/schemas/common.js'
import { buildTestApp } from '../helpers/http.js'

const PROBLEM_JSON = /^application\/problem\+json/
const ID = '0190a6d2-7c1e-7b3a-9f00-1234567890ab'

/** Throwaway routes that exercise the shell the way resource routes will. */
const testRoutes: FastifyPluginAsyncTypebox = async (app) => {
  app.post('/things', {
    config: { auth: false },
    schema: {
      body: Type.Object({
        name: Type.String({ maxLength: 1000 }),
        tags: Type.Optional(Type.Array(Type.Object({ k: Type.String() }))),
        status: Type.Optional(Type.Union([Type.Literal('active'), Type.Literal('inactive')])),
        note: Type.Optional(Type.Union([Type.String(), Type.Null()]))
      })
    }
  }, async (request, reply) => reply.code(201).send({ name: request.body.name }))

  app.get('/things', { config: { auth: false }, schema: { querystring: Pagination } },
    async (request) => ({ limit: request.query.limit, type: typeof request.query.limit }))

  app.get('/pages', {
    config: { auth: {} },
    schema: { querystring: Pagination, response: { 200: Paged(Type.Object({ id: Type.String() })) } }
  }, async () => ({ items: [{ id: 'a' }], nextCursor: null }))

  app.get('/things/:id', { config: { auth: false }, schema: { params: UuidParam } }, async (request) => ({ id: request.params.id }))

  app.get('/boom', { config: { auth: false } }, async () => {
    throw new Error('connection to /srv/secret.db failed')
  })

  app.get('/fail/:what', {
    config: { auth: false },
    schema: { response: { 200: Type.Object({}), ...problemResponses(404, 409, 412, 422, 503) } }
  }, async (request) => {
    const what = (request.params as { what: string }).what
    if (what === 'not-found') throw new DomainError('USER_NOT_FOUND', 'No user with that id.')
    if (what === 'weak') throw new DomainError('WEAK_PASSWORD', 'The password is too short.', { reason: 'too_short', status: 200 })
    if (what === 'revision') throw new WrongExpectedRevisionError('user-1', 3, 4)
    if (what === 'store') throw new StoreUnavailableError('disk full at /var/lib/idm')
    if (what === 'if-match') throw problem.preconditionFailed()
    if (what === 'idempotency') throw new IdempotencyConflictError('user-1', 'e1')
    if (what === 'credentials') throw Object.assign(new Error('invalid username or password'), { code: 'INVALID_CREDENTIALS' })
    if (what === 'stale') throw Object.assign(new Error('expected version 3, current version is 4'), { code: 'PRECONDITION_FAILED' })
    if (what === 'teapot') throw Object.assign(new Error('short and stout'), { statusCode: 418 })
    if (what === 'proto-code') throw Object.assign(new Error('x'), { code: 'constructor' })
    return {}
  })
}

t.test('request validation', async (t) => {
  const { app } = await buildTestApp(t, { routes: [testRoutes] })

  t.test('a valid body passes untouched', async (t) => {
    const res = await app.inject({ method: 'POST', url: '/v1/things', payload: { name: 'ok' } })
    t.equal(res.statusCode, 201)
    t.same(res.json(), { name: 'ok' })
  })

  t.test('an unknown body property is a 400 pointing at it', async (t) => {
    const res = await app.inject({ method: 'POST', url: '/v1/things', payload: { name: 'x', extra: true } })
    t.equal(res.statusCode, 400)
    t.match(res.headers['content-type'], PROBLEM_JSON)
    const body = res.json()
    t.match(body, { type: /\/problems\/validation$/, title: String, status: 400, detail: String })
    t.same(body.errors, [{ path: '/body/extra', message: 'is not an allowed property' }])
  })

  t.test('nested objects are closed too', async (t) => {
    const res = await app.inject({ method: 'POST', url: '/v1/things', payload: { name: 'x', tags: [{ k: 'a', role: 'admin' }] } })
    t.equal(res.statusCode, 400)
    t.same(res.json().errors, [{ path: '/body/tags/0/role', message: 'is not an allowed property' }])
  })

  t.test('a wrongly typed body value is not coerced', async (t) => {
    const res = await app.inject({ method: 'POST', url: '/v1/things', payload: { name: 5 } })
    t.equal(res.statusCode, 400)
    t.same(res.json().errors, [{ path: '/body/name', message: 'must be string' }])
  })

  t.test('unions get one message', async (t) => {
    let res = await app.inject({ method: 'POST', url: '/v1/things', payload: { name: 'x', status: 'locked' } })
    t.same(res.json().errors, [{ path: '/body/status', message: 'must be one of "active", "inactive"' }])
    res = await app.inject({ method: 'POST', url: '/v1/things', payload: { name: 'x', note: 5 } })
    t.same(res.json().errors, [{ path: '/body/note', message: 'must be string or null' }])
    t.equal((await app.inject({ method: 'POST', url: '/v1/things', payload: { name: 'x', note: null, status: 'active' } })).statusCode, 201)
  })

  t.test('a missing property and a missing body', async (t) => {
    let res = await app.inject({ method: 'POST', url: '/v1/things', payload: {} })
    t.same(res.json().errors, [{ path: '/body/name', message: 'is required' }])
    res = await app.inject({ method: 'POST', url: '/v1/things' })
    t.equal(res.statusCode, 400)
    t.same(res.json().errors, [{ path: '/body', message: 'must be object' }])
  })

  t.test('querystring numbers are parsed, defaults applied, ranges enforced', async (t) => {
    t.same((await app.inject({ url: '/v1/things?limit=20' })).json(), { limit: 20, type: 'number' })
    t.same((await app.inject({ url: '/v1/things' })).json(), { limit: 50, type: 'number' })
    for (const bad of ['0', 'abc', '201', '1.5', '']) {
      const res = await app.inject({ url: `/v1/things?limit=${bad}` })
      t.equal(res.statusCode, 400, `limit=${bad}`)
      t.equal(res.json().errors[0].path, '/query/limit', `limit=${bad}`)
    }
    const long = await app.inject({ url: `/v1/things?cursor=${'x'.repeat(513)}` })
    t.equal(long.json().errors[0].path, '/query/cursor')
  })

  t.test('a non-uuid id in the path is a 400, not a 500', async (t) => {
    const res = await app.inject({ url: '/v1/things/not-a-uuid' })
    t.equal(res.statusCode, 400)
    t.same(res.json().errors, [{ path: '/params/id', message: 'must match format "uuid"' }])
    t.equal((await app.inject({ url: `/v1/things/${ID}` })).statusCode, 200)
  })
})

t.test('request bodies: JSON only, bounded, no prototype keys', async (t) => {
  const { app } = await buildTestApp(t, { routes: [testRoutes] })
  const post = (payload: string, contentType?: string) => app.inject({
    method: 'POST', url: '/v1/things', payload, headers: contentType === undefined ? {} : { 'content-type': contentType }
  })

  t.test('malformed JSON is a 400', async (t) => {
    const res = await post('{"name": ', 'application/json')
    t.equal(res.statusCode, 400)
    t.match(res.headers['content-type'], PROBLEM_JSON)
    t.match(res.json(), { type: /\/problems\/malformed-body$/, status: 400, errors: [{ path: '/body' }] })
    t.equal((await post('', 'application/json')).statusCode, 400, 'an empty JSON body')
  })

  t.test('another content type is a 415', async (t) => {
    for (const type of ['text/plain', 'application/x-www-form-urlencoded', 'application/xml']) {
      const res = await post('name=x', type)
      t.equal(res.statusCode, 415, type)
      t.match(res.json(), { type: /\/problems\/unsupported-media-type$/, status: 415, title: String, detail: String })
    }
  })

  t.test('a body without a content type is a 415', async (t) => {
    const res = await post('{"name":"x"}')
    t.equal(res.statusCode, 415)
  })

  t.test('a body over the limit is a 413', async (t) => {
    const res = await post(JSON.stringify({ name: 'x'.repeat(70 * 1024) }), 'application/json')
    t.equal(res.statusCode, 413)
    t.match(res.json(), { type: /\/problems\/payload-too-large$/, status: 413 })
  })

  t.test('__proto__ and constructor keys are a 400 at any depth', async (t) => {
    for (const payload of [
      '{"name":"x","__proto__":{"isAdmin":true}}',
      '{"name":"x","constructor":{"prototype":{"isAdmin":true}}}',
      '{"name":"x","tags":[{"k":"a","__proto__":{"x":1}}]}'
    ]) {
      const res = await post(payload, 'application/json')
      t.equal(res.statusCode, 400, payload)
      t.match(res.json(), { status: 400, detail: /forbidden key/ })
    }
    t.equal(({} as Record<string, unknown>).isAdmin, undefined, 'no prototype was polluted')
  })

  t.test('charset parameters are fine', async (t) => {
    t.equal((await post('{"name":"x"}', 'application/json; charset=utf-8')).statusCode, 201)
  })
})

t.test('problem details for everything else', async (t) => {
  const { app } = await buildTestApp(t, { routes: [testRoutes] })

  t.test('an unknown route is a 404 problem', async (t) => {
    for (const url of ['/nope', '/v1/nope']) {
      const res = await app.inject({ url })
      t.equal(res.statusCode, 404)
      t.match(res.headers['content-type'], PROBLEM_JSON)
      t.same(Object.keys(res.json()).sort(), ['detail', 'status', 'title', 'type'])
    }
  })

  t.test('an unexpected error is a 500 with a generic detail', async (t) => {
    const res = await app.inject({ url: '/v1/boom' })
    t.equal(res.statusCode, 500)
    const body = res.json()
    t.match(body, { type: /\/problems\/internal$/, title: 'Internal server error', status: 500 })
    t.notMatch(res.body, /secret|srv|stack|at /)
    t.same(Object.keys(body).sort(), ['detail', 'status', 'title', 'type'])
  })

  t.test('domain and store errors map to their statuses', async (t) => {
    const cases = [
      ['not-found', 404, /user-not-found$/],
      ['weak', 422, /weak-password$/],
      ['revision', 409, /concurrent-modification$/],
      ['store', 503, /unavailable$/],
      ['if-match', 412, /precondition-failed$/],
      ['stale', 412, /precondition-failed$/],
      ['idempotency', 422, /idempotency-key-reused$/],
      ['credentials', 401, /invalid-credentials$/],
      ['teapot', 418, /^about:blank$/],
      ['proto-code', 500, /internal$/]
    ] as const
    for (const [what, status, type] of cases) {
      const res = await app.inject({ url: `/v1/fail/${what}` })
      t.equal(res.statusCode, status, what)
      t.match(res.headers['content-type'], PROBLEM_JSON, what)
      t.match(res.json(), { type, status, title: String, detail: String }, what)
    }
    const weak = (await app.inject({ url: '/v1/fail/weak' })).json()
    t.match(weak, { code: 'WEAK_PASSWORD', reason: 'too_short', status: 422, detail: 'The password is too short.' },
      'domain details become extension members, never overriding the reserved ones')
    const credentials = await app.inject({ url: '/v1/fail/credentials' })
    t.equal(credentials.headers['www-authenticate'], 'Bearer')
    t.equal(credentials.json().detail, 'The username or password is not correct.')
    t.equal((await app.inject({ url: '/v1/fail/teapot' })).json().title, "I'm a Teapot")
    t.notMatch((await app.inject({ url: '/v1/fail/stale' })).body, /expected version/, 'internal messages stay inside')
    const store = await app.inject({ url: '/v1/fail/store' })
    t.equal(store.headers['retry-after'], '5')
    t.notMatch(store.body, /disk|var/)
  })

  t.test('the app can plug in its own mappers', async (t) => {
    class Teapot extends Error {}
    const { app } = await buildTestApp(t, {
      errorMappers: [(e) => e instanceof Teapot ? { status: 409, slug: 'teapot', title: 'Teapot', detail: 'short and stout' } : undefined],
      routes: [async (v1) => { v1.get('/teapot', { config: { auth: false } }, async () => { throw new Teapot() }) }]
    })
    const res = await app.inject({ url: '/v1/teapot' })
    t.equal(res.statusCode, 409)
    t.match(res.json(), { type: /\/problems\/teapot$/, title: 'Teapot', detail: 'short and stout' })
  })
})

t.test('request ids', async (t) => {
  const { app } = await buildTestApp(t, { routes: [testRoutes] })

  t.test('a valid x-request-id is echoed, on success, errors and 404s', async (t) => {
    for (const url of ['/health/live', '/v1/boom', '/missing', '/v1/things?limit=0', '/docs/', '/openapi.json']) {
      const res = await app.inject({ url, headers: { 'x-request-id': 'abc.DEF_123-x' } })
      t.equal(res.headers['x-request-id'], 'abc.DEF_123-x', url)
    }
  })

  t.test('an invalid one is replaced by a UUID', async (t) => {
    for (const given of ['has space', 'x'.repeat(129), 'semi;colon', '']) {
      const res = await app.inject({ url: '/health/live', headers: { 'x-request-id': given } })
      t.match(res.headers['x-request-id'], /^[0-9a-f]{8}-[0-9a-f]{4}-4[0-9a-f]{3}-[89ab][0-9a-f]{3}-[0-9a-f]{12}$/, JSON.stringify(given))
    }
    const a = await app.inject({ url: '/health/live' })
    const b = await app.inject({ url: '/health/live' })
    t.not(a.headers['x-request-id'], b.headers['x-request-id'])
  })
})

t.test('health, metrics, security headers', async (t) => {
  let ready = false
  const { app } = await buildTestApp(t, { routes: [testRoutes], ready: () => ready, metrics: { defaultMetrics: true } })

  t.test('liveness and readiness', async (t) => {
    const live = await app.inject({ url: '/health/live' })
    t.equal(live.statusCode, 200)
    t.same(live.json(), { status: 'ok' })
    const notReady = await app.inject({ url: '/health/ready' })
    t.equal(notReady.statusCode, 503)
    t.match(notReady.headers['content-type'], PROBLEM_JSON)
    t.ok(notReady.headers['retry-after'])
    ready = true
    t.equal((await app.inject({ url: '/health/ready' })).statusCode, 200)
  })

  t.test('metrics expose the request histogram by route pattern', async (t) => {
    await app.inject({ url: `/v1/things/${ID}` })
    await app.inject({ url: '/nowhere/at/all' })
    const res = await app.inject({ url: '/metrics' })
    t.equal(res.statusCode, 200)
    t.match(res.headers['content-type'], /^text\/plain/)
    t.match(res.body, /# TYPE http_request_duration_seconds histogram/)
    t.match(res.body, /http_request_duration_seconds_count\{method="GET",route="\/v1\/things\/:id",status_code="200"\} 1/)
    t.match(res.body, /route="unmatched",status_code="404"/)
    t.notMatch(res.body, new RegExp(ID), 'never the raw URL')
    t.match(res.body, /process_cpu_user_seconds_total/, 'default process metrics')
  })

  t.test('the registry takes the application\'s own metrics', async (t) => {
    const { Counter } = await import('prom-client')
    const counter = new Counter({ name: 'idm_events_appended_total', help: 'test', registers: [app.metrics.registry] })
    counter.inc(3)
    t.match((await app.inject({ url: '/metrics' })).body, /idm_events_appended_total 3/)
  })

  t.test('helmet headers are set; the API forbids all content, /docs gets its own policy', async (t) => {
    const res = await app.inject({ url: '/health/live' })
    t.equal(res.headers['x-content-type-options'], 'nosniff')
    t.equal(res.headers['x-frame-options'], 'SAMEORIGIN')
    t.match(res.headers['strict-transport-security'], /max-age=/)
    t.match(res.headers['content-security-policy'], /default-src 'none'/)
    t.equal(res.headers['access-control-allow-origin'], undefined, 'CORS is off by default')
    const docs = await app.inject({ url: '/docs/' })
    t.equal(docs.statusCode, 200)
    t.match(docs.headers['content-security-policy'], /script-src 'self'/)
  })
})

t.test('CORS when origins are configured', async (t) => {
  const { app } = await buildTestApp(t, { env: { IDM_CORS_ORIGINS: 'https://app.example.com' }, routes: [testRoutes] })
  const ok = await app.inject({ url: '/health/live', headers: { origin: 'https://app.example.com' } })
  t.equal(ok.headers['access-control-allow-origin'], 'https://app.example.com')
  t.match(ok.headers['access-control-expose-headers'], /x-request-id/)
  const other = await app.inject({ url: '/health/live', headers: { origin: 'https://evil.example.com' } })
  t.equal(other.headers['access-control-allow-origin'], undefined)
  const preflight = await app.inject({
    method: 'OPTIONS',
    url: '/v1/things',
    headers: { origin: 'https://app.example.com', 'access-control-request-method': 'POST', 'access-control-request-headers': 'authorization, content-type' }
  })
  t.equal(preflight.statusCode, 204)
  t.match(preflight.headers['access-control-allow-headers'], /authorization/)
  t.match(preflight.headers['access-control-allow-methods'], /POST/)
})

t.test('OpenAPI 3.1 document', async (t) => {
  const { app } = await buildTestApp(t, { routes: [testRoutes] })
  const res = await app.inject({ url: '/openapi.json' })
  t.equal(res.statusCode, 200)
  const doc = res.json()
  t.equal(doc.openapi, '3.1.0')
  const result = await new Validator().validate(doc)
  t.ok(result.valid, JSON.stringify(result.errors))
  t.same(doc.components.securitySchemes.bearerAuth, { type: 'http', scheme: 'bearer', bearerFormat: 'JWT', description: 'An access token from POST /v1/authentication' })
  const post = doc.paths['/v1/things'].post
  t.same(post.security, [], 'a public route says so')
  t.equal(post.requestBody.content['application/json'].schema.additionalProperties, false, 'closed bodies are documented')
  t.ok(post.responses['400'].content['application/problem+json'], 'validation problems are documented')
  t.ok(post.responses['413'] && post.responses['415'])
  const get = doc.paths['/v1/things'].get
  t.match(get.parameters.find((p: { name: string }) => p.name === 'limit'), { in: 'query', required: false, schema: { type: 'integer', minimum: 1, maximum: 200, default: 50 } })
  t.ok(doc.paths['/v1/fail/{what}'].get.responses['422'])
  t.ok(doc.paths['/.well-known/jwks.json'] && doc.paths['/health/ready'] && doc.paths['/metrics'])
  t.notOk(doc.paths['/openapi.json'], 'the document does not list itself')
  const pages = doc.paths['/v1/pages'].get
  t.same(pages.security, [{ bearerAuth: [] }], 'an authenticated route says so')
  t.ok(pages.responses['401'], '401 is documented where auth is required')
  t.ok(pages.responses['403'], '403 even when any authenticated user may call it: a user who must first enrol a second factor gets it')
  t.same(pages.responses['200'].content['application/json'].schema.properties.nextCursor, { anyOf: [{ type: 'string' }, { type: 'null' }] })
})

t.test('a /v1 route must declare who may call it', async (t) => {
  await t.rejects(buildTestApp(t, {
    routes: [async (v1) => { v1.get('/undeclared', async () => ({})) }]
  }).then(({ app }) => app.ready()), /GET \/v1\/undeclared must declare config.auth/)
  await t.rejects(buildTestApp(t, {
    routes: [async (v1) => { v1.get('/bad', { config: { auth: { self: 'body.id' as 'params.id' } } }, async () => ({})) }]
  }).then(({ app }) => app.ready()), /config.auth.self must name a route parameter/)
})
