/**
 * /v1/users/{id}/roles|companies|providers on the real service: idempotent assign and remove,
 * unknown and inactive catalog entries, bad ids, missing users, and who may call them.
 */
import t from 'tap'
import { UNKNOWN_ID, errorPaths, expectProblem, loadApiDocument, openApiService, type UserView } from '../helpers/api.js'

const svc = await openApiService(t)
const api = await loadApiDocument(svc)
const admin = svc.admin

const define = async (path: string, body: Record<string, unknown>, deactivate = false) => {
  const res = await svc.call('POST', `/v1/${path}`, { token: admin, body })
  if (res.statusCode !== 201) throw new Error(`POST /v1/${path}: ${res.statusCode} ${res.body}`)
  if (deactivate) {
    const off = await svc.call('PUT', `/v1/${path}/${body.id as string}`, { token: admin, body: { name: body.name, status: 'inactive' } })
    if (off.statusCode !== 200) throw new Error(`deactivate: ${off.statusCode} ${off.body}`)
  }
}
await define('roles', { id: 'dispatcher', name: 'Dispatcher' })
await define('roles', { id: 'retired', name: 'Retired' }, true)
await define('companies', { id: 'acme', name: 'Acme' })
await define('companies', { id: 'defunct', name: 'Defunct' }, true)
await define('providers', { id: 'carrier-x', name: 'Carrier X' })
await define('providers', { id: 'gone', name: 'Gone' }, true)

const auditor = await svc.createUser({ roles: ['identity-auditor'] })
const auditorToken = await svc.login(auditor.username)
const plain = await svc.createUser()
const plainToken = await svc.login(plain.username)
const read = async (id: string) => (await svc.call('GET', `/v1/users/${id}`, { token: admin })).json() as UserView

interface Kind {
  readonly path: 'roles' | 'companies' | 'providers'
  readonly field: 'roleId' | 'companyId' | 'providerId'
  readonly active: string
  readonly inactive: string
  readonly prefix: string
  readonly held: (user: UserView) => string[]
}
const KINDS: Kind[] = [
  { path: 'roles', field: 'roleId', active: 'dispatcher', inactive: 'retired', prefix: 'ROLE', held: u => u.roles },
  { path: 'companies', field: 'companyId', active: 'acme', inactive: 'defunct', prefix: 'COMPANY', held: u => u.companies },
  { path: 'providers', field: 'providerId', active: 'carrier-x', inactive: 'gone', prefix: 'PROVIDER', held: u => u.providers.map(p => p.providerId) }
]

