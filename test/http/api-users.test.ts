/**
 * Reading users on the real service: GET /v1/users with every filter, their AND, keyset
 * pagination and its errors; GET /v1/users/{id}, /me and /by-username/{username}.
 */
import t from 'tap'
import { UNKNOWN_ID, errorPaths, expectProblem, loadApiDocument, openApiService, type UserView } from '../helpers/api.js'

const svc = await openApiService(t)
const api = await loadApiDocument(svc)
const admin = svc.admin

for (const [path, id, name] of [['companies', 'acme', 'Acme'], ['companies', 'globex', 'Globex'], ['providers', 'carrier-x', 'Carrier X']] as const) {
  const res = await svc.call('POST', `/v1/${path}`, { token: admin, body: { id, name } })
  if (res.statusCode !== 201) throw new Error(`define ${id}: ${res.statusCode} ${res.body}`)
}

const alice = await svc.createUser({
  username: 'lst.alice', email: 'Alice.Wonder@Corp.Example', firstName: 'Alicia', lastName: 'Zapata',
  identificationType: 'CC', identificationNumber: '1001', phone: '+573001234567',
  roles: ['identity-auditor'], companies: ['acme'], providers: [{ providerId: 'carrier-x', externalUserId: 'x-1' }]
})
const bob = await svc.createUser({
  username: 'lst.bob', email: 'bob@other.example', firstName: 'Roberto', lastName: 'Alvarez',
  identificationType: 'CE', identificationNumber: '2002', companies: ['acme', 'globex']
})
const carol = await svc.createUser({
  username: 'lst.carol', email: 'carol@corp.example', firstName: 'Carolina', lastName: 'Bermudez',
  identificationType: 'CC', identificationNumber: '3003', providers: [{ providerId: 'carrier-x' }]
})
const dave = await svc.createUser({
  username: 'lst.dave', email: 'dave@corp.example', firstName: 'David', lastName: 'Castro',
  identificationType: 'PA', identificationNumber: '3003', roles: ['identity-auditor']
})
const zed = await svc.createUser({
  username: 'zed', email: 'lst.zed@corp.example', firstName: 'Zed', lastName: 'Lstmann',
  identificationType: 'TI', identificationNumber: '5005'
})
const plain = await svc.createUser({ username: 'plain.user', email: 'plain@corp.example', firstName: 'Pat', lastName: 'Plain' })
const jdoe = await svc.createUser({ username: 'jdoe', email: 'jdoe@example.com', firstName: 'John', lastName: 'Doe' })

if ((await svc.call('PUT', `/v1/users/${bob.id}/status`, { token: admin, body: { status: 'inactive' } })).statusCode !== 200) throw new Error('deactivate bob')
for (let i = 0; i < 5; i++) await svc.call('POST', '/v1/authentication', { body: { username: 'lst.carol', password: `wrong password ${i} here` } })

const auditorToken = await svc.login('lst.alice')
const plainToken = await svc.login('plain.user')

const list = async (query: string, token = admin) => {
  const res = await svc.call('GET', `/v1/users${query === '' ? '' : `?${query}`}`, { token })
  if (res.statusCode !== 200) throw new Error(`GET /v1/users?${query}: ${res.statusCode} ${res.body}`)
  return res.json() as { items: UserView[], nextCursor: string | null }
}
const names = async (query: string) => (await list(query)).items.map(u => u.username)

