/**
 * GET /v1/events and GET /v1/events/schema on the real service: CloudEvents that the official
 * SDK accepts, pagination without gaps or repeats, the type filter, internal streams left out,
 * secrets redacted, and the JSON Schema document that validates every published event's data.
 */
import { Ajv2020 } from 'ajv/dist/2020.js'
import addFormats from 'ajv-formats'
import { CloudEvent } from 'cloudevents'
import t from 'tap'
import { cloudEventType, eventTypes, subjectOf } from '../../src/audit/cloudevents.js'
import { eventDefinitions } from '../../src/domain/events.js'
import { PASSWORD, openAuditService } from './helpers.js'

t.test('type names and subjects', async t => {
  t.equal(cloudEventType('UserRoleAssigned', 1), 'dev.identity-manager.user.role-assigned.v1')
  t.equal(cloudEventType('UserLockedOut', 1), 'dev.identity-manager.user.locked-out.v1')
  t.equal(cloudEventType('AuthenticationSucceeded', 1), 'dev.identity-manager.authentication.succeeded.v1')
  t.equal(cloudEventType('IdentificationTypeDefined', 2), 'dev.identity-manager.identification-type.defined.v2')
  t.equal(cloudEventType('CompanyDeactivated', 1), 'dev.identity-manager.company.deactivated.v1')
  t.equal(new Set(eventTypes.map(e => e.cloudEventType)).size, eventDefinitions.length, 'every type has its own name')
  t.equal(subjectOf('user-0190a6d2-7c1e-7b3a-9f00-1234567890ab'), 'users/0190a6d2-7c1e-7b3a-9f00-1234567890ab')
  t.equal(subjectOf('auth-0190a6d2-7c1e-7b3a-9f00-1234567890ab'), 'users/0190a6d2-7c1e-7b3a-9f00-1234567890ab')
  t.equal(subjectOf('identification-type-CC'), 'identification-types/CC')
  t.equal(subjectOf('role-identity-admin'), 'roles/identity-admin')
  t.equal(subjectOf('company-acme'), 'companies/acme')
  t.equal(subjectOf('provider-carrier-x'), 'providers/carrier-x')
  for (const internal of ['reservation-username-jdoe', 'identity-admins', 'auth-unknown-abc123']) t.equal(subjectOf(internal), null, internal)
})

