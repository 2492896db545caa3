/**
 * GET /v1/users/{id}/history and GET /v1/users/{id}?asOf= on the real service: pagination across
 * pages with authentication events merged in, secrets redacted, the user folded at instants
 * across its life, and who may read any of it.
 */
import t from 'tap'
import { PASSWORD, openAuditService } from './helpers.js'

const UNKNOWN = '0190a6d2-7c1e-7b3a-9f00-1234567890ab'

t.test('history: own and authentication events, oldest first, paginated, secrets redacted', async t => {
  const svc = await openAuditService(t)
  const user = await svc.createUser({ roles: ['identity-auditor'] })
  svc.tick()
  await svc.ok('POST', `/v1/users/${user.id}/roles`, { token: svc.admin, body: { roleId: 'identity-subscriber' } })
  svc.tick()
  const bad = await svc.call('POST', '/v1/authentication', { body: { username: user.username, password: 'not the password at all' } })
  t.equal(bad.statusCode, 401)
  const own = await svc.token(user.username, PASSWORD)
  svc.tick()
  await svc.ok('PUT', `/v1/users/${user.id}/password`, { token: svc.admin, body: { newPassword: 'a completely different passphrase' } })
  svc.tick()
  await svc.ok('PUT', `/v1/users/${user.id}/status`, { token: svc.admin, body: { status: 'inactive', reason: 'left the company' } })

  const all = await svc.ok('GET', `/v1/users/${user.id}/history?limit=200`, { token: svc.admin })
  t.same(all.items.map((i: any) => i.type), [
    'UserRegistered', 'UserRoleAssigned', 'AuthenticationFailed', 'AuthenticationSucceeded', 'UserPasswordReset', 'UserDeactivated'
  ])
  t.equal(all.nextCursor, null)
  const positions = all.items.map((i: any) => i.position)
  t.same(positions, [...positions].sort((a, b) => a - b), 'oldest first by position')
  t.same(new Set(all.items.map((i: any) => i.stream)), new Set([`user-${user.id}`, `auth-${user.id}`]))
  t.match(all.items[0], {
    revision: 0,
    stream: `user-${user.id}`,
    occurredAt: '2031-03-04T05:06:07.000Z',
    actor: { id: String, username: 'admin' },
    correlationId: String,
    causationId: String,
    data: { userId: user.id, username: user.username, passwordHash: '[redacted]' }
  })
  t.equal(all.items[4].data.passwordHash, '[redacted]')
  t.notMatch(JSON.stringify(all), /scrypt|c2NyeXB0/, 'no hash anywhere')
  t.match(all.items[3], { stream: `auth-${user.id}`, revision: 1, actor: { username: String } })
  t.match(all.items[5], { data: { reason: 'left the company' } })

  // Two at a time: three pages, exclusive `after`, the same items in the same order.
  const seen: any[] = []
  let cursor: string | null = null
  let pages = 0
  do {
    const page: any = await svc.ok('GET', `/v1/users/${user.id}/history?limit=2${cursor === null ? '' : `&after=${cursor}`}`, { token: svc.admin })
    pages++
    t.ok(page.items.length <= 2)
    seen.push(...page.items)
    cursor = page.nextCursor
    if (cursor !== null) t.equal(cursor, String(page.items[page.items.length - 1].position), 'the cursor is the last position')
  } while (cursor !== null && pages < 10)
  t.equal(pages, 3)
  t.same(seen, all.items)
  const alias = await svc.ok('GET', `/v1/users/${user.id}/history?limit=2&cursor=${positions[1]}`, { token: svc.admin })
  t.same(alias.items, all.items.slice(2, 4), 'cursor= is the same as after=')
  const tail = await svc.ok('GET', `/v1/users/${user.id}/history?after=${positions[5]}`, { token: svc.admin })
  t.same(tail, { items: [], nextCursor: null })

  // Own token was revoked by the deactivation; an auditor reads, a plain user may not.
  const auditor = await svc.caller(['identity-auditor'])
  t.equal((await svc.call('GET', `/v1/users/${user.id}/history`, { token: auditor })).statusCode, 200)
  const plain = await svc.caller([])
  t.equal((await svc.call('GET', `/v1/users/${user.id}/history`, { token: plain })).statusCode, 403)
  const subscriber = await svc.caller(['identity-subscriber'])
  t.equal((await svc.call('GET', `/v1/users/${user.id}/history`, { token: subscriber })).statusCode, 403)
  t.equal((await svc.call('GET', `/v1/users/${user.id}/history`)).statusCode, 401)
  t.equal((await svc.call('GET', `/v1/users/${user.id}/history`, { token: own })).statusCode, 401, 'deactivated: token revoked')

  t.equal((await svc.call('GET', `/v1/users/${UNKNOWN}/history`, { token: svc.admin })).statusCode, 404)
  for (const query of ['limit=0', 'limit=201', 'after=-1', 'after=abc', 'after=1.5', `after=1&cursor=2`]) {
    const res = await svc.call('GET', `/v1/users/${user.id}/history?${query}`, { token: svc.admin })
    t.equal(res.statusCode, 400, query)
    t.match(res.headers['content-type'], /application\/problem\+json/)
  }
  t.equal((await svc.call('GET', '/v1/users/not-a-uuid/history', { token: svc.admin })).statusCode, 400)
})