t.test('the list is sorted by username, matches its schema and reports computed status', async t => {
  const res = await svc.call('GET', '/v1/users?limit=200', { token: admin })
  t.equal(res.statusCode, 200)
  api.check(t, 'GET', '/v1/users', res)
  const { items, nextCursor } = res.json() as { items: UserView[], nextCursor: null }
  t.equal(nextCursor, null)
  const usernames = items.map(u => u.username)
  t.same(usernames, [...usernames].sort(), 'sorted by username')
  t.same(usernames.sort(), ['admin', 'jdoe', 'lst.alice', 'lst.bob', 'lst.carol', 'lst.dave', 'plain.user', 'zed'])
  const byName = Object.fromEntries(items.map(u => [u.username, u]))
  t.equal(byName['lst.bob']?.status, 'inactive')
  t.equal(byName['lst.carol']?.status, 'locked')
  t.match(byName['lst.alice'], {
    id: alice.id, email: 'Alice.Wonder@Corp.Example', phone: '+573001234567', roles: ['identity-auditor'], companies: ['acme'],
    providers: [{ providerId: 'carrier-x', externalUserId: 'x-1' }]
  })
  t.same(byName['lst.carol']?.providers, [{ providerId: 'carrier-x', externalUserId: null }])
})

t.test('each filter', async t => {
  const cases: [string, string[]][] = [
    ['username=lst.alice', ['lst.alice']],
    ['username=LST.ALICE', ['lst.alice']],
    ['username=%EF%BC%AA%EF%BC%A4%EF%BD%8F%EF%BD%85', ['jdoe']], // ＪＤｏｅ
    ['username=lst', []],
    ['email=alice.wonder%40corp.example', ['lst.alice']],
    ['email=BOB%40OTHER.EXAMPLE', ['lst.bob']],
    ['email=corp.example', []],
    ['q=lst.', ['lst.alice', 'lst.bob', 'lst.carol', 'lst.dave', 'zed']], // zed by email
    ['q=ALICE', ['lst.alice']], // email prefix
    ['q=rob', ['lst.bob']], // first name
    ['q=ROBERTO', ['lst.bob']],
    ['q=bermu', ['lst.carol']], // last name
    ['q=lstm', ['zed']], // last name, not username
    ['q=z', ['lst.alice', 'zed']], // Zapata, zed
    ['q=apata', []], // prefix, not substring
    ['status=active', ['admin', 'jdoe', 'lst.alice', 'lst.dave', 'plain.user', 'zed']],
    ['status=inactive', ['lst.bob']],
    ['status=locked', ['lst.carol']],
    ['role=identity-auditor', ['lst.alice', 'lst.dave']],
    ['role=identity-admin', ['admin']],
    ['role=identity-subscriber', []],
    ['companyId=acme', ['lst.alice', 'lst.bob']],
    ['companyId=globex', ['lst.bob']],
    ['providerId=carrier-x', ['lst.alice', 'lst.carol']],
    ['identificationType=CE', ['lst.bob']],
    ['identificationType=TI', ['zed']],
    ['identificationNumber=3003', ['lst.carol', 'lst.dave']],
    ['identificationType=PA&identificationNumber=3003', ['lst.dave']],
    ['identificationType=CC&identificationNumber=3003', ['lst.carol']]
  ]
  for (const [query, expected] of cases) t.same(await names(query), expected, query)
})

t.test('filters combine with AND', async t => {
  const cases: [string, string[]][] = [
    ['companyId=acme&status=active', ['lst.alice']],
    ['companyId=acme&status=inactive', ['lst.bob']],
    ['role=identity-auditor&q=dav', ['lst.dave']],
    ['providerId=carrier-x&status=locked', ['lst.carol']],
    ['providerId=carrier-x&companyId=acme', ['lst.alice']],
    ['q=lst.&identificationType=CC', ['lst.alice', 'lst.carol']],
    ['q=lst.&status=active', ['lst.alice', 'lst.dave', 'zed']],
    ['username=lst.alice&status=inactive', []],
    ['email=carol%40corp.example&status=locked', ['lst.carol']],
    ['role=identity-auditor&companyId=globex', []]
  ]
  for (const [query, expected] of cases) t.same(await names(query), expected, query)
})

