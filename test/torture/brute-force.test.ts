/**
 * Enumeration and brute force over a real socket, from many connections at once.
 *
 *   - Unknown username, wrong password, locked and deactivated accounts (right or wrong password)
 *     answer byte-for-byte the same 401: status, body and every header but Date and the request id.
 *     (test/http/api-authentication.test.ts checks the body through inject; timing is measured in
 *     login-timing.torture.ts.)
 *   - 100 parallel wrong guesses against one account, each on its own TCP connection: no more than
 *     the lockout threshold reach a verification against the account's real hash (counted by a
 *     real scrypt hasher wrapped with counters, passed through openService), the rest do the same
 *     work against a decoy; the account ends locked and the right password is refused.
 *   - With the default login limits, the per-username limit and the per-address limit answer 429
 *     with Retry-After, and X-Forwarded-For (not trusted by default) does not reset them.
 */
import { request as httpRequest } from 'node:http'
import t, { type Test } from 'tap'
import { createPasswordHasher, type PasswordHasher } from '../../src/commands/password-hasher.js'
import { ADMIN_PASSWORD, PASSWORD, userBody, type UserView } from '../helpers/api.js'
import { openTestService, type TestService } from '../helpers/service.js'

interface Counted extends PasswordHasher {
  /** verify() calls per stored hash. */
  readonly verified: Map<string, number>
  burned: number
}

async function countingHasher (): Promise<Counted> {
  const real = await createPasswordHasher({ logN: 10, r: 8, p: 1 })
  const verified = new Map<string, number>()
  const counted: Counted = {
    verified,
    burned: 0,
    hash: async (password) => await real.hash(password),
    needsRehash: (hash) => real.needsRehash(hash),
    verify: async (hash, password) => {
      verified.set(hash, (verified.get(hash) ?? 0) + 1)
      return await real.verify(hash, password)
    },
    burn: async (password) => {
      counted.burned++
      await real.burn(password)
    }
  }
  return counted
}

interface Raw { status: number, headers: Record<string, string | string[] | undefined>, body: string }

/** One POST on a fresh TCP connection (agent: false), as a botnet would send it. */
async function post (base: string, path: string, body: unknown, headers: Record<string, string> = {}): Promise<Raw> {
  const url = new URL(path, base)
  const payload = JSON.stringify(body)
  return await new Promise((resolve, reject) => {
    const req = httpRequest(url, {
      method: 'POST',
      agent: false,
      headers: { 'content-type': 'application/json', 'content-length': Buffer.byteLength(payload), connection: 'close', ...headers }
    }, (res) => {
      let text = ''
      res.setEncoding('utf8').on('data', (chunk: string) => { text += chunk }).on('end', () => resolve({ status: res.statusCode ?? 0, headers: res.headers, body: text }))
    })
    req.on('error', reject)
    req.end(payload)
  })
}

async function serve (t: Test, env: Record<string, string>, hasher?: PasswordHasher): Promise<{ svc: TestService, base: string }> {
  const svc = await openTestService(t, env, hasher === undefined ? {} : { hasher })
  const base = await svc.app.listen({ host: '127.0.0.1', port: 0 })
  return { svc, base }
}

async function createUser (svc: TestService, admin: string, overrides: Record<string, unknown> = {}): Promise<UserView> {
  const res = await svc.call('POST', '/v1/users', { token: admin, body: userBody(overrides) })
  if (res.statusCode !== 201) throw new Error(`create user: ${res.statusCode} ${res.body}`)
  return res.json() as UserView
}

const NO_LIMITS = { IDM_LOGIN_RATE_LIMIT: '100000', IDM_LOGIN_RATE_LIMIT_PER_USERNAME: '100000' }

t.test('every failed login is the same answer, headers included', async (t) => {
  const { svc, base } = await serve(t, NO_LIMITS)
  const admin = await svc.adminToken()
  const active = await createUser(svc, admin)
  const locked = await createUser(svc, admin)
  for (let i = 0; i < 5; i++) await post(base, '/v1/authentication', { username: locked.username, password: `lock it with guess ${i}` })
  const inactive = await createUser(svc, admin)
  t.equal((await svc.call('PUT', `/v1/users/${inactive.id}/status`, { token: admin, body: { status: 'inactive' } })).statusCode, 200)

  const attempts: Record<string, { username: string, password: string }> = {
    'unknown username': { username: 'nobody-by-this-name', password: PASSWORD },
    'wrong password': { username: active.username, password: 'definitely not the password' },
    'locked, right password': { username: locked.username, password: PASSWORD },
    'locked, wrong password': { username: locked.username, password: 'definitely not the password' },
    'deactivated, right password': { username: inactive.username, password: PASSWORD },
    'deactivated, wrong password': { username: inactive.username, password: 'definitely not the password' }
  }
  // x-ratelimit-remaining counts the caller's own attempts from its address (one fewer each
  // time, whoever the account); it must never count per username, or it would tell an attacker
  // how often others tried that name (a per-username counter leaked there before: docs/reliability.md).
  const remaining: number[] = []
  const shape = (res: Raw): string => {
    remaining.push(Number(res.headers['x-ratelimit-remaining']))
    return JSON.stringify({
      status: res.status,
      body: res.body,
      headers: Object.fromEntries(Object.entries(res.headers).filter(([name]) => !['date', 'x-request-id', 'x-ratelimit-remaining'].includes(name)).sort())
    })
  }
  const answers = new Map<string, string>()
  for (const [name, body] of Object.entries(attempts)) answers.set(name, shape(await post(base, '/v1/authentication', body)))
  const [first] = answers.values()
  t.match(first, /"status":401/)
  for (const [name, answer] of answers) t.equal(answer, first, `${name}: the same status, body and headers`)
  t.ok(remaining.every((n, i) => i === 0 || n === remaining[i - 1]! - 1), `x-ratelimit-remaining only counts down per address: ${remaining.join(', ')}`)
})

