/**
 * POST /v1/authentication on the real service: the RFC 6749 token response and its claims, the
 * one indistinguishable 401 for every failure, the lockout, and the per-address throttle.
 */
import { createPublicKey, verify as cryptoVerify } from 'node:crypto'
import { setTimeout as sleep } from 'node:timers/promises'
import t from 'tap'
import {
  ADMIN_PASSWORD, PASSWORD, decodeJwt, errorPaths, expectProblem, loadApiDocument, openApiService, userBody
} from '../helpers/api.js'

const svc = await openApiService(t)
const api = await loadApiDocument(svc)

t.test('a successful login: 200, RFC 6749 body, no-store, signed claims', async t => {
  const user = await svc.createUser({ roles: ['identity-auditor'] })
  const before = Math.floor(Date.now() / 1000)
  const res = await svc.call('POST', '/v1/authentication', { body: { username: user.username, password: PASSWORD } })
  const after = Math.ceil(Date.now() / 1000)
  t.equal(res.statusCode, 200)
  t.match(res.headers['content-type'], /^application\/json/)
  t.equal(res.headers['cache-control'], 'no-store')
  api.check(t, 'POST', '/v1/authentication', res)
  const body = res.json()
  t.same(Object.keys(body).sort(), ['access_token', 'expires_in', 'refresh_token', 'token_type'], 'the RFC 6749 §5.1 fields, now with a refresh token')
  t.equal(body.token_type, 'Bearer')
  t.equal(body.expires_in, 900, 'IDM_TOKEN_TTL default, in seconds')

  const { header, payload } = decodeJwt(body.access_token)
  t.match(header, { alg: 'ES256', kid: String })
  t.match(payload, {
    iss: svc.oauth.issuer,
    aud: 'identity-manager',
    sub: user.id,
    sid: /^[0-9a-f-]{36}$/,
    jti: /^[0-9a-f-]{36}$/,
    preferred_username: user.username,
    roles: ['identity-auditor']
  })
  const iat = payload.iat as number
  t.ok(iat >= before - 1 && iat <= after, 'iat is now')
  t.equal(payload.exp, iat + 900, 'exp = iat + ttl')

  // The signature verifies with the published key of that kid, without any shared secret.
  const jwks = await svc.call('GET', '/.well-known/jwks.json')
  t.equal(jwks.statusCode, 200)
  const jwk = jwks.json().keys.find((k: { kid: string }) => k.kid === header.kid)
  t.ok(jwk, 'the token kid is published')
  const [h, p, s] = body.access_token.split('.')
  const valid = cryptoVerify('sha256', Buffer.from(`${h}.${p}`), { key: createPublicKey({ key: jwk, format: 'jwk' }), dsaEncoding: 'ieee-p1363' }, Buffer.from(s, 'base64url'))
  t.ok(valid, 'ES256 signature verifies against the JWKS')

  const me = await svc.call('GET', '/v1/users/me', { token: body.access_token })
  t.equal(me.statusCode, 200)
  t.equal(me.json().id, user.id)
})

t.test('the username is matched after NFKC and lower-casing', async t => {
  const user = await svc.createUser()
  const shouted = user.username.toUpperCase()
  const fullWidth = [...user.username].map(c => /[a-z0-9]/.test(c) ? String.fromCodePoint(c.codePointAt(0)! + 0xfee0) : c).join('')
  for (const username of [shouted, fullWidth]) {
    const res = await svc.call('POST', '/v1/authentication', { body: { username, password: PASSWORD } })
    t.equal(res.statusCode, 200, username)
    t.equal(decodeJwt(res.json().access_token).payload.sub, user.id)
  }
})

t.test('every failure is the same 401: unknown user, wrong password, inactive, locked', async t => {
  const inactive = await svc.createUser()
  t.equal((await svc.call('PUT', `/v1/users/${inactive.id}/status`, { token: svc.admin, body: { status: 'inactive' } })).statusCode, 200)
  const locked = await svc.createUser()
  for (let i = 0; i < 5; i++) await svc.call('POST', '/v1/authentication', { body: { username: locked.username, password: `wrong guess number ${i}` } })
  const wrong = await svc.createUser()

  const attempts = {
    'unknown user': { username: 'nobody-here-at-all', password: PASSWORD },
    'invalid username': { username: 'x', password: PASSWORD },
    'wrong password': { username: wrong.username, password: 'not the right password at all' },
    'inactive account, right password': { username: inactive.username, password: PASSWORD },
    'locked account, right password': { username: locked.username, password: PASSWORD }
  }
  const answers = []
  for (const [name, body] of Object.entries(attempts)) {
    const res = await svc.call('POST', '/v1/authentication', { body })
    const problem = expectProblem(t, res, 401, {}, name)
    api.check(t, 'POST', '/v1/authentication', res)
    answers.push({ name, body: problem, challenge: res.headers['www-authenticate'] })
  }
  const [first, ...rest] = answers
  for (const other of rest) {
    t.same(other.body, first!.body, `${other.name}: same body as ${first!.name}`)
    t.equal(other.challenge, first!.challenge, `${other.name}: same WWW-Authenticate`)
  }
  t.notMatch(first!.body.detail, /lock|inactive|unknown|exist/i, 'the detail tells nothing about the account')
})

