/**
 * The four catalogs on the real service: the fresh install's entries, listing and reading, POST
 * (client-chosen id) and PUT (rename, deactivate), their errors, and who may do what.
 */
import t from 'tap'
import { errorPaths, expectProblem, loadApiDocument, openApiService } from '../helpers/api.js'

const svc = await openApiService(t)
const api = await loadApiDocument(svc)
const admin = svc.admin
const auditorToken = await svc.login((await svc.createUser({ roles: ['identity-auditor'] })).username)
const subscriberToken = await svc.login((await svc.createUser({ roles: ['identity-subscriber'] })).username)
const plainToken = await svc.login((await svc.createUser()).username)

interface Entry { id: string, name: string, status: string, version: number, [key: string]: unknown }
const list = async (path: string, query = '', token = admin) => {
  const res = await svc.call('GET', `/v1/${path}${query}`, { token })
  if (res.statusCode !== 200) throw new Error(`GET /v1/${path}${query}: ${res.statusCode} ${res.body}`)
  return res.json() as { items: Entry[], nextCursor: string | null }
}

const CATALOGS = [
  { path: 'roles', id: 'dispatcher', other: 'planner', extra: { description: 'Dispatches loads' }, badIds: ['Dispatcher', 'has space', '-lead', 'a_b', 'x'.repeat(65)] },
  { path: 'companies', id: 'acme', other: 'globex', extra: { identificationType: 'NIT', identificationNumber: '900123456-7' }, badIds: ['ACME', 'acme inc', 'acme.co'] },
  { path: 'providers', id: 'carrier-x', other: 'carrier-y', extra: { identificationType: null, identificationNumber: null }, badIds: ['Carrier', 'carrier_x'] },
  { path: 'identification-types', id: 'DNI', other: 'CUIT', extra: {}, badIds: ['dni', '1AB', 'ABCDEFGHIJK', 'D-N'] }
] as const

t.test('a fresh install holds the system roles and Colombia\'s identification types', async t => {
  const roles = await svc.call('GET', '/v1/roles', { token: admin })
  t.equal(roles.statusCode, 200)
  api.check(t, 'GET', '/v1/roles', roles)
  const byId = Object.fromEntries((roles.json().items as Entry[]).map(r => [r.id, r]))
  for (const id of ['identity-admin', 'identity-auditor', 'identity-subscriber']) {
    t.match(byId[id], { id, name: String, description: String, system: true, status: 'active' }, id)
  }
  const types = await svc.call('GET', '/v1/identification-types', { token: admin })
  api.check(t, 'GET', '/v1/identification-types', types)
  const items = types.json().items as Entry[]
  t.same(items.map(i => i.id).sort(), ['CC', 'CE', 'NIT', 'PA', 'PEP', 'PPT', 'RC', 'TI'])
  t.same(items.map(i => i.id), [...items.map(i => i.id)].sort(), 'sorted by id')
  t.match(Object.fromEntries(items.map(i => [i.id, i.name])), {
    CC: 'Cédula de ciudadanía', CE: 'Cédula de extranjería', NIT: 'Número de identificación tributaria', PA: 'Pasaporte',
    TI: 'Tarjeta de identidad', RC: 'Registro civil de nacimiento', PEP: 'Permiso especial de permanencia', PPT: 'Permiso por protección temporal'
  })
  t.ok(items.every(i => i.status === 'active'))
  for (const path of ['companies', 'providers']) {
    const res = await svc.call('GET', `/v1/${path}`, { token: admin })
    t.same(res.json(), { items: [], nextCursor: null }, `no ${path} yet`)
    api.check(t, 'GET', `/v1/${path}`, res)
  }
})