t.test('pagination walks every user once, in order', async t => {
  for (let i = 0; i < 7; i++) await svc.createUser({ username: `pg-${String(i).padStart(2, '0')}`, firstName: 'Page', lastName: `Walker${i}` })
  const everyone = (await list('limit=200')).items.map(u => u.id)
  for (const [query, limit] of [['', 2], ['', 3], ['q=pg-', 3], ['q=page', 2], ['status=active', 4]] as const) {
    const full = (await list(`${query}&limit=200`)).items.map(u => u.id)
    const seen: string[] = []
    let cursor: string | null = null
    let pages = 0
    do {
      const page: { items: UserView[], nextCursor: string | null } =
        await list(`${query}&limit=${limit}${cursor === null ? '' : `&cursor=${encodeURIComponent(cursor)}`}`)
      t.ok(page.items.length <= limit, 'a page holds at most limit items')
      if (page.nextCursor !== null) t.equal(page.items.length, limit, 'only the last page is short')
      seen.push(...page.items.map(u => u.id))
      cursor = page.nextCursor
      pages++
    } while (cursor !== null && pages < 100)
    t.same(seen, full, `?${query} by ${limit}: every item once, in order (${pages} pages)`)
    t.equal(new Set(seen).size, seen.length, 'no duplicates')
  }
  t.equal((await list('q=pg-&limit=7')).nextCursor, null, 'an exact last page has no next cursor')
  t.ok(everyone.length >= 15)
  t.equal((await list('')).items.length, everyone.length, 'the default limit (50) holds them all')
})

t.test('limit out of range is a 400 pointing at /query/limit', async t => {
  for (const limit of ['0', '201', 'abc', '1.5', '-1', '', '1e2']) {
    const res = await svc.call('GET', `/v1/users?limit=${limit}`, { token: admin })
    const body = expectProblem(t, res, 400, {}, `limit=${limit}`)
    t.same(errorPaths(body), ['/query/limit'], `limit=${limit}`)
    api.check(t, 'GET', '/v1/users', res)
  }
  t.equal((await list('limit=1')).items.length, 1)
  t.equal((await list('limit=200')).items.length > 1, true)
})

t.test('a tampered or foreign cursor is a 400', async t => {
  const { nextCursor } = await list('limit=2')
  t.type(nextCursor, 'string')
  const cursor = nextCursor!
  const decoded = JSON.parse(Buffer.from(cursor, 'base64url').toString()) as { a: string }
  const edited = Buffer.from(JSON.stringify({ ...decoded, a: 'zzz' })).toString('base64url')
  const flipped = cursor.slice(0, -1) + (cursor.endsWith('A') ? 'B' : 'A')
  for (const [name, query] of [
    ['flipped character', `limit=2&cursor=${flipped}`],
    ['edited position', `limit=2&cursor=${edited}`],
    ['garbage', 'limit=2&cursor=not-a-cursor'],
    ['other query', `limit=2&status=active&cursor=${cursor}`],
    ['not base64url', 'limit=2&cursor=%24%24%24']
  ] as const) {
    const res = await svc.call('GET', `/v1/users?${query}`, { token: admin })
    const body = expectProblem(t, res, 400, {}, name)
    t.same(errorPaths(body), ['/query/cursor'], name)
  }
})

t.test('invalid filters are 400s naming the parameter', async t => {
  for (const [query, path] of [
    ['status=deleted', '/query/status'],
    ['role=Not%20A%20Slug', '/query/role'],
    ['identificationType=cc', '/query/identificationType'],
    ['identificationNumber=12%2034', '/query/identificationNumber'],
    ['q=', '/query/q'],
    [`q=${'a'.repeat(101)}`, '/query/q']
  ] as const) {
    const res = await svc.call('GET', `/v1/users?${query}`, { token: admin })
    const body = expectProblem(t, res, 400, {}, query)
    t.ok(errorPaths(body).includes(path), `${query}: ${JSON.stringify(body.errors)}`)
  }
})

t.test('who may list users', async t => {
  t.equal((await svc.call('GET', '/v1/users', { token: auditorToken })).statusCode, 200, 'auditor')
  expectProblem(t, await svc.call('GET', '/v1/users', { token: plainToken }), 403, {}, 'plain user')
  const anonymous = await svc.call('GET', '/v1/users')
  expectProblem(t, anonymous, 401, {}, 'no token')
  t.match(anonymous.headers['www-authenticate'], /^Bearer/)
  api.check(t, 'GET', '/v1/users', anonymous)
})