t.test('five consecutive failures lock the account; the admin sees status locked', async t => {
  const user = await svc.createUser()
  const eventsBefore = await svc.eventCount()
  for (let i = 0; i < 5; i++) {
    const res = await svc.call('POST', '/v1/authentication', { body: { username: user.username, password: `wrong guess number ${i}` } })
    expectProblem(t, res, 401, {}, `failure ${i + 1}`)
  }
  t.ok(await svc.eventCount() >= eventsBefore + 5, 'every failure is recorded as an event')

  const read = await svc.call('GET', `/v1/users/${user.id}`, { token: svc.admin })
  t.equal(read.statusCode, 200)
  t.equal(read.json().status, 'locked')
  const listed = await svc.call('GET', `/v1/users?status=locked&username=${user.username}`, { token: svc.admin })
  t.same(listed.json().items.map((u: { id: string }) => u.id), [user.id], 'the status filter finds locked users')

  const right = await svc.call('POST', '/v1/authentication', { body: { username: user.username, password: PASSWORD } })
  expectProblem(t, right, 401, {}, 'the right password while locked')
})

t.test('failures below the threshold are forgotten after a success', async t => {
  const user = await svc.createUser()
  for (let round = 0; round < 2; round++) {
    for (let i = 0; i < 4; i++) await svc.call('POST', '/v1/authentication', { body: { username: user.username, password: `wrong guess ${round}-${i}` } })
    t.equal((await svc.call('POST', '/v1/authentication', { body: { username: user.username, password: PASSWORD } })).statusCode, 200)
  }
  t.equal((await svc.call('GET', `/v1/users/${user.id}`, { token: svc.admin })).json().status, 'active')
})

t.test('the admin logs in with the bootstrap password', async t => {
  const res = await svc.call('POST', '/v1/authentication', { body: { username: 'admin', password: ADMIN_PASSWORD } })
  t.equal(res.statusCode, 200)
  t.same(decodeJwt(res.json().access_token).payload.roles, ['identity-admin'])
})

t.test('an invalid body is a 400 naming the field, and records nothing', async t => {
  const before = await svc.eventCount()
  const cases: [unknown, string][] = [
    [{ username: 'admin' }, '/body/password'],
    [{ password: ADMIN_PASSWORD }, '/body/username'],
    [{ username: 'admin', password: ADMIN_PASSWORD, grant_type: 'password' }, '/body/grant_type'],
    [{ username: 42, password: ADMIN_PASSWORD }, '/body/username'],
    [{ username: 'admin', password: '' }, '/body/password']
  ]
  for (const [body, path] of cases) {
    const res = await svc.call('POST', '/v1/authentication', { body })
    const problem = expectProblem(t, res, 400, {}, JSON.stringify(body))
    t.ok(errorPaths(problem).includes(path), `errors name ${path}: ${JSON.stringify(problem.errors)}`)
  }
  t.equal(await svc.eventCount(), before)
})