for (const kind of KINDS) {
  const collection = `/v1/users/{id}/${kind.path}`
  const item = `/v1/users/{id}/${kind.path}/{${kind.field}}`

  t.test(`${kind.path}: assign, assign again, remove, remove again`, async t => {
    const user = await svc.createUser()
    const assigned = await svc.call('POST', `/v1/users/${user.id}/${kind.path}`, { token: admin, body: { [kind.field]: kind.active } })
    t.equal(assigned.statusCode, 200, assigned.body)
    api.check(t, 'POST', collection, assigned)
    const after = assigned.json() as UserView
    t.same(kind.held(after), [kind.active])
    t.equal(after.version, user.version + 1)
    t.equal(assigned.headers.etag, `"${after.version}"`)
    t.same(await read(user.id), after, 'read-your-writes')

    const events = await svc.eventCount()
    const again = await svc.call('POST', `/v1/users/${user.id}/${kind.path}`, { token: admin, body: { [kind.field]: kind.active } })
    t.equal(again.statusCode, 200)
    t.equal(again.json().version, after.version, 'assigning again does not move the version')
    t.same(kind.held(again.json()), [kind.active])
    t.equal(await svc.eventCount(), events, 'and appends no event')

    const removed = await svc.call('DELETE', `/v1/users/${user.id}/${kind.path}/${kind.active}`, { token: admin })
    t.equal(removed.statusCode, 204)
    t.equal(removed.body, '')
    api.check(t, 'DELETE', item, removed)
    const gone = await read(user.id)
    t.same(kind.held(gone), [])
    t.equal(gone.version, after.version + 1)

    const eventsAfterRemoval = await svc.eventCount()
    const removedAgain = await svc.call('DELETE', `/v1/users/${user.id}/${kind.path}/${kind.active}`, { token: admin })
    t.equal(removedAgain.statusCode, 204, 'removing what is not there succeeds')
    const never = await svc.call('DELETE', `/v1/users/${user.id}/${kind.path}/never-defined`, { token: admin })
    t.equal(never.statusCode, 204, 'even for an id no catalog holds')
    t.equal(await svc.eventCount(), eventsAfterRemoval, 'and appends nothing')
    t.equal((await read(user.id)).version, gone.version)
  })

  t.test(`${kind.path}: unknown or inactive entries are 422`, async t => {
    const user = await svc.createUser()
    const before = await svc.eventCount()
    const unknown = await svc.call('POST', `/v1/users/${user.id}/${kind.path}`, { token: admin, body: { [kind.field]: 'no-such-entry' } })
    expectProblem(t, unknown, 422, { code: `${kind.prefix}_UNKNOWN` })
    api.check(t, 'POST', collection, unknown)
    const inactive = await svc.call('POST', `/v1/users/${user.id}/${kind.path}`, { token: admin, body: { [kind.field]: kind.inactive } })
    expectProblem(t, inactive, 422, { code: `${kind.prefix}_INACTIVE` })
    t.equal(await svc.eventCount(), before)
    t.same(await read(user.id), user)
  })

  t.test(`${kind.path}: bad ids, bad bodies and missing users`, async t => {
    const user = await svc.createUser()
    const before = await svc.eventCount()
    for (const id of ['not-a-uuid', '12345', `${user.id.slice(0, -1)}g`]) {
      const post = await svc.call('POST', `/v1/users/${id}/${kind.path}`, { token: admin, body: { [kind.field]: kind.active } })
      t.same(errorPaths(expectProblem(t, post, 400, {}, `POST ${id}`)), ['/params/id'])
      const del = await svc.call('DELETE', `/v1/users/${id}/${kind.path}/${kind.active}`, { token: admin })
      t.same(errorPaths(expectProblem(t, del, 400, {}, `DELETE ${id}`)), ['/params/id'])
    }
    const badEntry = await svc.call('DELETE', `/v1/users/${user.id}/${kind.path}/Not_A_Slug`, { token: admin })
    t.same(errorPaths(expectProblem(t, badEntry, 400, {}, 'entry id not a slug')), [`/params/${kind.field}`])
    for (const [body, path] of [
      [{}, `/body/${kind.field}`],
      [{ [kind.field]: 'UPPER' }, `/body/${kind.field}`],
      [{ [kind.field]: [kind.active] }, `/body/${kind.field}`],
      [{ [kind.field]: kind.active, extra: 1 }, '/body/extra']
    ] as const) {
      const res = await svc.call('POST', `/v1/users/${user.id}/${kind.path}`, { token: admin, body })
      t.ok(errorPaths(expectProblem(t, res, 400, {}, JSON.stringify(body))).includes(path))
    }
    const post = await svc.call('POST', `/v1/users/${UNKNOWN_ID}/${kind.path}`, { token: admin, body: { [kind.field]: kind.active } })
    expectProblem(t, post, 404, {}, 'assign to an unknown user')
    api.check(t, 'POST', collection, post)
    const del = await svc.call('DELETE', `/v1/users/${UNKNOWN_ID}/${kind.path}/${kind.active}`, { token: admin })
    expectProblem(t, del, 404, {}, 'remove from an unknown user')
    api.check(t, 'DELETE', item, del)
    t.equal(await svc.eventCount(), before)
  })

  t.test(`${kind.path}: only an identity-admin`, async t => {
    const user = await svc.createUser()
    const before = await svc.eventCount()
    for (const [name, token, id] of [['auditor', auditorToken, user.id], ['plain user on itself', plainToken, plain.id]] as const) {
      const post = await svc.call('POST', `/v1/users/${id}/${kind.path}`, { token, body: { [kind.field]: kind.active } })
      expectProblem(t, post, 403, {}, `${name} assigns`)
      api.check(t, 'POST', collection, post)
      expectProblem(t, await svc.call('DELETE', `/v1/users/${id}/${kind.path}/${kind.active}`, { token }), 403, {}, `${name} removes`)
    }
    expectProblem(t, await svc.call('POST', `/v1/users/${user.id}/${kind.path}`, { body: { [kind.field]: kind.active } }), 401, {}, 'no token')
    t.equal(await svc.eventCount(), before)
  })
}

