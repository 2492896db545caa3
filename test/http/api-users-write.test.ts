/**
 * Writing users on the real service: POST /v1/users and PUT /v1/users/{id} with every documented
 * error, Idempotency-Key replays, and read-your-writes.
 */
import t from 'tap'
import {
  PASSWORD, UNKNOWN_ID, errorPaths, expectProblem, loadApiDocument, openApiService, profileOf, userBody, type UserView
} from '../helpers/api.js'

const svc = await openApiService(t)
const api = await loadApiDocument(svc)
const admin = svc.admin

const define = async (path: string, body: Record<string, unknown>) => {
  const res = await svc.call('POST', `/v1/${path}`, { token: admin, body })
  if (res.statusCode !== 201) throw new Error(`POST /v1/${path}: ${res.statusCode} ${res.body}`)
}
const deactivate = async (path: string, id: string, name: string) => {
  const res = await svc.call('PUT', `/v1/${path}/${id}`, { token: admin, body: { name, status: 'inactive' } })
  if (res.statusCode !== 200) throw new Error(`deactivate ${path}/${id}: ${res.statusCode} ${res.body}`)
}
await define('companies', { id: 'acme', name: 'Acme' })
await define('companies', { id: 'old-co', name: 'Old Co' })
await deactivate('companies', 'old-co', 'Old Co')
await define('providers', { id: 'carrier-x', name: 'Carrier X' })
await define('providers', { id: 'old-carrier', name: 'Old Carrier' })
await deactivate('providers', 'old-carrier', 'Old Carrier')
await define('roles', { id: 'dispatcher', name: 'Dispatcher' })
await define('roles', { id: 'retired-role', name: 'Retired' })
await deactivate('roles', 'retired-role', 'Retired')
await define('identification-types', { id: 'OLD', name: 'Old document' })
await deactivate('identification-types', 'OLD', 'Old document')

const auditor = await svc.createUser({ roles: ['identity-auditor'] })
const auditorToken = await svc.login(auditor.username)
const plain = await svc.createUser()
const plainToken = await svc.login(plain.username)

const userCount = async () => (await svc.call('GET', '/v1/users?limit=200', { token: admin })).json().items.length as number
const read = async (id: string) => (await svc.call('GET', `/v1/users/${id}`, { token: admin })).json() as UserView

t.test('POST /v1/users: 201 with Location, ETag and the stored user', async t => {
  const body = userBody({
    username: 'New.User', email: 'New.User@Example.com', phone: '+573001112233',
    roles: ['dispatcher', 'identity-auditor'], companies: ['acme'], providers: [{ providerId: 'carrier-x', externalUserId: 'cx-1' }]
  })
  const res = await svc.call('POST', '/v1/users', { token: admin, body })
  t.equal(res.statusCode, 201, res.body)
  api.check(t, 'POST', '/v1/users', res)
  const user = res.json() as UserView
  t.match(user.id, /^[0-9a-f]{8}-[0-9a-f]{4}-7[0-9a-f]{3}-[89ab][0-9a-f]{3}-[0-9a-f]{12}$/, 'a server-generated UUID v7')
  t.equal(res.headers.location, `/v1/users/${user.id}`)
  t.equal(res.headers.etag, '"0"')
  t.match(user, {
    username: 'new.user', email: 'New.User@Example.com', firstName: body.firstName, lastName: body.lastName,
    identificationType: 'CC', identificationNumber: body.identificationNumber, phone: '+573001112233', status: 'active',
    companies: ['acme'], providers: [{ providerId: 'carrier-x', externalUserId: 'cx-1' }], version: 0
  })
  t.same([...user.roles].sort(), ['dispatcher', 'identity-auditor'])
  t.ok(Date.parse(user.createdAt) > 0 && user.createdAt === user.updatedAt)
  t.notOk('password' in user)
  t.same(await read(user.id), user, 'the next read sees the same user')
  t.equal((await svc.login('new.user')).length > 0, true, 'the user can log in')

  const minimal = await svc.call('POST', '/v1/users', { token: admin, body: userBody() })
  t.equal(minimal.statusCode, 201)
  t.match(minimal.json(), { phone: null, roles: [], companies: [], providers: [] })
})

