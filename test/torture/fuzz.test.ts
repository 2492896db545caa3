/**
 * Hostile input at scale: a fast-check property over generated requests to every route of the
 * real service (the route list comes from its own OpenAPI document, plus unknown paths), with
 * any method, arbitrary or invalid path parameters, query strings, headers, content types and
 * bodies (arbitrary JSON, deep nesting, huge strings, `__proto__` keys, invalid JSON and UTF-8,
 * valid bodies with one field broken), and no, garbage, forged or valid tokens.
 *
 * For every request: no 5xx; every error is a problem+json; no secret in the response (a scrypt
 * hash, an unredacted passwordHash, a password that was sent, a stack trace); and a refused (4xx)
 * request changed nothing — the log did not grow, except for the failed-login events a refused
 * login or a wrong current password is meant to record.
 *
 * FUZZ_RUNS (default 10,000) sets the number of requests; FUZZ_SEED replays a run (the seed is
 * printed at the start and, with the shrunk counterexample, on failure).
 */
import fc from 'fast-check'
import type { Response } from 'light-my-request'
import t from 'tap'
import { testKeys, forgeToken } from '../helpers/http.js'
import { ADMIN_PASSWORD, decodeJwt, openApiService, OTHER_PASSWORD, PASSWORD, profileOf, UNKNOWN_ID, userBody } from '../helpers/api.js'
import { envInt } from '../helpers/torture.js'

const RUNS = envInt('FUZZ_RUNS', 10_000)
const SEED = envInt('FUZZ_SEED', Math.floor(Math.random() * 2 ** 31))
/** Every password the fuzzer sends carries this marker, so a response echoing one is caught. */
const PW = 'Fz9pw'

t.comment(`fuzz: ${RUNS} generated requests, seed ${SEED} (replay with FUZZ_SEED=${SEED} FUZZ_RUNS=${RUNS})`)

const svc = await openApiService(t, {
  // A wrong current password or failed logins for the admin must not lock the fuzzer's own
  // admin out for long: lockouts exist, but last a second.
  IDM_LOCKOUT_THRESHOLD: '20', IDM_LOCKOUT_BASE_SECONDS: '1', IDM_LOCKOUT_MAX_SECONDS: '1',
  IDM_LOGIN_RATE_LIMIT: '100000', IDM_LOGIN_RATE_LIMIT_PER_USERNAME: '100000'
})
const admin = svc.admin
for (const [path, id] of [['roles', 'fz-role'], ['companies', 'fz-co'], ['providers', 'fz-prov']] as const) {
  const res = await svc.call('POST', `/v1/${path}`, { token: admin, body: { id, name: id } })
  if (res.statusCode !== 201) throw new Error(`catalog setup: ${res.statusCode} ${res.body}`)
}
const victim = await svc.createUser({ username: 'fz-victim', roles: ['fz-role'], companies: ['fz-co'] })
const auditor = await svc.createUser({ username: 'fz-auditor', roles: ['identity-auditor'] })
const subscriber = await svc.createUser({ username: 'fz-subscriber', roles: ['identity-subscriber'] })
const adminId = decodeJwt(admin).payload.sub as string
const tokens = {
  admin,
  victim: await svc.login(victim.username),
  auditor: await svc.login(auditor.username),
  subscriber: await svc.login(subscriber.username)
}