t.test('history pages through a long login history without missing or repeating', async t => {
  const svc = await openAuditService(t)
  const user = await svc.createUser()
  for (let i = 0; i < 12; i++) {
    await svc.token(user.username, PASSWORD)
    if (i === 5) await svc.ok('POST', `/v1/users/${user.id}/roles`, { token: svc.admin, body: { roleId: 'identity-auditor' } })
  }
  const all = await svc.ok('GET', `/v1/users/${user.id}/history?limit=200`, { token: svc.admin })
  t.equal(all.items.length, 14)
  const seen: number[] = []
  let after = 0
  for (;;) {
    const page = await svc.ok('GET', `/v1/users/${user.id}/history?limit=5&after=${after}`, { token: svc.admin })
    seen.push(...page.items.map((i: any) => i.position))
    if (page.nextCursor === null) break
    after = Number(page.nextCursor)
  }
  t.same(seen, all.items.map((i: any) => i.position))
})

t.test('asOf: the user as it was at instants across its life', async t => {
  const svc = await openAuditService(t)
  const beforeCreation = svc.now().toISOString()
  svc.tick()
  const created = await svc.createUser({ companies: [] })
  const atCreation = svc.now().toISOString()
  svc.tick()
  const afterCreate = svc.now().toISOString()
  svc.tick()
  const withRole = await svc.ok('POST', `/v1/users/${created.id}/roles`, { token: svc.admin, body: { roleId: 'identity-auditor' } })
  svc.tick(30_000)
  const afterRole = svc.now().toISOString()
  svc.tick(30_000)
  const deactivated = await svc.ok('PUT', `/v1/users/${created.id}/status`, { token: svc.admin, body: { status: 'inactive' } })
  svc.tick()
  const afterDeactivation = svc.now().toISOString()
  const current = await svc.ok('GET', `/v1/users/${created.id}`, { token: svc.admin })

  const asOf = async (instant: string) => await svc.call('GET', `/v1/users/${created.id}?asOf=${encodeURIComponent(instant)}`, { token: svc.admin })

  const missing = await asOf(beforeCreation)
  t.equal(missing.statusCode, 404, 'before creation')
  t.match(missing.headers['content-type'], /problem\+json/)

  const justCreated = await asOf(atCreation)
  t.equal(justCreated.statusCode, 200, 'at the very instant of creation')
  t.same(justCreated.json(), created, 'what POST answered')
  t.equal(justCreated.headers.etag, '"0"')
  t.same((await asOf(afterCreate)).json(), created)

  const roleThen = (await asOf(afterRole)).json()
  t.same(roleThen, withRole, 'after the role assignment: what that write answered')
  t.same(roleThen.roles, ['identity-auditor'])
  t.equal(roleThen.version, 1)

  t.same((await asOf(afterDeactivation)).json(), deactivated, 'after the deactivation')
  t.equal((await asOf(afterDeactivation)).json().status, 'inactive')
  t.same((await asOf('2999-01-01T00:00:00Z')).json(), current, 'the future: the current state')

  // Offsets are instants too: afterRole written in UTC+05:00.
  const offset = new Date(Date.parse(afterRole) + 5 * 3600_000).toISOString().replace('Z', '+05:00')
  t.same((await asOf(offset)).json(), withRole)

  const byName = await svc.call('GET', `/v1/users/by-username/${created.username}?asOf=${encodeURIComponent(afterCreate)}`, { token: svc.admin })
  t.equal(byName.statusCode, 200)
  t.same(byName.json(), created, 'by username as well')
  t.equal((await svc.call('GET', `/v1/users/by-username/${created.username}?asOf=${encodeURIComponent(beforeCreation)}`, { token: svc.admin })).statusCode, 404)
  t.equal((await svc.call('GET', `/v1/users/by-username/nobody-here?asOf=${encodeURIComponent(afterCreate)}`, { token: svc.admin })).statusCode, 404)

  for (const bad of ['yesterday', '2031-03-04', '2031-03-04T05:06:07', '2031-13-01T00:00:00Z', '2031-03-04 05:06:07Z', '']) {
    const res = await asOf(bad)
    t.equal(res.statusCode, 400, `asOf=${bad}`)
    t.match(res.json(), { errors: [{ path: '/query/asOf' }] })
  }
  t.equal((await svc.call('GET', `/v1/users/by-username/${created.username}?asOf=nope`, { token: svc.admin })).statusCode, 400)
  t.equal((await svc.call('GET', `/v1/users/${UNKNOWN}?asOf=${encodeURIComponent(afterCreate)}`, { token: svc.admin })).statusCode, 404)

  const auditor = await svc.caller(['identity-auditor'])
  t.equal((await svc.call('GET', `/v1/users/${created.id}?asOf=${encodeURIComponent(afterRole)}`, { token: auditor })).statusCode, 200)
  const plainUser = await svc.createUser()
  const plain = await svc.token(plainUser.username, PASSWORD)
  t.equal((await svc.call('GET', `/v1/users/${plainUser.id}`, { token: plain })).statusCode, 200, 'a user reads itself now…')
  t.equal((await svc.call('GET', `/v1/users/${plainUser.id}?asOf=2999-01-01T00:00:00Z`, { token: plain })).statusCode, 403, '…but as-of is an audit read')
})