t.test('POST /v1/users: 409 on a taken username, email or identification', async t => {
  const taken = await svc.createUser({ username: 'taken.name', email: 'Taken@Example.com', identificationType: 'CE', identificationNumber: 'AB-123' })
  const before = await userCount()
  const cases: [string, Record<string, unknown>][] = [
    ['same username', { username: 'taken.name' }],
    ['username in capitals', { username: 'TAKEN.NAME' }],
    ['username in full width (NFKC)', { username: 'ｔａｋｅｎ．ｎａｍｅ' }],
    ['email in another case', { email: 'taken@EXAMPLE.COM' }],
    ['same identification', { identificationType: 'CE', identificationNumber: 'AB-123' }],
    ['identification number in another case', { identificationType: 'CE', identificationNumber: 'ab-123' }]
  ]
  for (const [name, overrides] of cases) {
    const res = await svc.call('POST', '/v1/users', { token: admin, body: userBody(overrides) })
    const body = expectProblem(t, res, 409, {}, name)
    t.match(body.code, /^(USER_EXISTS|VALUE_TAKEN)$/, `${name}: ${String(body.code)}`)
    api.check(t, 'POST', '/v1/users', res)
  }
  t.equal(await userCount(), before, 'no user was created')
  t.same(await read(taken.id), taken, 'the holder is untouched')

  const sameNumberOtherType = await svc.call('POST', '/v1/users', { token: admin, body: userBody({ identificationType: 'CC', identificationNumber: 'AB-123' }) })
  t.equal(sameNumberOtherType.statusCode, 201, 'the number is unique per type only')

  // A refused request must not keep the values it did not conflict on.
  const half = userBody({ email: 'taken@example.com' })
  expectProblem(t, await svc.call('POST', '/v1/users', { token: admin, body: half }), 409)
  const retry = await svc.call('POST', '/v1/users', { token: admin, body: { ...half, email: 'fresh.address@example.com' } })
  t.equal(retry.statusCode, 201, `the username of the refused request is free again: ${retry.body}`)
})

t.test('POST /v1/users: 422 on unknown or inactive catalog entries, with the code', async t => {
  const before = await svc.eventCount()
  const cases: [Record<string, unknown>, string][] = [
    [{ roles: ['no-such-role'] }, 'ROLE_UNKNOWN'],
    [{ roles: ['retired-role'] }, 'ROLE_INACTIVE'],
    [{ roles: ['dispatcher', 'no-such-role'] }, 'ROLE_UNKNOWN'],
    [{ companies: ['no-such-co'] }, 'COMPANY_UNKNOWN'],
    [{ companies: ['old-co'] }, 'COMPANY_INACTIVE'],
    [{ providers: [{ providerId: 'no-such-provider' }] }, 'PROVIDER_UNKNOWN'],
    [{ providers: [{ providerId: 'old-carrier', externalUserId: 'x' }] }, 'PROVIDER_INACTIVE'],
    [{ identificationType: 'XX' }, 'IDENTIFICATION_TYPE_UNKNOWN'],
    [{ identificationType: 'OLD' }, 'IDENTIFICATION_TYPE_INACTIVE']
  ]
  for (const [overrides, code] of cases) {
    const res = await svc.call('POST', '/v1/users', { token: admin, body: userBody(overrides) })
    expectProblem(t, res, 422, { code }, code)
    api.check(t, 'POST', '/v1/users', res)
  }
  t.equal(await svc.eventCount(), before, 'nothing was appended, not even a reservation')
})