t.test('100 parallel wrong guesses from 100 connections: at most the threshold reach the real hash', async (t) => {
  const hasher = await countingHasher()
  const { svc, base } = await serve(t, NO_LIMITS, hasher)
  const admin = await svc.adminToken()
  const victim = await createUser(svc, admin)
  const [event] = await svc.store.readStream(`user-${victim.id}`)
  const realHash = String(event!.data.passwordHash)
  hasher.verified.clear()
  hasher.burned = 0

  const started = Date.now()
  const answers = await Promise.all(Array.from({ length: 100 }, async (_, i) =>
    await post(base, '/v1/authentication', { username: victim.username, password: `parallel wrong guess ${i}` })))
  const ms = Date.now() - started
  const statuses = answers.reduce<Record<number, number>>((acc, r) => ({ ...acc, [r.status]: (acc[r.status] ?? 0) + 1 }), {})
  t.strictSame(statuses, { 401: 100 }, 'every guess is a 401')
  const reached = hasher.verified.get(realHash) ?? 0
  t.ok(reached <= 5, `${reached} guesses reached the real hash (threshold 5)`)
  t.equal(reached, 5, 'exactly the threshold (attempts on one account are serialised)')
  const decoys = hasher.burned
  t.equal(decoys, 100 - reached, 'the others did the same work against the decoy')

  const stream = await svc.store.readStream(`auth-${victim.id}`)
  const checked = stream.filter((e) => e.type === 'AuthenticationFailed' && e.data.reason === 'invalid_credentials').length
  const metLock = stream.filter((e) => e.type === 'AuthenticationFailed' && e.data.reason === 'locked').length
  t.equal(checked, reached, 'the log agrees: as many invalid_credentials as real verifications')
  t.equal(checked + metLock, 100, 'every attempt is recorded')
  t.equal(stream.filter((e) => e.type === 'UserLockedOut').length, 1, 'one lockout')
  const right = await post(base, '/v1/authentication', { username: victim.username, password: PASSWORD })
  t.equal(right.status, 401, 'the right password is refused while locked')
  t.equal(hasher.verified.get(realHash) ?? 0, reached, 'and did not reach the real hash either')
  t.comment(`brute force: 100 parallel guesses on 100 connections in ${ms} ms; ${reached} reached the real hash (lockout threshold 5), ${decoys} hit the decoy, ${metLock} met the lock`)
})

t.test('login limits answer 429 with Retry-After, per username and per address, whatever X-Forwarded-For says', async (t) => {
  await t.test('per username', async (t) => {
    const hasher = await countingHasher()
    const { svc, base } = await serve(t, { IDM_LOGIN_RATE_LIMIT: '100000', IDM_LOGIN_RATE_LIMIT_PER_USERNAME: '10' }, hasher)
    const victim = await createUser(svc, await svc.adminToken())
    hasher.verified.clear()
    const answers = await Promise.all(Array.from({ length: 100 }, async (_, i) =>
      await post(base, '/v1/authentication', { username: victim.username, password: `wrong guess ${i}` }, { 'x-forwarded-for': `198.51.100.${i}` })))
    const limited = answers.filter((r) => r.status === 429)
    t.equal(answers.filter((r) => r.status === 401).length, 10, '10 attempts per minute on one username are answered')
    t.equal(limited.length, 90, 'the other 90 are 429')
    t.ok(limited.every((r) => Number(r.headers['retry-after']) >= 1 && /problem\+json/.test(String(r.headers['content-type']))), 'each with Retry-After, as a problem')
    t.ok([...hasher.verified.values()].reduce((a, b) => a + b, 0) <= 5, 'and the lockout still caps real verifications at 5')
  })

  await t.test('per address, across usernames, spoofed X-Forwarded-For or not', async (t) => {
    const { base } = await serve(t, { IDM_LOGIN_RATE_LIMIT: '20', IDM_LOGIN_RATE_LIMIT_PER_USERNAME: '100000' })
    // openTestService has not logged in on this address: 20 attempts fit in the minute.
    const answers = await Promise.all(Array.from({ length: 100 }, async (_, i) =>
      await post(base, '/v1/authentication', { username: `someone-${i}`, password: ADMIN_PASSWORD }, { 'x-forwarded-for': `203.0.113.${i}`, 'x-real-ip': `203.0.113.${i}` })))
    const limited = answers.filter((r) => r.status === 429)
    t.equal(answers.filter((r) => r.status === 401).length, 20, '20 attempts per minute per address are answered')
    t.equal(limited.length, 80, 'the rest are 429, whatever address the headers claim')
    t.ok(limited.every((r) => Number(r.headers['retry-after']) >= 1), 'each with Retry-After')
    t.comment(`rate limits: per address ${answers.length - limited.length} answered / ${limited.length} throttled`)
  })
})