t.test('asOf shows a lockout that was in force at that instant', async t => {
  const svc = await openAuditService(t, { IDM_LOCKOUT_THRESHOLD: '2', IDM_LOCKOUT_BASE_SECONDS: '600' })
  const user = await svc.createUser()
  svc.tick()
  for (let i = 0; i < 2; i++) await svc.call('POST', '/v1/authentication', { body: { username: user.username, password: 'wrong wrong wrong wrong' } })
  const locked = svc.now().toISOString()
  const url = (instant: string) => `/v1/users/${user.id}?asOf=${encodeURIComponent(instant)}`
  t.equal((await svc.ok('GET', url(locked), { token: svc.admin })).status, 'locked')
  t.same(await svc.ok('GET', url('2999-01-01T00:00:00Z'), { token: svc.admin }), await svc.ok('GET', `/v1/users/${user.id}`, { token: svc.admin }),
    'the future equals the current view (including the lock the read model derives)')
  t.equal((await svc.ok('GET', url(new Date(Date.parse(locked) + 601_000).toISOString()), { token: svc.admin })).status, 'locked',
    'an instant after now is now: the lock still holds')
  svc.tick(11 * 60_000)
  t.equal((await svc.ok('GET', url(new Date(Date.parse(locked) + 601_000).toISOString()), { token: svc.admin })).status, 'active', 'the window had passed')
  t.equal((await svc.ok('GET', url(locked), { token: svc.admin })).status, 'locked', 'and it was locked then')
  t.equal((await svc.ok('GET', url(new Date(Date.parse(locked) - 30_000).toISOString()), { token: svc.admin })).status, 'active', 'not yet locked')
})