t.test('POST /v1/users: weak passwords are 422 with a reason; over 1 KiB is refused', async t => {
  const before = await svc.eventCount()
  const cases: [Record<string, unknown>, string][] = [
    [{ password: 'short pass' }, 'too_short'],
    [{ password: 'aaaaaaaaaaaaaaaaaaaa' }, 'common'],
    [{ password: '1234567890123456' }, 'common'],
    [{ username: 'marypoppins', password: 'marypoppins-umbrella' }, 'contains_username'],
    [{ username: 'marypoppins', password: 'MARYPOPPINS' + '-umbrella' }, 'contains_username']
  ]
  for (const [overrides, reason] of cases) {
    const res = await svc.call('POST', '/v1/users', { token: admin, body: userBody(overrides) })
    expectProblem(t, res, 422, { code: 'WEAK_PASSWORD', reason }, reason)
  }
  const huge = await svc.call('POST', '/v1/users', { token: admin, body: userBody({ password: 'correct horse battery '.repeat(50) }) })
  t.ok([400, 422].includes(huge.statusCode), `over 1 KiB: ${huge.statusCode}`)
  expectProblem(t, huge, huge.statusCode)
  const multibyte = await svc.call('POST', '/v1/users', { token: admin, body: userBody({ password: 'ñandú '.repeat(150) }) })
  t.ok([400, 422].includes(multibyte.statusCode), `900 characters but 1200 bytes in UTF-8: ${multibyte.statusCode}`)
  t.equal(await svc.eventCount(), before)

  const sixtyFour = await svc.call('POST', '/v1/users', { token: admin, body: userBody({ password: 'a long passphrase of exactly sixty four characters is accepted!!' }) })
  t.equal(sixtyFour.statusCode, 201, 'a 64-character password is accepted')
  const fifteen = await svc.call('POST', '/v1/users', { token: admin, body: userBody({ password: 'fifteen chars!!' }) })
  t.equal(fifteen.statusCode, 201, 'the minimum, 15 code points, is accepted')
})

t.test('POST /v1/users: 400 on invalid fields, unknown properties and wrong types', async t => {
  const before = await svc.eventCount()
  const cases: [string, Record<string, unknown>, string | null][] = [
    ['username too short', { username: 'ab' }, null],
    ['username with a space', { username: 'john doe' }, null],
    ['username with a Cyrillic letter', { username: 'аdmin' }, null],
    ['username of 65 characters', { username: 'a'.repeat(65) }, null],
    ['phone without +', { phone: '3001234567' }, '/body/phone'],
    ['phone with letters', { phone: '+57300abc4567' }, '/body/phone'],
    ['email without @', { email: 'not-an-email' }, '/body/email'],
    ['identificationNumber with a space', { identificationNumber: '12 34' }, '/body/identificationNumber'],
    ['identificationNumber of 31', { identificationNumber: '1'.repeat(31) }, '/body/identificationNumber'],
    ['empty firstName', { firstName: '' }, '/body/firstName'],
    ['unknown property', { isAdmin: true }, '/body/isAdmin'],
    ['status on create', { status: 'inactive' }, '/body/status'],
    ['id on create', { id: UNKNOWN_ID }, '/body/id'],
    ['roles as a string', { roles: 'identity-admin' }, '/body/roles'],
    ['companies of objects', { companies: [{ id: 'acme' }] }, '/body/companies/0'],
    ['provider with an unknown property', { providers: [{ providerId: 'carrier-x', admin: true }] }, '/body/providers/0/admin'],
    ['password as a number', { password: 123456789012345 }, '/body/password'],
    ['email as null', { email: null }, '/body/email']
  ]
  for (const [name, overrides, path] of cases) {
    const res = await svc.call('POST', '/v1/users', { token: admin, body: userBody(overrides) })
    const body = expectProblem(t, res, 400, {}, name)
    if (path !== null) t.ok(errorPaths(body).includes(path), `${name}: errors ${JSON.stringify(body.errors)}`)
    api.check(t, 'POST', '/v1/users', res)
  }
  const { email: _email, ...missing } = userBody()
  const res = await svc.call('POST', '/v1/users', { token: admin, body: missing })
  t.ok(errorPaths(expectProblem(t, res, 400, {}, 'missing email')).includes('/body/email'))
  t.equal(await svc.eventCount(), before)
})

t.test('POST /v1/users: only an identity-admin may create', async t => {
  const before = await svc.eventCount()
  for (const [name, token] of [['auditor', auditorToken], ['plain user', plainToken]] as const) {
    const res = await svc.call('POST', '/v1/users', { token, body: userBody() })
    expectProblem(t, res, 403, {}, name)
    api.check(t, 'POST', '/v1/users', res)
  }
  const anonymous = await svc.call('POST', '/v1/users', { body: userBody() })
  expectProblem(t, anonymous, 401)
  t.equal(await svc.eventCount(), before)
})