for (const c of CATALOGS) {
  const one = `/v1/${c.path}/{id}`
  t.test(`${c.path}: POST defines, GET reads, PUT renames and deactivates`, async t => {
    const created = await svc.call('POST', `/v1/${c.path}`, { token: admin, body: { id: c.id, name: 'First name', ...c.extra } })
    t.equal(created.statusCode, 201, created.body)
    api.check(t, 'POST', `/v1/${c.path}`, created)
    t.equal(created.headers.location, `/v1/${c.path}/${c.id}`)
    t.match(created.json(), { id: c.id, name: 'First name', status: 'active', ...c.extra })
    if (c.path === 'roles') t.equal(created.json().system, false, 'a defined role is never a system role')

    const read = await svc.call('GET', `/v1/${c.path}/${c.id}`, { token: admin })
    t.equal(read.statusCode, 200)
    api.check(t, 'GET', one, read)
    t.same(read.json(), created.json(), 'read-your-writes')

    const renamed = await svc.call('PUT', `/v1/${c.path}/${c.id}`, { token: admin, body: { name: 'Second name', ...c.extra, status: 'active' } })
    t.equal(renamed.statusCode, 200, renamed.body)
    api.check(t, 'PUT', one, renamed)
    t.match(renamed.json(), { id: c.id, name: 'Second name', status: 'active' })
    t.ok(renamed.json().version > created.json().version, 'the version moved')

    const off = await svc.call('PUT', `/v1/${c.path}/${c.id}`, { token: admin, body: { name: 'Second name', ...c.extra, status: 'inactive' } })
    t.equal(off.statusCode, 200)
    t.equal(off.json().status, 'inactive')
    t.same((await list(c.path, '?status=inactive')).items.map(e => e.id), [c.id], 'the status filter')
    t.notOk((await list(c.path, '?status=active')).items.some(e => e.id === c.id))

    const on = await svc.call('PUT', `/v1/${c.path}/${c.id}`, { token: admin, body: { name: 'Third name', ...c.extra, status: 'active' } })
    t.equal(on.statusCode, 200)
    t.match(on.json(), { name: 'Third name', status: 'active' })
    t.match((await svc.call('GET', `/v1/${c.path}/${c.id}`, { token: admin })).json(), { name: 'Third name', status: 'active' })
  })

  t.test(`${c.path}: errors`, async t => {
    const before = await svc.eventCount()
    const taken = await svc.call('POST', `/v1/${c.path}`, { token: admin, body: { id: c.id, name: 'Again', ...c.extra } })
    expectProblem(t, taken, 409, { code: 'CATALOG_ENTRY_EXISTS' }, 'a taken id')
    api.check(t, 'POST', `/v1/${c.path}`, taken)
    for (const id of c.badIds) {
      const res = await svc.call('POST', `/v1/${c.path}`, { token: admin, body: { id, name: 'Bad', ...c.extra } })
      t.same(errorPaths(expectProblem(t, res, 400, {}, `id ${id}`)), ['/body/id'])
      const get = await svc.call('GET', `/v1/${c.path}/${encodeURIComponent(id)}`, { token: admin })
      t.same(errorPaths(expectProblem(t, get, 400, {}, `GET ${id}`)), ['/params/id'])
    }
    for (const [body, path] of [
      [{ id: c.other }, '/body/name'],
      [{ id: c.other, name: '' }, '/body/name'],
      [{ id: c.other, name: 'x'.repeat(201) }, '/body/name'],
      [{ id: c.other, name: 'Ok', status: 'inactive' }, '/body/status'],
      [{ id: c.other, name: 'Ok', system: true }, '/body/system'],
      [{ id: c.other, name: 'Ok', version: 3 }, '/body/version']
    ] as const) {
      const res = await svc.call('POST', `/v1/${c.path}`, { token: admin, body })
      t.ok(errorPaths(expectProblem(t, res, 400, {}, JSON.stringify(body))).includes(path), JSON.stringify(res.json().errors))
    }
    const unknownId = c.path === 'identification-types' ? 'NOPE' : 'no-such-entry'
    const missing = await svc.call('GET', `/v1/${c.path}/${unknownId}`, { token: admin })
    expectProblem(t, missing, 404, {}, 'GET unknown')
    api.check(t, 'GET', one, missing)
    const putMissing = await svc.call('PUT', `/v1/${c.path}/${unknownId}`, { token: admin, body: { name: 'X', ...c.extra, status: 'active' } })
    expectProblem(t, putMissing, 404, {}, 'PUT unknown')
    api.check(t, 'PUT', one, putMissing)
    for (const [body, path] of [
      [{ name: 'No status', ...c.extra }, '/body/status'],
      [{ name: 'X', ...c.extra, status: 'deleted' }, '/body/status'],
      [{ name: 'X', ...c.extra, status: 'active', id: c.other }, '/body/id']
    ] as const) {
      const res = await svc.call('PUT', `/v1/${c.path}/${c.id}`, { token: admin, body })
      t.ok(errorPaths(expectProblem(t, res, 400, {}, `PUT ${JSON.stringify(body)}`)).includes(path))
    }
    t.equal(await svc.eventCount(), before, 'no refused request appended anything')
  })

  t.test(`${c.path}: the auditor reads; nobody else but the admin`, async t => {
    t.equal((await svc.call('GET', `/v1/${c.path}`, { token: auditorToken })).statusCode, 200)
    t.equal((await svc.call('GET', `/v1/${c.path}/${c.id}`, { token: auditorToken })).statusCode, 200)
    const before = await svc.eventCount()
    for (const [name, token] of [['auditor', auditorToken], ['subscriber', subscriberToken], ['plain user', plainToken]] as const) {
      const post = await svc.call('POST', `/v1/${c.path}`, { token, body: { id: c.other, name: 'Sneaky', ...c.extra } })
      expectProblem(t, post, 403, {}, `${name} POST`)
      api.check(t, 'POST', `/v1/${c.path}`, post)
      expectProblem(t, await svc.call('PUT', `/v1/${c.path}/${c.id}`, { token, body: { name: 'Sneaky', ...c.extra, status: 'inactive' } }), 403, {}, `${name} PUT`)
    }
    for (const [name, token] of [['subscriber', subscriberToken], ['plain user', plainToken]] as const) {
      const res = await svc.call('GET', `/v1/${c.path}`, { token })
      expectProblem(t, res, 403, {}, `${name} GET list`)
      api.check(t, 'GET', `/v1/${c.path}`, res)
      expectProblem(t, await svc.call('GET', `/v1/${c.path}/${c.id}`, { token }), 403, {}, `${name} GET one`)
    }
    expectProblem(t, await svc.call('GET', `/v1/${c.path}`), 401, {}, 'no token')
    t.equal(await svc.eventCount(), before)
  })
}