// The fuzzer may legitimately take its own principals apart (make the victim an admin, then
// demote the admin; reset a password; lock an account). A root admin it never touches puts them
// back every REPAIR_EVERY requests, so that the run keeps reaching the handlers as each role.
const root = await svc.createUser({ username: 'fz-root', roles: ['identity-admin'] })
const rootToken = await svc.login(root.username)
const REPAIR_EVERY = 250
const principals = [
  { name: 'admin' as const, id: adminId, username: 'admin', password: ADMIN_PASSWORD, roles: ['identity-admin'] },
  { name: 'victim' as const, id: victim.id, username: victim.username, password: PASSWORD, roles: ['fz-role'] },
  { name: 'auditor' as const, id: auditor.id, username: auditor.username, password: PASSWORD, roles: ['identity-auditor'] },
  { name: 'subscriber' as const, id: subscriber.id, username: subscriber.username, password: PASSWORD, roles: ['identity-subscriber'] }
]
let repairs = 0
async function repair (): Promise<void> {
  const as = { token: rootToken }
  for (const p of principals) {
    await svc.call('PUT', `/v1/users/${p.id}/status`, { ...as, body: { status: 'active' } }) // also ends a lockout
    const current = (await svc.call('GET', `/v1/users/${p.id}`, as)).json() as { roles?: string[] }
    for (const role of p.roles) if (!(current.roles ?? []).includes(role)) await svc.call('POST', `/v1/users/${p.id}/roles`, { ...as, body: { roleId: role } })
    for (const role of current.roles ?? []) if (!p.roles.includes(role)) await svc.call('DELETE', `/v1/users/${p.id}/roles/${role}`, as)
    const me = await svc.call('GET', '/v1/users/me', { token: tokens[p.name] })
    if (me.statusCode === 200) continue
    let login = await svc.call('POST', '/v1/authentication', { body: { username: p.username, password: p.password } })
    if (login.statusCode !== 200) {
      await svc.call('PUT', `/v1/users/${p.id}/password`, { ...as, body: { newPassword: p.password } })
      login = await svc.call('POST', '/v1/authentication', { body: { username: p.username, password: p.password } })
    }
    if (login.statusCode === 200) tokens[p.name] = (login.json() as { access_token: string }).access_token
    repairs++
  }
}

// ── the routes, from the service's own OpenAPI document ─────────────────────────────────────
const doc = (await svc.app.inject({ url: '/openapi.json' })).json() as { paths: Record<string, Record<string, unknown>> }
const ROUTES = Object.entries(doc.paths).flatMap(([path, ops]) =>
  Object.keys(ops).filter((m) => ['get', 'post', 'put', 'delete', 'patch'].includes(m)).map((m) => ({ method: m.toUpperCase(), path })))
ROUTES.push({ method: 'GET', path: '/v1/nothing-here/{id}' }, { method: 'POST', path: '/v1' }, { method: 'GET', path: '/' })
const STREAM = '/v1/events/stream'

// ── generators ─────────────────────────────────────────────────────────────────────────────
const nasty = fc.constantFrom(
  '', ' ', '\u0000', '\uFEFF', '\uD800', '../../etc/passwd', '..%2F..%2Fetc%2Fpasswd', '%00', "' OR 1=1 --", '"; DROP TABLE users; --',
  '<script>alert(1)</script>', '${jndi:ldap://x/a}', '{{7*7}}', 'ＡＤＭＩＮ', 'admin', 'Admin', 'constructor', '__proto__', 'prototype',
  'toString', 'hasOwnProperty', 'NaN', '-1', '0', '1e309', '9007199254740993', 'null', 'true', '[]', '{}', '*', '%', '_', '\\',
  'a'.repeat(300), 'é'.repeat(100), '😀'.repeat(50), 'CC', 'fz-role', 'identity-admin', 'fz-victim', UNKNOWN_ID, victim.id, adminId)