t.test('PUT /v1/users/{id}: replaces the profile, 200 with a new ETag', async t => {
  const user = await svc.createUser({ phone: '+573001234567' })
  const profile = { email: 'Renamed@Example.com', firstName: 'Renamed', lastName: 'Person', identificationType: 'CE', identificationNumber: 'R-1', phone: '+14155550100' }
  const res = await svc.call('PUT', `/v1/users/${user.id}`, { token: admin, body: profile })
  t.equal(res.statusCode, 200, res.body)
  api.check(t, 'PUT', '/v1/users/{id}', res)
  const updated = res.json() as UserView
  t.match(updated, { ...profile, id: user.id, username: user.username, version: user.version + 1, roles: user.roles, status: 'active' })
  t.equal(res.headers.etag, `"${user.version + 1}"`)
  t.equal(updated.createdAt, user.createdAt)
  t.ok(updated.updatedAt >= user.updatedAt)
  t.same(await read(user.id), updated)

  const { phone: _phone, ...withoutPhone } = profile
  const cleared = await svc.call('PUT', `/v1/users/${user.id}`, { token: admin, body: withoutPhone })
  t.equal(cleared.statusCode, 200)
  t.equal(cleared.json().phone, null, 'PUT replaces: an omitted phone is cleared')

  // The values given up are free for others now.
  const taker = await svc.call('POST', '/v1/users', { token: admin, body: userBody({ email: user.email, identificationNumber: user.identificationNumber }) })
  t.equal(taker.statusCode, 201, `the old email and identification were released: ${taker.body}`)
})

t.test('PUT /v1/users/{id}: If-Match', async t => {
  const user = await svc.createUser()
  const body = { ...profileOf(user), firstName: 'Second' }
  const stale = await svc.call('PUT', `/v1/users/${user.id}`, { token: admin, body, headers: { 'if-match': `"${user.version + 5}"` } })
  expectProblem(t, stale, 412, {}, 'stale If-Match')
  api.check(t, 'PUT', '/v1/users/{id}', stale)
  t.same(await read(user.id), user, 'nothing changed')

  const current = await svc.call('PUT', `/v1/users/${user.id}`, { token: admin, body, headers: { 'if-match': `"${user.version}"` } })
  t.equal(current.statusCode, 200)
  t.equal(current.headers.etag, `"${user.version + 1}"`)

  const again = await svc.call('PUT', `/v1/users/${user.id}`, { token: admin, body: { ...body, firstName: 'Third' }, headers: { 'if-match': `"${user.version}"` } })
  expectProblem(t, again, 412, {}, 'the ETag the first writer used is stale now')
  t.equal((await read(user.id)).firstName, 'Second', 'the lost update did not happen')

  for (const header of ['7', 'W/"1"', '"abc"', '"1", "2"', '""']) {
    const res = await svc.call('PUT', `/v1/users/${user.id}`, { token: admin, body, headers: { 'if-match': header } })
    const problem = expectProblem(t, res, 400, {}, `If-Match: ${header}`)
    t.same(errorPaths(problem), ['/headers/if-match'])
  }
  const star = await svc.call('PUT', `/v1/users/${user.id}`, { token: admin, body: { ...body, firstName: 'Star' }, headers: { 'if-match': '*' } })
  t.equal(star.statusCode, 200, 'If-Match: * matches any existing version')
})

t.test('PUT /v1/users/{id}: no mass assignment', async t => {
  const user = await svc.createUser()
  const before = await svc.eventCount()
  for (const [field, value] of [
    ['roles', ['identity-admin']], ['status', 'inactive'], ['password', 'a brand new password 1'], ['username', 'hijacked'],
    ['id', UNKNOWN_ID], ['version', 99], ['companies', ['acme']], ['createdAt', '2020-01-01T00:00:00Z']
  ] as const) {
    const res = await svc.call('PUT', `/v1/users/${user.id}`, { token: admin, body: { ...profileOf(user), [field]: value } })
    const problem = expectProblem(t, res, 400, {}, field)
    t.ok(errorPaths(problem).includes(`/body/${field}`), `${field}: ${JSON.stringify(problem.errors)}`)
  }
  t.equal(await svc.eventCount(), before, 'nothing was appended')
  t.same(await read(user.id), user, 'nothing changed')
  expectProblem(t, await svc.call('POST', '/v1/authentication', { body: { username: user.username, password: 'a brand new password 1' } }), 401)
})