t.test('providers: the externalUserId is stored, and a new one replaces it', async t => {
  const user = await svc.createUser()
  const linked = await svc.call('POST', `/v1/users/${user.id}/providers`, { token: admin, body: { providerId: 'carrier-x', externalUserId: 'x-981' } })
  t.equal(linked.statusCode, 200)
  t.same(linked.json().providers, [{ providerId: 'carrier-x', externalUserId: 'x-981' }])
  const version = linked.json().version as number

  const events = await svc.eventCount()
  const same = await svc.call('POST', `/v1/users/${user.id}/providers`, { token: admin, body: { providerId: 'carrier-x', externalUserId: 'x-981' } })
  t.equal(same.json().version, version, 'the same link again is a no-op')
  t.equal(await svc.eventCount(), events)

  const changed = await svc.call('POST', `/v1/users/${user.id}/providers`, { token: admin, body: { providerId: 'carrier-x', externalUserId: 'x-982' } })
  t.equal(changed.statusCode, 200)
  t.same(changed.json().providers, [{ providerId: 'carrier-x', externalUserId: 'x-982' }], 'changed, not a second link')
  t.equal(changed.json().version, version + 1)
  t.same((await read(user.id)).providers, [{ providerId: 'carrier-x', externalUserId: 'x-982' }])

  for (const externalUserId of ['', 'x'.repeat(201), 42]) {
    const res = await svc.call('POST', `/v1/users/${user.id}/providers`, { token: admin, body: { providerId: 'carrier-x', externalUserId } })
    t.same(errorPaths(expectProblem(t, res, 400, {}, `externalUserId ${JSON.stringify(externalUserId).slice(0, 20)}`)), ['/body/externalUserId'])
  }
})

t.test('several roles and companies accumulate in a stable order', async t => {
  await define('roles', { id: 'planner', name: 'Planner' })
  await define('companies', { id: 'globex', name: 'Globex' })
  const user = await svc.createUser()
  for (const roleId of ['planner', 'dispatcher', 'identity-auditor']) {
    t.equal((await svc.call('POST', `/v1/users/${user.id}/roles`, { token: admin, body: { roleId } })).statusCode, 200)
  }
  for (const companyId of ['globex', 'acme']) {
    t.equal((await svc.call('POST', `/v1/users/${user.id}/companies`, { token: admin, body: { companyId } })).statusCode, 200)
  }
  const after = await read(user.id)
  t.same([...after.roles].sort(), ['dispatcher', 'identity-auditor', 'planner'])
  t.same([...after.companies].sort(), ['acme', 'globex'])
  t.same((await read(user.id)).roles, after.roles, 'the order is stable between reads')
  const token = await svc.login(user.username)
  t.equal((await svc.call('GET', '/v1/users', { token })).statusCode, 200, 'an assigned auditor role applies to the user\'s existing token')
  t.equal((await svc.call('DELETE', `/v1/users/${user.id}/roles/identity-auditor`, { token: admin })).statusCode, 204)
  expectProblem(t, await svc.call('GET', '/v1/users', { token }), 403, {}, 'and its removal too')
})
