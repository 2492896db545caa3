/**
 * Issue 18, repro 3: a lone UTF-16 surrogate in a string was a 500 (canonical JSON, the hash
 * chain, refuses it). Generated from the service's own OpenAPI document: every string field of
 * every request body (nested ones too), one at a time, set to a string with a lone surrogate in an
 * otherwise valid request, answers 4xx — 400 naming the field, and on sign-in the same 401 as any
 * failed sign-in — and appends nothing but a failed sign-in. Query strings cannot carry a lone
 * surrogate (percent-encoding is UTF-8), but their strings go through the same check.
 */
import t from 'tap'
import { ADMIN_PASSWORD, loadApiDocument, openApiService, PASSWORD, profileOf, UNKNOWN_ID, userBody } from '../helpers/api.js'

type Json = Record<string, any>
const LONE = 'ab\ud800c'

/** A value the schema accepts where it can tell (formats, enums, bounds); patterns may still refuse it. */
function sample (schema: Json): unknown {
  if (schema.const !== undefined) return schema.const
  if (Array.isArray(schema.enum)) return schema.enum[0]
  const union = schema.anyOf ?? schema.oneOf
  if (Array.isArray(union)) return sample(union.find((b: Json) => b.type !== 'null') ?? union[0])
  switch (schema.type) {
    case 'object': return Object.fromEntries((schema.required ?? []).map((k: string) => [k, sample(schema.properties?.[k] ?? {})]))
    case 'array': return Array.from({ length: schema.minItems ?? 0 }, () => sample(schema.items ?? {}))
    case 'integer': case 'number': return schema.minimum ?? 0
    case 'boolean': return false
    case 'string':
      if (schema.format === 'email') return 'someone@example.com'
      if (schema.format === 'uuid') return UNKNOWN_ID
      if (schema.format === 'date-time') return '2031-01-01T00:00:00.000Z'
      return 'x'.repeat(Math.max(3, schema.minLength ?? 0))
    default: return null
  }
}

/** JSON pointers (as key paths) of every string the schema allows, one array element deep. */
function stringPaths (schema: Json, path: Array<string | number> = []): Array<Array<string | number>> {
  const union = schema.anyOf ?? schema.oneOf
  if (Array.isArray(union)) return union.flatMap((b: Json) => stringPaths(b, path)).filter((p, i, all) => all.findIndex(q => q.join('/') === p.join('/')) === i)
  if (schema.type === 'string') return [path]
  if (schema.type === 'object') return Object.entries(schema.properties ?? {}).flatMap(([k, v]) => stringPaths(v as Json, [...path, k]))
  if (schema.type === 'array' && schema.items !== undefined) return stringPaths(schema.items, [...path, 0])
  return []
}

function setPath (value: unknown, path: ReadonlyArray<string | number>, leaf: unknown): unknown {
  if (path.length === 0) return leaf
  const [head, ...rest] = path as [string | number, ...Array<string | number>]
  if (typeof head === 'number') {
    const array = Array.isArray(value) ? [...value] : []
    array[head] = setPath(array[head] ?? (typeof rest[0] === 'number' ? [] : rest.length > 0 ? {} : undefined), rest, leaf)
    return array
  }
  const object = { ...(value as Json | null ?? {}) }
  object[head] = setPath(object[head] ?? (typeof rest[0] === 'number' ? [] : rest.length > 0 ? {} : undefined), rest, leaf)
  return object
}

t.test('illFormedAt finds a lone surrogate in strings and property names, at any depth', async t => {
  const { illFormedAt } = await import('../../src/http/plugins/validation.js')
  t.equal(illFormedAt({ a: ['ok', { b: 'x\udc00' }] }, ''), '/a/1/b')
  t.equal(illFormedAt({ ['k\ud800']: 1 }, ''), '/k\ufffd')
  t.equal(illFormedAt({ a: '😀 paired surrogates are fine' }, ''), null)
  t.equal(illFormedAt('\ud83d', '/q'), '/q')
})