t.test('PUT /v1/users/{id}: conflicts, rules and missing users', async t => {
  const holder = await svc.createUser({ email: 'Holder@Example.com', identificationType: 'PA', identificationNumber: 'HOLD-1' })
  const user = await svc.createUser()
  const before = await read(user.id)
  const emailTaken = await svc.call('PUT', `/v1/users/${user.id}`, { token: admin, body: { ...profileOf(user), email: 'HOLDER@example.com' } })
  expectProblem(t, emailTaken, 409, {}, 'email taken')
  api.check(t, 'PUT', '/v1/users/{id}', emailTaken)
  const idTaken = await svc.call('PUT', `/v1/users/${user.id}`, { token: admin, body: { ...profileOf(user), identificationType: 'PA', identificationNumber: 'hold-1' } })
  expectProblem(t, idTaken, 409, {}, 'identification taken')
  t.same(await read(user.id), before, 'the refused updates changed nothing')
  t.equal((await read(holder.id)).email, 'Holder@Example.com')

  const own = await svc.call('PUT', `/v1/users/${user.id}`, { token: admin, body: { ...profileOf(user), email: user.email.toUpperCase() } })
  t.equal(own.statusCode, 200, 'a user may keep its own email in another case')

  const unknownType = await svc.call('PUT', `/v1/users/${user.id}`, { token: admin, body: { ...profileOf(user), identificationType: 'XX' } })
  expectProblem(t, unknownType, 422, { code: 'IDENTIFICATION_TYPE_UNKNOWN' })
  const missing = await svc.call('PUT', `/v1/users/${UNKNOWN_ID}`, { token: admin, body: profileOf(user) })
  expectProblem(t, missing, 404, {}, 'unknown user')
  api.check(t, 'PUT', '/v1/users/{id}', missing)
  const badId = await svc.call('PUT', '/v1/users/42', { token: admin, body: profileOf(user) })
  t.same(errorPaths(expectProblem(t, badId, 400)), ['/params/id'])
  const { email: _e, ...partial } = profileOf(user)
  t.ok(errorPaths(expectProblem(t, await svc.call('PUT', `/v1/users/${user.id}`, { token: admin, body: partial }), 400)).includes('/body/email'), 'PUT needs every profile field')
})

t.test('PUT /v1/users/{id}: only an identity-admin, not even the user itself', async t => {
  const before = await svc.eventCount()
  for (const [name, token, id] of [['auditor', auditorToken, plain.id], ['plain user on itself', plainToken, plain.id], ['plain user on another', plainToken, auditor.id]] as const) {
    const res = await svc.call('PUT', `/v1/users/${id}`, { token, body: { ...profileOf(plain), firstName: 'Hacked' } })
    expectProblem(t, res, 403, {}, name)
  }
  t.equal(await svc.eventCount(), before)
  t.equal((await read(plain.id)).firstName, plain.firstName)
})

t.test('Idempotency-Key: a retried POST /v1/users answers as the first time and creates one user', async t => {
  const body = userBody()
  const headers = { 'idempotency-key': `create-${body.username as string}` }
  const first = await svc.call('POST', '/v1/users', { token: admin, body, headers })
  t.equal(first.statusCode, 201)
  const events = await svc.eventCount()
  const second = await svc.call('POST', '/v1/users', { token: admin, body, headers })
  t.equal(second.statusCode, 201, second.body)
  t.same(second.json(), first.json(), 'the same body')
  t.equal(second.headers.location, first.headers.location)
  t.equal(second.headers.etag, first.headers.etag)
  t.equal(await svc.eventCount(), events, 'the retry appended nothing')
  const found = (await svc.call('GET', `/v1/users?username=${body.username as string}`, { token: admin })).json().items
  t.equal(found.length, 1, 'one user')

  const withoutKey = await svc.call('POST', '/v1/users', { token: admin, body })
  expectProblem(t, withoutKey, 409, {}, 'the same body without the key is a new request: a duplicate')
})

t.test('Idempotency-Key: a retried role assignment after a DELETE assigns nothing', async t => {
  const user = await svc.createUser()
  const headers = { 'idempotency-key': `assign-dispatcher-${user.id}` }
  const assigned = await svc.call('POST', `/v1/users/${user.id}/roles`, { token: admin, body: { roleId: 'dispatcher' }, headers })
  t.equal(assigned.statusCode, 200)
  t.same(assigned.json().roles, ['dispatcher'])
  t.equal((await svc.call('DELETE', `/v1/users/${user.id}/roles/dispatcher`, { token: admin })).statusCode, 204)
  const events = await svc.eventCount()
  const replay = await svc.call('POST', `/v1/users/${user.id}/roles`, { token: admin, body: { roleId: 'dispatcher' }, headers })
  t.equal(replay.statusCode, 200, replay.body)
  t.equal(await svc.eventCount(), events, 'nothing appended')
  t.same((await read(user.id)).roles, [], 'the role stays removed')
})