const hostileString = fc.oneof(
  { weight: 3, arbitrary: nasty },
  { weight: 3, arbitrary: fc.string({ maxLength: 40 }) },
  { weight: 2, arbitrary: fc.string({ unit: 'grapheme', maxLength: 20 }) },
  { weight: 1, arbitrary: fc.string({ unit: 'binary', maxLength: 20 }) },
  { weight: 1, arbitrary: fc.constantFrom(1_000, 70_000).map((n) => 'x'.repeat(n)) }
)
const password = fc.oneof(
  // Never the admin's own password: a successful self-service change would end the fuzzer's admin token.
  fc.constantFrom(PASSWORD, OTHER_PASSWORD, 'password', '12345678', 'fz-victim-password-is-long'),
  fc.string({ maxLength: 30 }).map((s) => `${PW}${s}`),
  fc.constantFrom(2000, 5000).map((n) => `${PW}${'p'.repeat(n)}`)
)
const json: fc.Arbitrary<unknown> = fc.oneof(
  { weight: 4, arbitrary: fc.jsonValue({ maxDepth: 4 }) },
  { weight: 2, arbitrary: hostileString },
  { weight: 1, arbitrary: fc.constantFrom(null, true, 0, -1, 1.5, 1e308, [], {}, [[[]]]) }
)
const idParam = fc.oneof(
  { weight: 4, arbitrary: fc.constantFrom(victim.id, auditor.id, subscriber.id, adminId, UNKNOWN_ID) },
  { weight: 2, arbitrary: fc.uuid() },
  { weight: 3, arbitrary: hostileString }
)
const slugParam = fc.oneof(fc.constantFrom('fz-role', 'fz-co', 'fz-prov', 'identity-admin', 'identity-auditor', 'CC', 'NIT', 'nope'), hostileString)

/** A body that the route would accept, for the mutations to start from. */
const template = (method: string, path: string): fc.Arbitrary<Record<string, unknown>> => {
  const key = `${method} ${path}`
  const username = fc.oneof(
    fc.constantFrom('fz-victim', 'admin', 'fz-new-1', 'fz-new-2', 'FZ-NEW-1', 'ｆｚ-new-3', 'nobody-at-all'),
    fc.nat(100_000).map((n) => `fz-gen-${n}`))
  /** Mostly a valid value (so requests get past validation into the commands), sometimes not. */
  const mostly = <T>(valid: fc.Arbitrary<T>, ...invalid: T[]): fc.Arbitrary<T> =>
    fc.oneof({ weight: 9, arbitrary: valid }, { weight: 1, arbitrary: fc.constantFrom(...invalid) })
  const profile = fc.record({
    email: mostly(fc.oneof(fc.constantFrom('a@example.com', 'b@example.com', `${victim.email}`), fc.nat(100_000).map((n) => `fz-${n}@example.com`)), 'not-an-email'),
    firstName: mostly(fc.constantFrom('Ann', 'Bob'), ''),
    lastName: fc.constantFrom('Lee', 'Kim'),
    identificationType: mostly(fc.constantFrom('CC', 'NIT'), 'XX', 'cc'),
    identificationNumber: mostly(fc.oneof(fc.constantFrom('100', '200', victim.identificationNumber), fc.nat(100_000).map(String)), 'bad number'),
    phone: mostly(fc.constantFrom(null, '+573001234567'), '123')
  })
  const goodPassword = mostly(fc.constantFrom(PASSWORD, OTHER_PASSWORD, `${PW} quite long passphrase`), 'password', '12345678', `${PW}short`)
  if (key === 'POST /v1/authentication') return fc.record({ username, password })
  if (key === 'POST /v1/users') {
    return fc.tuple(profile, username, goodPassword, mostly(fc.subarray(['fz-role', 'identity-auditor']), ['nope'], ['identity-admin'])).map(([p, u, pw, roles]) => ({ ...p, username: u, password: pw, roles }))
  }
  if (key === 'PUT /v1/users/{id}') return profile
  if (key === 'PUT /v1/users/{id}/status') return fc.record({ status: fc.constantFrom('active', 'inactive', 'locked'), reason: fc.constantFrom('fuzz', null) })
  if (key === 'PUT /v1/users/{id}/password') return fc.record({ newPassword: goodPassword, currentPassword: password }, { requiredKeys: ['newPassword'] })
  if (key === 'POST /v1/users/{id}/roles') return fc.record({ roleId: slugParam })
  if (key === 'POST /v1/users/{id}/companies') return fc.record({ companyId: slugParam })
  if (key === 'POST /v1/users/{id}/providers') return fc.record({ providerId: slugParam, externalUserId: fc.constantFrom('x-1', null) })
  if (method === 'POST') return fc.record({ id: fc.constantFrom('fz-a', 'fz-b', 'fz-role', 'ZZ', 'CC', 'Bad Id'), name: fc.constantFrom('A', '') })
  if (method === 'PUT') return fc.record({ name: fc.constantFrom('A', 'B'), status: fc.constantFrom('active', 'inactive') })
  return fc.constant({})
}

