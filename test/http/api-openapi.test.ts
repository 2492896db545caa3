/**
 * The real service's OpenAPI document: valid OpenAPI 3.1, every endpoint of the contract in it,
 * every operation's security declared and matching what the route enforces, problem+json for
 * errors, closed request bodies; and the response checker the other API tests rely on.
 */
import t from 'tap'
import { expectProblem, loadApiDocument, openApiService } from '../helpers/api.js'

const svc = await openApiService(t)
const api = await loadApiDocument(svc)
const { doc } = api

interface Operation {
  security?: unknown
  parameters?: { name: string, in: string, required?: boolean, schema?: Record<string, unknown> }[]
  requestBody?: { content: Record<string, { schema: Record<string, unknown> }> }
  responses: Record<string, { content?: Record<string, { schema?: unknown }> }>
}
const METHODS = ['get', 'put', 'post', 'delete', 'patch']
const operations = Object.entries(doc.paths).flatMap(([path, item]) =>
  Object.entries(item).filter(([m]) => METHODS.includes(m)).map(([method, op]) => ({ path, method, op: op as unknown as Operation })))

t.test('the document is valid OpenAPI 3.1', async t => {
  t.equal(doc.openapi, '3.1.0')
  t.ok(api.validity.valid, api.validity.errors)
  t.match(doc.components, { securitySchemes: { bearerAuth: { type: 'http', scheme: 'bearer', bearerFormat: 'JWT' } } })
  const res = await svc.call('GET', '/openapi.json')
  t.equal(res.statusCode, 200, 'served without a token')
})

t.test('every endpoint of the contract is documented', async t => {
  const expected = [
    'post /v1/authentication',
    'get /v1/users', 'post /v1/users', 'get /v1/users/me', 'get /v1/users/by-username/{username}',
    'get /v1/users/{id}', 'put /v1/users/{id}', 'put /v1/users/{id}/status', 'put /v1/users/{id}/password',
    'post /v1/users/{id}/roles', 'delete /v1/users/{id}/roles/{roleId}',
    'post /v1/users/{id}/companies', 'delete /v1/users/{id}/companies/{companyId}',
    'post /v1/users/{id}/providers', 'delete /v1/users/{id}/providers/{providerId}',
    ...['roles', 'companies', 'providers', 'identification-types'].flatMap(c => [
      `get /v1/${c}`, `post /v1/${c}`, `get /v1/${c}/{id}`, `put /v1/${c}/{id}`
    ]),
    'get /.well-known/jwks.json', 'get /health/live', 'get /health/ready', 'get /metrics'
  ]
  const present = new Set(operations.map(o => `${o.method} ${o.path}`))
  for (const e of expected) t.ok(present.has(e), e)
})

t.test('every operation declares its security, consistent with what the route enforces', async t => {
  const publicOps = new Set(['post /v1/authentication', 'post /v1/authentication/mfa', 'get /.well-known/jwks.json', 'get /health/live', 'get /health/ready', 'get /metrics'])
  for (const { path, method, op } of operations) {
    const name = `${method} ${path}`
    t.ok(Array.isArray(op.security), `${name} declares security`)
    if (publicOps.has(name)) {
      t.same(op.security, [], `${name} is public`)
      continue
    }
    t.same(op.security, [{ bearerAuth: [] }], `${name} needs a bearer token`)
    t.ok(op.responses['401'], `${name} documents 401`)
    if (name !== 'get /v1/users/me') t.ok(op.responses['403'], `${name} documents 403`)
    // What the document says is what happens: no token, 401 with the documented problem.
    const url = path.replace('{id}', '0190a6d2-7c1e-7b3a-9f00-1234567890ab').replace(/\{[^}]+\}/g, 'x-y')
    const res = await svc.call(method.toUpperCase(), url, method === 'get' || method === 'delete' ? {} : { body: {} })
    expectProblem(t, res, 401, {}, `${name} without a token`)
    api.check(t, method.toUpperCase(), path, res)
  }
})

t.test('errors are problem+json; successes declare a schema', async t => {
  for (const { path, method, op } of operations) {
    for (const [status, response] of Object.entries(op.responses)) {
      const code = Number(status)
      if (code >= 400) {
        t.ok(response.content?.['application/problem+json']?.schema, `${method} ${path} ${status} is problem+json`)
      } else if (code >= 200 && code < 300 && code !== 204 && path !== '/metrics') {
        const content = response.content ?? {}
        t.ok(Object.values(content).some(c => c.schema !== undefined), `${method} ${path} ${status} declares a schema`)
      }
    }
    if (op.requestBody !== undefined) {
      const schema = op.requestBody.content['application/json']?.schema
      t.equal(schema?.additionalProperties, false, `${method} ${path}: the body is closed`)
      for (const code of ['400', '413', '415']) t.ok(op.responses[code], `${method} ${path} documents ${code}`)
    }
  }
})

t.test('ids and query parameters are typed', async t => {
  for (const { path, method, op } of operations) {
    if (!path.startsWith('/v1/users/{id}')) continue
    const id = op.parameters?.find(p => p.name === 'id' && p.in === 'path')
    t.match(id, { required: true, schema: { type: 'string', format: 'uuid' } }, `${method} ${path}: id is a UUID`)
  }
  const list = doc.paths['/v1/users']!.get as unknown as Operation
  const query = Object.fromEntries((list.parameters ?? []).filter(p => p.in === 'query').map(p => [p.name, p.schema]))
  t.same(Object.keys(query).sort(), ['companyId', 'cursor', 'email', 'identificationNumber', 'identificationType', 'limit', 'providerId', 'q', 'role', 'status', 'username'].sort())
  t.match(query.limit, { type: 'integer', minimum: 1, maximum: 200, default: 50 })
})

t.test('the response checker accepts what conforms and catches what does not', async t => {
  const me = await svc.call('GET', '/v1/users/me', { token: svc.admin })
  t.equal(api.validate('GET', '/v1/users/me', me), null)
  const user = me.json()
  const variant = (body: unknown, statusCode = 200) => ({ statusCode, headers: me.headers, body: JSON.stringify(body) })
  const { id: _id, ...withoutId } = user
  t.match(api.validate('GET', '/v1/users/me', variant(withoutId)), /id/, 'a missing property')
  t.match(api.validate('GET', '/v1/users/me', variant({ ...user, passwordHash: 'x' })), /additional/, 'an extra property')
  t.match(api.validate('GET', '/v1/users/me', variant({ ...user, status: 'deleted' })), /status/, 'a value outside the enum')
  t.match(api.validate('GET', '/v1/users/me', variant({ ...user, id: 'nope' })), /format|uuid/, 'a bad format')
  t.match(api.validate('GET', '/v1/users/me', variant(user, 418)), /does not declare/, 'an undocumented status')
  t.match(api.validate('GET', '/v1/nowhere', me), /not in the OpenAPI document/)
})

t.test('the public endpoints conform too', async t => {
  for (const path of ['/.well-known/jwks.json', '/health/live', '/health/ready']) {
    const res = await svc.call('GET', path)
    t.equal(res.statusCode, 200, path)
    api.check(t, 'GET', path, res)
  }
})