t.test('a lone surrogate in any string field of any route is a 4xx and changes nothing', async t => {
  const svc = await openApiService(t)
  const api = await loadApiDocument(svc)
  for (const [path, id] of [['roles', 'wf-role'], ['companies', 'wf-co'], ['providers', 'wf-prov']] as const) {
    t.equal((await svc.call('POST', `/v1/${path}`, { token: svc.admin, body: { id, name: id } })).statusCode, 201)
  }
  const user = await svc.createUser()
  const ids: Record<string, string> = { id: user.id, roleId: 'wf-role', companyId: 'wf-co', providerId: 'wf-prov', username: user.username, code: 'CC' }
  /** Valid bodies where a generated one would not pass (patterns, cross-field rules). */
  const known: Record<string, unknown> = {
    'post /v1/authentication': { username: 'admin', password: ADMIN_PASSWORD },
    'post /v1/users': userBody(),
    'put /v1/users/{id}': profileOf(user),
    'put /v1/users/{id}/status': { status: 'inactive', reason: 'a reason' },
    'put /v1/users/{id}/password': { newPassword: 'another long enough passphrase', currentPassword: PASSWORD },
    'post /v1/users/{id}/roles': { roleId: 'wf-role' },
    'post /v1/users/{id}/companies': { companyId: 'wf-co' },
    'post /v1/users/{id}/providers': { providerId: 'wf-prov', externalUserId: 'ext-1' }
  }
  let tried = 0
  const routes = new Set<string>()
  for (const [template, operations] of Object.entries(api.doc.paths)) {
    for (const [method, operation] of Object.entries(operations)) {
      const schema = (operation as Json).requestBody?.content?.['application/json']?.schema as Json | undefined
      if (schema === undefined) continue
      const url = template.replace(/\{(\w+)\}/g, (_, name: string) => encodeURIComponent(ids[name] ?? (template.includes('/v1/users') ? user.id : `wf-${name}`)))
      const key = `${method} ${template}`
      const base = known[key] ?? (/^(post|put) \/v1\/(roles|companies|providers|identification-types)/.test(key) ? { ...(sample(schema) as Json), ...(method === 'post' ? { id: 'wf-new' } : {}) } : sample(schema))
      for (const field of stringPaths(schema)) {
        const body = setPath(base, field, LONE)
        const before = await svc.eventCount()
        const res = await svc.call(method.toUpperCase(), url, { token: svc.admin, body })
        tried++
        routes.add(key)
        const where = `${key} with a lone surrogate at /${field.join('/')}`
        t.ok(res.statusCode >= 400 && res.statusCode < 500, `${where}: ${res.statusCode}`)
        if (key === 'post /v1/authentication') {
          t.equal(res.statusCode, 401, `${where}: the usual 401`)
        } else {
          t.equal(await svc.eventCount(), before, `${where}: nothing appended`)
        }
      }
    }
  }
  t.comment(`${tried} requests over ${routes.size} routes with a body`)
  t.ok(routes.size >= 12, `every route with a body was tried (${routes.size})`)
  const query = await svc.call('GET', '/v1/users?q=%ED%A0%80', { token: svc.admin })
  t.ok(query.statusCode < 500, `a percent-encoded surrogate in a query string: ${query.statusCode}`)
})

t.test('a sign-in with an ill-formed password and an Idempotency-Key is the usual 401, not a 500 (fuzz seed 295016331)', async t => {
  const svc = await openApiService(t)
  for (const body of ['{"username":"admin","password":"\\ud800"}', '{"username":"\\udfff","password":"whatever it is"}']) {
    const res = await svc.raw('POST', '/v1/authentication', { payload: body, contentType: 'application/json', headers: { 'idempotency-key': 'retry-1' } })
    t.equal(res.statusCode, 401, `${body}: ${res.statusCode}`)
    const again = await svc.raw('POST', '/v1/authentication', { payload: body, contentType: 'application/json', headers: { 'idempotency-key': 'retry-1' } })
    t.equal(again.statusCode, 401, `${body} again with the same key: ${again.statusCode}`)
  }
})