t.test('system roles cannot be deactivated', async t => {
  const before = await svc.eventCount()
  for (const id of ['identity-admin', 'identity-auditor', 'identity-subscriber']) {
    const current = (await svc.call('GET', `/v1/roles/${id}`, { token: admin })).json() as Entry
    const res = await svc.call('PUT', `/v1/roles/${id}`, { token: admin, body: { name: current.name, description: current.description, status: 'inactive' } })
    expectProblem(t, res, 422, { code: 'SYSTEM_ROLE_PROTECTED' }, id)
    api.check(t, 'PUT', '/v1/roles/{id}', res)
    t.equal((await svc.call('GET', `/v1/roles/${id}`, { token: admin })).json().status, 'active')
  }
  t.equal(await svc.eventCount(), before)
})

t.test('catalog lists paginate', async t => {
  const ids = ['alpha', 'bravo', 'charlie', 'delta', 'echo']
  for (const id of ids) t.equal((await svc.call('POST', '/v1/companies', { token: admin, body: { id, name: id.toUpperCase() } })).statusCode, 201)
  const full = (await list('companies', '?limit=200')).items.map(e => e.id)
  t.same(full, [...full].sort(), 'sorted by id')
  const seen: string[] = []
  let cursor: string | null = null
  do {
    const page: { items: Entry[], nextCursor: string | null } = await list('companies', `?limit=2${cursor === null ? '' : `&cursor=${cursor}`}`)
    t.ok(page.items.length <= 2)
    seen.push(...page.items.map(e => e.id))
    cursor = page.nextCursor
  } while (cursor !== null)
  t.same(seen, full, 'every entry once, in order')
  for (const limit of ['0', '201', 'abc']) {
    const res = await svc.call('GET', `/v1/companies?limit=${limit}`, { token: admin })
    t.same(errorPaths(expectProblem(t, res, 400, {}, `limit=${limit}`)), ['/query/limit'])
  }
  const { nextCursor } = await list('companies', '?limit=2')
  const foreign = await svc.call('GET', `/v1/companies?limit=2&status=active&cursor=${nextCursor!}`, { token: admin })
  t.same(errorPaths(expectProblem(t, foreign, 400, {}, 'a cursor of another query')), ['/query/cursor'])
  const otherCatalog = await svc.call('GET', `/v1/providers?limit=2&cursor=${nextCursor!}`, { token: admin })
  t.same(errorPaths(expectProblem(t, otherCatalog, 400, {}, 'a cursor of another catalog')), ['/query/cursor'])
  const tampered = await svc.call('GET', '/v1/companies?limit=2&cursor=eyJhIjoiYnJhdm8iLCJoIjoieCJ9', { token: admin })
  t.same(errorPaths(expectProblem(t, tampered, 400, {}, 'tampered cursor')), ['/query/cursor'])
})

t.test('a new catalog entry is usable at once; a deactivated one is refused for new assignments', async t => {
  t.equal((await svc.call('POST', '/v1/roles', { token: admin, body: { id: 'fresh-role', name: 'Fresh' } })).statusCode, 201)
  const user = await svc.createUser({ roles: ['fresh-role'] })
  t.same(user.roles, ['fresh-role'])
  t.equal((await svc.call('PUT', '/v1/roles/fresh-role', { token: admin, body: { name: 'Fresh', status: 'inactive' } })).statusCode, 200)
  const other = await svc.createUser()
  expectProblem(t, await svc.call('POST', `/v1/users/${other.id}/roles`, { token: admin, body: { roleId: 'fresh-role' } }), 422, { code: 'ROLE_INACTIVE' })
})