t.test('Idempotency-Key: a retried profile update appends nothing', async t => {
  const user = await svc.createUser()
  const headers = { 'idempotency-key': `profile-${user.id}` }
  const body = { ...profileOf(user), lastName: 'Once' }
  t.equal((await svc.call('PUT', `/v1/users/${user.id}`, { token: admin, body, headers })).statusCode, 200)
  const events = await svc.eventCount()
  const again = await svc.call('PUT', `/v1/users/${user.id}`, { token: admin, body, headers })
  t.equal(again.statusCode, 200)
  t.equal(await svc.eventCount(), events)
  t.equal((await read(user.id)).version, user.version + 1)
})

t.test('Idempotency-Key: over 200 characters or not visible ASCII is a 400', async t => {
  const before = await svc.eventCount()
  for (const key of ['k'.repeat(201), 'clé-non-ascii', 'has space', '']) {
    const res = await svc.raw('POST', '/v1/users', {
      token: admin, contentType: 'application/json', payload: JSON.stringify(userBody()), headers: { 'idempotency-key': key }
    })
    const problem = expectProblem(t, res, 400, {}, `key ${JSON.stringify(key.slice(0, 20))} (${key.length})`)
    t.same(errorPaths(problem), ['/headers/idempotency-key'])
  }
  t.equal(await svc.eventCount(), before)
  const longest = await svc.call('POST', '/v1/users', { token: admin, body: userBody(), headers: { 'idempotency-key': 'k'.repeat(200) } })
  t.equal(longest.statusCode, 201, '200 characters is fine')
})

t.test('read-your-writes: every write is visible to the very next read', async t => {
  for (let i = 0; i < 5; i++) {
    const created = await svc.call('POST', '/v1/users', { token: admin, body: userBody({ lastName: `Fresh${i}` }) })
    const user = created.json() as UserView
    t.equal((await svc.call('GET', `/v1/users/${user.id}`, { token: admin })).statusCode, 200, `read ${i} by id`)
    t.same((await svc.call('GET', `/v1/users?username=${user.username}`, { token: admin })).json().items.map((u: UserView) => u.id), [user.id], `list ${i}`)
    const put = await svc.call('PUT', `/v1/users/${user.id}`, { token: admin, body: { ...profileOf(user), firstName: `Changed${i}` } })
    t.equal(put.statusCode, 200)
    t.equal((await read(user.id)).firstName, `Changed${i}`, `update ${i}`)
    await svc.call('POST', `/v1/users/${user.id}/roles`, { token: admin, body: { roleId: 'dispatcher' } })
    t.ok((await svc.call('GET', `/v1/users?role=dispatcher&username=${user.username}`, { token: admin })).json().items.length === 1, `role ${i}`)
    await svc.call('PUT', `/v1/users/${user.id}/status`, { token: admin, body: { status: 'inactive' } })
    t.equal((await read(user.id)).status, 'inactive', `status ${i}`)
  }
  t.equal(PASSWORD.length > 0, true)
})

t.test('the request id becomes the correlationId of the events it appends', async t => {
  const adminId = (await svc.call('GET', '/v1/users/me', { token: admin })).json().id as string
  const before = await svc.store.headPosition()
  const res = await svc.call('POST', '/v1/users', { token: admin, body: userBody({ roles: ['dispatcher'] }), headers: { 'x-request-id': 'trace-create-42' } })
  t.equal(res.statusCode, 201)
  t.equal(res.headers['x-request-id'], 'trace-create-42', 'echoed')
  const events = await svc.store.readAll({ after: before })
  t.ok(events.length >= 1)
  for (const event of events) {
    t.match(event.metadata, { correlationId: 'trace-create-42', causationId: String, actorId: adminId }, `${event.type} in ${event.stream}`)
    t.not(event.metadata.causationId, null)
    t.notMatch(JSON.stringify(event), new RegExp(PASSWORD), 'no password in any event')
  }
  const generated = await svc.call('GET', '/v1/users/me', { token: admin, headers: { 'x-request-id': 'bad id with spaces' } })
  t.match(generated.headers['x-request-id'], /^[0-9a-f-]{36}$/, 'an invalid request id is replaced')
})