t.test('the feed: CloudEvents in position order, paginated, filtered, internal streams left out', async t => {
  const svc = await openAuditService(t, {}, {})
  await svc.ok('POST', '/v1/companies', { token: svc.admin, body: { id: 'acme', name: 'ACME' } })
  const user = await svc.createUser({ companies: ['acme'] })
  await svc.ok('POST', `/v1/users/${user.id}/roles`, { token: svc.admin, body: { roleId: 'identity-auditor' } })
  await svc.token(user.username, PASSWORD)
  await svc.call('POST', '/v1/authentication', { body: { username: 'nobody-at-all', password: 'whatever whatever whatever' } })
  const subscriber = await svc.caller(['identity-subscriber'])

  const all = await svc.ok('GET', '/v1/events?limit=200', { token: subscriber })
  t.equal(all.nextCursor, null)
  const items = all.items as any[]
  t.ok(items.length > 15, `${items.length} published events`)
  for (const item of items) {
    const event = new CloudEvent(item)
    t.equal(event.validate(), true, `${item.type} validates with the cloudevents SDK`)
    t.equal(item.specversion, '1.0')
    t.equal(item.source, '/identity-manager')
    t.equal(item.datacontenttype, 'application/json')
    t.match(item.type, /^dev\.identity-manager\.[a-z-]+\.[a-z-]+\.v\d+$/)
    t.match(item.subject, /^(users|roles|companies|providers|identification-types)\/.+$/)
    t.ok(Number.isInteger(item.position) && Number.isInteger(item.streamrevision))
    t.match(item.correlationid, /.+/)
    t.match(item.causationid, /.+/)
  }
  const positions = items.map(i => i.position)
  t.same(positions, [...positions].sort((a, b) => a - b))
  t.equal(new Set(positions).size, positions.length)

  const head = await svc.store.headPosition()
  const internal = (await svc.store.readAll({ limit: 10_000 })).filter(e => subjectOf(e.stream) === null)
  t.ok(internal.some(e => e.stream.startsWith('reservation-')), 'the store holds reservations…')
  t.ok(internal.some(e => e.stream === 'identity-admins'), '…the admin seats…')
  t.ok(internal.some(e => e.stream.startsWith('auth-unknown-')), '…and unknown-user logins')
  t.equal(items.length + internal.length, head, 'the feed is everything else')
  t.notOk(items.some(i => internal.some(e => e.id === i.id)), 'none of which is published')

  const registered = items.find(i => i.type === 'dev.identity-manager.user.registered.v1' && i.subject === `users/${user.id}`)
  t.match(registered, { data: { userId: user.id, passwordHash: '[redacted]', companies: ['acme'] }, streamrevision: 0, actorid: String })
  t.notMatch(JSON.stringify(all), /scrypt|c2NyeXB0/, 'no password hash anywhere')
  const login = items.find(i => i.type === 'dev.identity-manager.authentication.succeeded.v1' && i.subject === `users/${user.id}`)
  t.ok(login, 'logins of known users are published, under the user')
  const system = items.find(i => i.subject === 'roles/identity-admin')
  t.equal(system.actorid, undefined, 'the system actor has no id: the attribute is absent')

  // Pages of 7: the same events, each once, and cursors are the last position.
  const paged: any[] = []
  let after = 0
  let pages = 0
  for (;;) {
    const page = await svc.ok('GET', `/v1/events?limit=7&after=${after}`, { token: subscriber })
    pages++
    t.ok(page.items.length <= 7)
    paged.push(...page.items)
    if (page.nextCursor === null) break
    t.equal(page.nextCursor, String(page.items.at(-1).position))
    after = Number(page.nextCursor)
  }
  t.same(paged, items)
  // A page filled by the last published event already says null: the scan reached the log's end.
  t.equal(pages, Math.max(1, Math.ceil(items.length / 7)))

  // The type filter: CloudEvents type or domain name, repeatable.
  const byCe = await svc.ok('GET', '/v1/events?type=dev.identity-manager.user.role-assigned.v1', { token: subscriber })
  t.same(byCe.items.map((i: any) => i.subject), [`users/${user.id}`])
  t.same(byCe.items[0].data, { userId: user.id, roleId: 'identity-auditor' })
  const byName = await svc.ok('GET', '/v1/events?type=UserRoleAssigned', { token: subscriber })
  t.same(byName, byCe)
  const two = await svc.ok('GET', '/v1/events?type=UserRoleAssigned&type=dev.identity-manager.company.defined.v1', { token: subscriber })
  t.same(two.items.map((i: any) => i.type).sort(), ['dev.identity-manager.company.defined.v1', 'dev.identity-manager.user.role-assigned.v1'])
  const users = await svc.ok('GET', '/v1/events?type=UserRegistered&limit=2', { token: subscriber })
  t.equal(users.items.length, 2)
  t.not(users.nextCursor, null)
  const rest = await svc.ok('GET', `/v1/events?type=UserRegistered&limit=200&after=${users.nextCursor}`, { token: subscriber })
  t.same([...users.items, ...rest.items], items.filter(i => i.type === 'dev.identity-manager.user.registered.v1'))

  for (const query of ['type=ValueReserved', 'type=AdminSeatClaimed', 'type=NoSuchEvent', 'type=dev.identity-manager.user.role-assigned.v9',
    'limit=0', 'limit=201', 'after=-1', 'after=x']) {
    const res = await svc.call('GET', `/v1/events?${query}`, { token: subscriber })
    t.equal(res.statusCode, 400, query)
    t.match(res.headers['content-type'], /application\/problem\+json/)
  }
  t.same(await svc.ok('GET', `/v1/events?after=${head + 100}`, { token: subscriber }), { items: [], nextCursor: null })
})