t.test('GET /v1/users/{id}', async t => {
  const asAdmin = await svc.call('GET', `/v1/users/${dave.id}`, { token: admin })
  t.equal(asAdmin.statusCode, 200)
  api.check(t, 'GET', '/v1/users/{id}', asAdmin)
  t.equal(asAdmin.headers.etag, `"${asAdmin.json().version}"`, 'strong ETag = version')
  t.same(asAdmin.json(), dave)

  const asAuditor = await svc.call('GET', `/v1/users/${dave.id}`, { token: auditorToken })
  t.equal(asAuditor.statusCode, 200, 'an auditor reads anyone')
  const self = await svc.call('GET', `/v1/users/${plain.id}`, { token: plainToken })
  t.equal(self.statusCode, 200, 'a plain user reads itself')
  t.equal(self.json().id, plain.id)
  const other = await svc.call('GET', `/v1/users/${dave.id}`, { token: plainToken })
  expectProblem(t, other, 403, {}, 'a plain user reading another')
  api.check(t, 'GET', '/v1/users/{id}', other)
  expectProblem(t, await svc.call('GET', `/v1/users/${UNKNOWN_ID}`, { token: plainToken }), 403, {}, 'a plain user probing an unknown id')

  for (const id of ['not-a-uuid', '123', `${dave.id}x`, "1' OR '1'='1"]) {
    const res = await svc.call('GET', `/v1/users/${encodeURIComponent(id)}`, { token: admin })
    const body = expectProblem(t, res, 400, {}, id)
    t.same(errorPaths(body), ['/params/id'])
  }
  const unknown = await svc.call('GET', `/v1/users/${UNKNOWN_ID}`, { token: admin })
  expectProblem(t, unknown, 404, {}, 'unknown id')
  api.check(t, 'GET', '/v1/users/{id}', unknown)
})

t.test('GET /v1/users/me', async t => {
  for (const [token, user] of [[plainToken, plain], [auditorToken, alice]] as const) {
    const res = await svc.call('GET', '/v1/users/me', { token })
    t.equal(res.statusCode, 200)
    api.check(t, 'GET', '/v1/users/me', res)
    t.equal(res.json().id, user.id)
    t.equal(res.headers.etag, `"${res.json().version}"`)
  }
  const me = await svc.call('GET', '/v1/users/me', { token: admin })
  t.equal(me.json().username, 'admin')
  expectProblem(t, await svc.call('GET', '/v1/users/me'), 401)
})

t.test('GET /v1/users/by-username/{username}', async t => {
  for (const spelling of ['jdoe', 'JDoe', 'ＪＤｏｅ', 'JDOE']) {
    const res = await svc.call('GET', `/v1/users/by-username/${encodeURIComponent(spelling)}`, { token: admin })
    t.equal(res.statusCode, 200, spelling)
    t.equal(res.json().id, jdoe.id, spelling)
    t.equal(res.headers.etag, `"${jdoe.version}"`)
  }
  const res = await svc.call('GET', '/v1/users/by-username/jdoe', { token: auditorToken })
  t.equal(res.statusCode, 200, 'auditor')
  api.check(t, 'GET', '/v1/users/by-username/{username}', res)
  for (const name of ['nobody', 'x', 'has space', 'ａ'.repeat(65)]) {
    const missing = await svc.call('GET', `/v1/users/by-username/${encodeURIComponent(name)}`, { token: admin })
    expectProblem(t, missing, 404, {}, name)
    api.check(t, 'GET', '/v1/users/by-username/{username}', missing)
  }
  expectProblem(t, await svc.call('GET', '/v1/users/by-username/plain.user', { token: plainToken }), 403, {}, 'even for oneself')
})