/** Lone surrogates replaced (encodeURIComponent throws on them; a client would send U+FFFD). */
const wellFormed = (s: string): string => s.replace(/[\uD800-\uDBFF](?![\uDC00-\uDFFF])|(?<![\uD800-\uDBFF])[\uDC00-\uDFFF]/g, '\uFFFD')

type Body = { kind: 'none' } | { kind: 'json', value: unknown } | { kind: 'raw', text: string }
const body = (method: string, path: string): fc.Arbitrary<Body> => fc.oneof(
  { weight: 1, arbitrary: fc.constant<Body>({ kind: 'none' }) },
  { weight: 6, arbitrary: template(method, path).map<Body>((value) => ({ kind: 'json', value })) },
  {
    weight: 3,
    arbitrary: fc.tuple(template(method, path), fc.string({ maxLength: 12 }), json, fc.nat(3)).map<Body>(([value, key, replacement, how]) => {
      const keys = Object.keys(value)
      const copy: Record<string, unknown> = { ...value }
      if (how === 0 && keys.length > 0) delete copy[keys[key.length % keys.length]!]
      else if (how === 1 && keys.length > 0) copy[keys[key.length % keys.length]!] = replacement
      else if (how === 2) copy[key] = replacement
      else return { kind: 'raw', text: JSON.stringify(copy).replace(/^\{/, `{"__proto__":${JSON.stringify(replacement) ?? 'null'},`).replace(/,}$/, '}') }
      return { kind: 'json', value: copy }
    })
  },
  { weight: 1, arbitrary: json.map<Body>((value) => ({ kind: 'json', value })) },
  {
    weight: 1,
    arbitrary: fc.oneof(
      fc.nat({ max: 20_000 }).map((d) => '['.repeat(d) + ']'.repeat(d)),
      fc.nat({ max: 5_000 }).map((d) => '{"a":'.repeat(d) + '1' + '}'.repeat(d)),
      fc.constantFrom('{"a":', '{a:1}', "{'a':1}", 'undefined', 'NaN', '\u0000', '{"constructor":{"prototype":{"x":1}}}', '\xff\xfe', ''),
      fc.string({ maxLength: 50 }),
      fc.constantFrom(70_000, 1_000_000).map((n) => JSON.stringify({ username: 'x'.repeat(n), password: 'y' }))
    ).map<Body>((text) => ({ kind: 'raw', text }))
  }
)

const forged = (() => {
  const claims = decodeJwt(admin).payload
  const kid = testKeys().activeKid
  const now = Math.floor(Date.now() / 1000)
  const [h, , s] = admin.split('.') as [string, string, string]
  return [
    forgeToken({ alg: 'none', header: { kid }, payload: claims }),
    forgeToken({ alg: 'HS256', header: { kid }, payload: claims, hmacKey: testKeys().publicKeyPem(kid) ?? '' }),
    forgeToken({ header: { kid }, payload: { ...claims, exp: now - 10, iat: now - 1000, nbf: now - 1000 } }),
    forgeToken({ header: { kid: '../../etc/passwd' }, payload: claims }),
    `${h}.${Buffer.from(JSON.stringify({ ...claims, sub: victim.id })).toString('base64url')}.${s}`
  ]
})()
type Auth = { kind: 'token', name: keyof typeof tokens } | { kind: 'header', value: string } | { kind: 'none' }
const auth: fc.Arbitrary<Auth> = fc.oneof(
  { weight: 10, arbitrary: fc.constantFrom<Auth>({ kind: 'token', name: 'admin' }) },
  { weight: 3, arbitrary: fc.constantFrom<Auth>({ kind: 'token', name: 'victim' }, { kind: 'token', name: 'auditor' }, { kind: 'token', name: 'subscriber' }) },
  { weight: 1, arbitrary: fc.constant<Auth>({ kind: 'none' }) },
  { weight: 1, arbitrary: fc.constantFrom(...forged).map<Auth>((tk) => ({ kind: 'header', value: `Bearer ${tk}` })) },
  { weight: 1, arbitrary: fc.oneof(fc.string({ maxLength: 60 }), fc.constantFrom('Bearer', 'Bearer ', 'Basic YWRtaW46YWRtaW4=', `Bearer ${'a'.repeat(10_000)}`, 'Bearer a.b.c', `bearer ${admin}`)).map<Auth>((value) => ({ kind: 'header', value })) }
)