t.test('a selective filter over a long log answers in bounded pages', async t => {
  const svc = await openAuditService(t)
  const { readFeed } = await import('../../src/audit/feed.js')
  const { resolveTypeFilter } = await import('../../src/audit/cloudevents.js')
  const resolved = resolveTypeFilter(['UserDeactivated'])
  if (!resolved.ok) throw new Error('filter')
  const page = await readFeed(svc.store, { after: 0, limit: 10, filter: resolved.filter, source: '/x', scanLimit: 5 })
  t.same(page.items, [])
  t.ok(Number(page.nextCursor) > 0, 'a cursor to continue from, though nothing matched yet')
})

t.test('the schema document validates every published event\'s data', async t => {
  const svc = await openAuditService(t)
  const user = await svc.createUser({ providers: [] })
  await svc.ok('PUT', `/v1/users/${user.id}/status`, { token: svc.admin, body: { status: 'inactive' } })
  const subscriber = await svc.caller(['identity-subscriber'])
  const res = await svc.call('GET', '/v1/events/schema', { token: subscriber })
  t.equal(res.statusCode, 200)
  const doc = res.json()
  t.equal(doc.$schema, 'https://json-schema.org/draft/2020-12/schema')
  t.same(Object.keys(doc.$defs).sort(), eventDefinitions.map(d => d.type).sort(), 'every event type')
  t.match(doc.$defs.UserRoleAssigned, { 'x-cloudevents-type': 'dev.identity-manager.user.role-assigned.v1', 'x-schema-version': 1, 'x-published': true })
  t.equal(doc.$defs.ValueReserved['x-published'], false)
  t.match(doc.$defs.UserRegistered.properties.passwordHash.description, /redacted/)

  const ajv = new Ajv2020({ strict: false, allErrors: true })
  addFormats.default(ajv)
  const validateAny = ajv.compile(doc)
  const feed = await svc.ok('GET', '/v1/events?limit=200', { token: subscriber })
  for (const item of feed.items) {
    const ref = doc['x-cloudevents-types'][item.type] as string
    t.ok(ref, `${item.type} is in the document`)
    const own = ajv.compile({ ...doc, anyOf: undefined, $ref: ref })
    t.ok(own(item.data), `${item.type} data matches its schema ${JSON.stringify(own.errors)}`)
    t.ok(validateAny(item.data), 'and the document as a whole')
  }
  t.equal((await svc.call('GET', '/v1/events/schema')).statusCode, 401)
})

t.test('who may read the feed', async t => {
  const svc = await openAuditService(t)
  const subscriber = await svc.caller(['identity-subscriber'])
  const auditor = await svc.caller(['identity-auditor'])
  const plain = await svc.caller([])
  const someone = await svc.createUser()
  for (const url of ['/v1/events', '/v1/events/schema']) {
    t.equal((await svc.call('GET', url, { token: svc.admin })).statusCode, 200, `admin ${url}`)
    t.equal((await svc.call('GET', url, { token: auditor })).statusCode, 200, `auditor ${url}`)
    t.equal((await svc.call('GET', url, { token: subscriber })).statusCode, 200, `subscriber ${url}`)
    t.equal((await svc.call('GET', url, { token: plain })).statusCode, 403, `plain user ${url}`)
    t.equal((await svc.call('GET', url)).statusCode, 401, `anonymous ${url}`)
  }
  for (const url of ['/v1/users', `/v1/users/${someone.id}`, `/v1/users/${someone.id}/history`, '/v1/audit/verify', `/v1/users/by-username/${someone.username}`]) {
    t.equal((await svc.call('GET', url, { token: subscriber })).statusCode, 403, `subscriber may not read ${url}`)
  }
  t.equal((await svc.call('GET', '/v1/events/stream', { token: plain })).statusCode, 403, 'nor may a plain user stream')
  t.equal((await svc.call('GET', '/v1/events/stream', { token: subscriber, headers: { 'last-event-id': 'abc' } })).statusCode, 400, 'a Last-Event-ID that is no position')
  t.equal((await svc.call('GET', '/v1/events/stream?type=Nope', { token: subscriber })).statusCode, 400, 'an unknown type')
})