t.test('concurrent writes: uniqueness holds and nothing is lost', async t => {
  const username = 'race.winner'
  const sameName = await Promise.all(Array.from({ length: 6 }, () => svc.call('POST', '/v1/users', { token: admin, body: userBody({ username }) })))
  t.same(sameName.map(r => r.statusCode).sort(), [201, 409, 409, 409, 409, 409], 'one username, one winner')
  t.equal((await svc.call('GET', `/v1/users?username=${username}`, { token: admin })).json().items.length, 1)

  const sameEmail = await Promise.all(Array.from({ length: 6 }, () => svc.call('POST', '/v1/users', { token: admin, body: userBody({ email: 'race@example.com' }) })))
  t.same(sameEmail.map(r => r.statusCode).sort(), [201, 409, 409, 409, 409, 409], 'one email, one winner')
  t.equal((await svc.call('GET', '/v1/users?email=race%40example.com', { token: admin })).json().items.length, 1)

  await define('roles', { id: 'role-a', name: 'A' })
  await define('roles', { id: 'role-b', name: 'B' })
  await define('roles', { id: 'role-c', name: 'C' })
  const user = await svc.createUser()
  const assigned = await Promise.all(['role-a', 'role-b', 'role-c', 'dispatcher'].map(roleId =>
    svc.call('POST', `/v1/users/${user.id}/roles`, { token: admin, body: { roleId } })))
  t.same(assigned.map(r => r.statusCode), [200, 200, 200, 200])
  const after = await read(user.id)
  t.same([...after.roles].sort(), ['dispatcher', 'role-a', 'role-b', 'role-c'], 'no assignment lost')
  t.equal(after.version, user.version + 4)

  const edits = await Promise.all([1, 2, 3, 4].map(i => svc.call('PUT', `/v1/users/${user.id}`, {
    token: admin, body: { ...profileOf(after), firstName: `Edit${i}` }, headers: { 'if-match': `"${after.version}"` }
  })))
  t.same(edits.map(r => r.statusCode).sort(), [200, 412, 412, 412], 'one If-Match, one winner')
  const winner = edits.find(r => r.statusCode === 200)!.json() as UserView
  t.same(await read(user.id), winner)
})

t.test('passwords are compared after NFKC and counted in code points', async t => {
  const ligature = await svc.createUser({ password: 'ﬁne ﬁsh swim in the sea' })
  t.equal((await svc.call('POST', '/v1/authentication', { body: { username: ligature.username, password: 'fine fish swim in the sea' } })).statusCode, 200,
    'ﬁ and fi are the same password')
  const composed = await svc.createUser({ password: 'café au lait avec crème' })
  t.equal((await svc.call('POST', '/v1/authentication', { body: { username: composed.username, password: 'cafe\u0301 au lait avec cre\u0300me' } })).statusCode, 200,
    'composed and decomposed accents are the same password')
  const fourteen = '🦊🐻🐼🐨🐯🦁🐮🐷🐸🐵🐔🐧🐦🐤'
  t.equal(fourteen.length, 28, '14 emoji are 28 UTF-16 units')
  expectProblem(t, await svc.call('POST', '/v1/users', { token: admin, body: userBody({ password: fourteen }) }), 422, { reason: 'too_short' }, '14 code points')
  const fifteen = await svc.call('POST', '/v1/users', { token: admin, body: userBody({ password: `${fourteen}🦆` }) })
  t.equal(fifteen.statusCode, 201, '15 code points are enough')
})

t.test('a write whose read model does not catch up is a 503 with Retry-After (the write is kept)', async t => {
  const stuck = await openApiService(t, { IDM_PROJECTION_WAIT_MS: '200' })
  await stuck.runner.stop()
  const before = await stuck.eventCount()
  const body = userBody()
  const res = await stuck.call('POST', '/v1/users', { token: stuck.admin, body })
  expectProblem(t, res, 503)
  t.match(res.headers['retry-after'], /^\d+$/)
  t.ok(await stuck.eventCount() > before, 'the events were stored')
  t.equal((await stuck.call('GET', '/health/ready')).statusCode, 503, 'not ready')
})