const contentType = fc.oneof(
  { weight: 8, arbitrary: fc.constant('application/json') },
  { weight: 1, arbitrary: fc.constantFrom('text/plain', 'application/x-www-form-urlencoded', 'application/json; charset=utf-16', 'application/json; charset=utf-8', 'APPLICATION/JSON', 'multipart/form-data; boundary=x', '', 'application/jsonx', 'application/*') }
)
const query = fc.oneof(
  { weight: 3, arbitrary: fc.constant('') },
  { weight: 3, arbitrary: fc.dictionary(fc.constantFrom('limit', 'cursor', 'after', 'q', 'status', 'role', 'username', 'email', 'type', 'asOf', 'companyId', 'access_token'), hostileString, { maxKeys: 3 }).map((d) => `?${new URLSearchParams(d).toString()}`) },
  { weight: 1, arbitrary: fc.constantFrom('?limit=1&limit=2', '?%', '?a=%ZZ', '?limit=1e3', '?limit=-1', '?cursor=eyJ9', `?after=${'9'.repeat(30)}`, '?asOf=1970-01-01T00:00:00Z', '?asOf=not-a-date', '?__proto__[x]=1', '?q[]=a') }
)
const headers = fc.record({
  'if-match': fc.constantFrom('"0"', '"1"', '*', 'W/"1"', '"abc"', `"${'9'.repeat(20)}"`, ''),
  'idempotency-key': fc.oneof(fc.constantFrom('k1', 'k2', 'k\u00e9', 'x'.repeat(300)), fc.string({ maxLength: 20 })),
  'x-request-id': fc.oneof(fc.constantFrom('fz', 'x'.repeat(200), '../x', 'a b'), fc.string({ maxLength: 10 })),
  'x-forwarded-for': fc.constantFrom('1.2.3.4', 'garbage', '::1'),
  origin: fc.constantFrom('https://evil.example', 'null'),
  accept: fc.constantFrom('text/html', '*/*', 'application/xml')
}, { requiredKeys: [] })