t.test('logins are throttled per client address with 429 and Retry-After', async t => {
  const limited = await openApiService(t, { IDM_LOGIN_RATE_LIMIT: '3' })
  // openApiService logged the admin in once already: two more attempts fit in the minute.
  const user = userBody()
  for (let i = 0; i < 2; i++) {
    const res = await limited.call('POST', '/v1/authentication', { body: { username: user.username, password: `guess ${i} is wrong` } })
    t.equal(res.statusCode, 401, `attempt ${i + 2} is answered`)
  }
  const before = await limited.eventCount()
  const res = await limited.call('POST', '/v1/authentication', { body: { username: 'admin', password: ADMIN_PASSWORD } })
  expectProblem(t, res, 429)
  const retryAfter = Number(res.headers['retry-after'])
  t.ok(Number.isInteger(retryAfter) && retryAfter >= 1 && retryAfter <= 60, `Retry-After is whole seconds: ${String(res.headers['retry-after'])}`)
  t.equal(await limited.eventCount(), before, 'a throttled attempt does no work')
  api.check(t, 'POST', '/v1/authentication', res)

  const other = await limited.call('POST', '/v1/authentication', {
    body: { username: 'admin', password: ADMIN_PASSWORD }, headers: { 'x-forwarded-for': '203.0.113.9' }
  })
  t.equal(other.statusCode, 429, 'X-Forwarded-For is not trusted by default: same address, still throttled')

  const token = limited.admin
  t.equal((await limited.call('GET', '/v1/users/me', { token })).statusCode, 200, 'other routes are not throttled')
})

t.test('logins are throttled per username too', async t => {
  const limited = await openApiService(t, { IDM_LOGIN_RATE_LIMIT_PER_USERNAME: '2' })
  const user = await limited.createUser()
  const statuses = []
  for (let i = 0; i < 3; i++) {
    statuses.push((await limited.call('POST', '/v1/authentication', { body: { username: user.username.toUpperCase(), password: `wrong ${i} attempt here` } })).statusCode)
  }
  t.same(statuses, [401, 401, 429], 'the third attempt on one username (any spelling) is throttled')
  t.equal((await limited.call('POST', '/v1/authentication', { body: { username: 'admin', password: ADMIN_PASSWORD } })).statusCode, 200, 'another username is not')
})

t.test('parallel guesses cannot outrun the lockout', async t => {
  const user = await svc.createUser()
  const guesses = await Promise.all(Array.from({ length: 12 }, (_, i) =>
    svc.call('POST', '/v1/authentication', { body: { username: user.username, password: `parallel guess ${i}` } })))
  t.same(guesses.map(r => r.statusCode), Array(12).fill(401))
  const stream = await svc.store.readStream(`auth-${user.id}`)
  const checked = stream.filter(e => e.type === 'AuthenticationFailed' && (e.data as { reason?: string }).reason === 'invalid_credentials')
  t.equal(checked.length, 5, 'exactly the threshold of guesses was checked against the password')
  t.equal(stream.filter(e => e.type === 'UserLockedOut').length, 1, 'one lockout')
  t.equal(stream.filter(e => e.type === 'AuthenticationFailed' && (e.data as { reason?: string }).reason === 'locked').length, 7, 'the rest met the lock')
  t.equal((await svc.call('GET', `/v1/users/${user.id}`, { token: svc.admin })).json().status, 'locked')
})

t.test('a failure for an unknown username is recorded too, in a stream of its own', async t => {
  const before = await svc.store.headPosition()
  expectProblem(t, await svc.call('POST', '/v1/authentication', { body: { username: 'ghost.user', password: PASSWORD } }), 401)
  const events = await svc.store.readAll({ after: before })
  t.equal(events.length, 1)
  t.match(events[0], { type: 'AuthenticationFailed', stream: /^auth-unknown-[0-9a-f]{64}$/, data: { userId: null, reason: 'unknown_user' } })
  t.notMatch(JSON.stringify(events[0]), new RegExp(PASSWORD), 'the password tried is not recorded')
})

t.test('the lockout window grows with repeated lockouts, and expires', async t => {
  const fast = await openApiService(t, { IDM_LOCKOUT_BASE_SECONDS: '2', IDM_LOCKOUT_MAX_SECONDS: '60' })
  const user = await fast.createUser()
  const fail = async (n: number) => {
    for (let i = 0; i < n; i++) await fast.call('POST', '/v1/authentication', { body: { username: user.username, password: `wrong guess ${i} again` } })
  }
  const status = async () => (await fast.call('GET', `/v1/users/${user.id}`, { token: fast.admin })).json().status as string
  await fail(5)
  t.equal(await status(), 'locked', 'first lockout')
  await sleep(2400)
  t.equal(await status(), 'active', 'over after the base window (2 s)')
  await fail(5)
  t.equal(await status(), 'locked', 'second lockout')
  await sleep(2400)
  t.equal(await status(), 'locked', 'still locked after 2.4 s: the window doubled to 4 s')
  await sleep(2000)
  t.equal(await status(), 'active', 'over after 4 s')
  t.equal((await fast.call('POST', '/v1/authentication', { body: { username: user.username, password: PASSWORD } })).statusCode, 200, 'the right password works again')
})