const request = fc.constantFrom(...ROUTES).chain((route) => fc.record({
  route: fc.constant(`${route.method} ${route.path}`),
  method: fc.oneof({ weight: 9, arbitrary: fc.constant(route.method) }, { weight: 1, arbitrary: fc.constantFrom('GET', 'POST', 'PUT', 'DELETE', 'PATCH', 'HEAD', 'OPTIONS') }),
  path: fc.tuple(fc.constant(route.path), idParam, slugParam, hostileString, fc.boolean()).map(([path, id, slug, free, encode]) =>
    path.replace(/\{(\w+)\}/g, (_, name: string) => {
      const value = name === 'id' && path.startsWith('/v1/users') ? id : name === 'username' ? free : slug
      return encode ? encodeURIComponent(wellFormed(value)) : value.replace(/[/?#\s]/g, '_')
    })),
  query,
  body: body(route.method, route.path),
  auth,
  contentType,
  headers
}))

// ── the property ───────────────────────────────────────────────────────────────────────────
const SCRYPT_B64 = 'c2NyeXB0' // base64 of "scrypt": the head of every scrypt-kdf hash
const UNREDACTED = /"passwordHash"\s*:\s*"(?!\[redacted\])/
const STACK = /\n\s+at |\bat [\w.<>]+ \(|\.ts:\d+:\d+|node_modules/
const KNOWN_PASSWORDS = [PASSWORD, OTHER_PASSWORD, ADMIN_PASSWORD]
const statuses = new Map<number, number>()
/** Requests sent per route template, so the figures show that every route was reached. */
const perRoute = new Map<string, number>(ROUTES.map((r) => [`${r.method} ${r.path}`, 0]))
let sent = 0
let runs = 0
let appendedByRefusals = 0

type Req = fc.Arbitrary<typeof request extends fc.Arbitrary<infer R> ? R : never>
type Generated = Req extends fc.Arbitrary<infer R> ? R : never

async function send (req: Generated): Promise<Response | null> {
  const header: Record<string, string> = { ...req.headers }
  // A valid token on the event stream would open a response that never ends: only bad ones there.
  const stream = req.path.split('?')[0] === STREAM
  if (req.auth.kind === 'token') header.authorization = `Bearer ${tokens[req.auth.name]}`
  else if (req.auth.kind === 'header') header.authorization = req.auth.value
  if (stream && header.authorization !== undefined && Object.values(tokens).some((tk) => header.authorization!.includes(tk))) {
    header.authorization = `Bearer ${forged[0]}`
  }
  let payload: string | undefined
  if (req.body.kind === 'json') payload = JSON.stringify(req.body.value) ?? 'null'
  if (req.body.kind === 'raw') payload = req.body.text
  if (payload !== undefined && req.contentType !== '') header['content-type'] = req.contentType
  let timer: NodeJS.Timeout | undefined
  try {
    // A request that is never answered is a failure too (and would otherwise end the process quietly).
    const timeout = new Promise<never>((_resolve, reject) => {
      timer = setTimeout(() => reject(new Error(`no response within 15 s: ${req.method} ${req.path}${req.query.slice(0, 80)} ${JSON.stringify(req.auth)} body ${(payload ?? '').slice(0, 200)}`)), 15_000)
    })
    return await Promise.race([
      svc.app.inject({ method: req.method as 'GET', url: `${req.path}${req.query}`, headers: header, ...(payload === undefined ? {} : { payload }) }),
      timeout
    ])
  } catch (error) {
    if (String((error as Error).message).startsWith('no response')) throw error
    // light-my-request refuses what no HTTP client could send (an invalid URL or header value).
    if (error instanceof TypeError || /Invalid|ERR_INVALID|ERR_UNESCAPED/.test(String((error as Error).message ?? error))) return null
    throw error
  } finally {
    clearTimeout(timer)
  }
}

const property = fc.asyncProperty(request, async (req) => {
  if (++runs % REPAIR_EVERY === 0) await repair()
  const head = await svc.store.headPosition()
  const res = await send(req)
  if (res === null) return
  sent++
  perRoute.set(req.route, (perRoute.get(req.route) ?? 0) + 1)
  statuses.set(res.statusCode, (statuses.get(res.statusCode) ?? 0) + 1)
  const where = `${req.method} ${req.path}${req.query.slice(0, 80)} → ${res.statusCode} ${res.body.slice(0, 300)}`
  if (res.statusCode >= 500) throw new Error(`5xx: ${where}`)
  if (res.statusCode >= 400 && req.method !== 'HEAD' && !/^application\/problem\+json/.test(String(res.headers['content-type']))) {
    throw new Error(`an error that is not problem+json: ${where}`)
  }
  const text = res.body
  if (text.includes(SCRYPT_B64) || UNREDACTED.test(text)) throw new Error(`a password hash in the response: ${where}`)
  if (text.includes(PW) || KNOWN_PASSWORDS.some((p) => text.includes(p))) throw new Error(`a password in the response: ${where}`)
  if (STACK.test(text)) throw new Error(`a stack trace in the response: ${where}`)
  if (res.statusCode >= 400) {
    const appended = await svc.store.readAll({ after: head })
    if (appended.length === 0) return
    // A refused login, and a wrong current password, are failed authentications: recording them
    // (and a lockout, or the end of an expired one) in the account's authentication stream is the point.
    const isLogin = req.method === 'POST' && req.path === '/v1/authentication' && res.statusCode === 401
    const isWrongCurrent = req.method === 'PUT' && /\/password$/.test(req.path) && res.statusCode === 403
    const authOnly = appended.every((e) => e.stream.startsWith('auth-') && /^(AuthenticationFailed|UserLockedOut|UserUnlocked)$/.test(e.type))
    if ((isLogin || isWrongCurrent) && authOnly) { appendedByRefusals += appended.length; return }
    throw new Error(`a refused request appended ${appended.map((e) => `${e.type}@${e.stream}`).join(', ')}: ${where}`)
  }
})

t.test(`${RUNS} generated requests across ${ROUTES.length} routes`, async (t) => {
  const started = Date.now()
  await fc.assert(property, { numRuns: RUNS, seed: SEED, endOnFailure: process.env.FUZZ_SHRINK !== '1', includeErrorInReport: true })
  const figures = Object.fromEntries([...statuses].sort(([a], [b]) => a - b))
  t.comment(`fuzz: ${sent} requests sent (seed ${SEED}) in ${((Date.now() - started) / 1000).toFixed(1)} s; statuses ${JSON.stringify(figures)}; ${appendedByRefusals} failed-login events recorded by refused logins; ${repairs} principals repaired; log head ${await svc.store.headPosition()}`)
  t.ok(sent >= RUNS * 0.95, `at least 95% of the generated requests could be sent (${sent})`)
  const counts = [...perRoute.values()]
  t.comment(`fuzz: ${perRoute.size} routes, requests per route min ${Math.min(...counts)}, max ${Math.max(...counts)}`)
  const missed = [...perRoute].filter(([, n]) => n < Math.min(20, RUNS / perRoute.size / 4)).map(([route]) => route)
  t.strictSame(missed, [], 'every route of the OpenAPI document (and the unknown paths) got its share of the requests')
})

t.test('found by this fuzzer: a registration refused for a taken value appends nothing', async (t) => {
  // Seed 128741357 (before the fix) reached it: the username and email were free, the
  // identification was taken, and the 409 left ValueReserved + ValueReleased pairs in the log.
  // A service of its own: the fuzzer above may have deactivated a catalog entry or the admin's seat.
  const clean = await openApiService(t)
  const taken = await clean.createUser()
  const cases: Array<[string, Record<string, unknown>]> = [
    ['identification taken', { identificationNumber: taken.identificationNumber }],
    ['email taken', { email: taken.email }],
    ['username taken', { username: taken.username }]
  ]
  for (const [name, override] of cases) {
    const head = await clean.store.headPosition()
    const res = await clean.call('POST', '/v1/users', { token: clean.admin, body: { ...userBody(), ...override } })
    t.equal(res.statusCode, 409, name)
    t.strictSame((await clean.store.readAll({ after: head })).map((e) => e.type), [], `${name}: nothing appended`)
  }
})

t.test('found by this fuzzer: a profile update with a stale If-Match appends nothing', async (t) => {
  // Seed 1550754821 (before the fix): the new identification was reserved, then the 412 released it.
  const clean = await openApiService(t)
  const user = await clean.createUser()
  t.equal((await clean.call('PUT', `/v1/users/${user.id}/status`, { token: clean.admin, body: { status: 'inactive' } })).statusCode, 200)
  const head = await clean.store.headPosition()
  const res = await clean.call('PUT', `/v1/users/${user.id}`, {
    token: clean.admin,
    headers: { 'if-match': `"${user.version}"` },
    body: { ...profileOf(user), email: `new.${user.email}`, identificationNumber: 'STALE1' }
  })
  t.equal(res.statusCode, 412)
  t.strictSame((await clean.store.readAll({ after: head })).map((e) => e.type), [], 'nothing appended')
})
