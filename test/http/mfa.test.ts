/**
 * Second factors over HTTP on the real service: TOTP enrolment and two-step sign-in with codes
 * from otpauth, replay and clock skew, recovery codes, hostile mfa_tokens, the lockout bounding
 * a brute force of the six digits, and the secret never leaving (responses, logs, the feed).
 */
import { Writable } from 'node:stream'
import t from 'tap'
import { Secret, TOTP } from 'otpauth'
import { decodeJwt, openApiService, PASSWORD, type ApiService } from '../helpers/api.js'

const START = Date.parse('2031-03-04T05:06:00.000Z')

interface Harness {
  svc: ApiService
  clock: { now: number }
  logs: string[]
  bodies: string[]
}

async function setup (t: Tap.Test, env: Record<string, string> = {}): Promise<Harness> {
  const clock = { now: START }
  const logs: string[] = []
  const stream = new Writable({ write (chunk, _enc, done) { logs.push(String(chunk)); done() } })
  const svc = await openApiService(t, { IDM_LOG_LEVEL: 'trace', ...env }, { clock: () => new Date(clock.now), logger: { stream } })
  const bodies: string[] = []
  const call = svc.call
  svc.call = async (method, url, options) => {
    const res = await call(method, url, options)
    bodies.push(res.body)
    return res
  }
  return { svc, clock, logs, bodies }
}

declare global { namespace Tap { type Test = import('tap').Test } } // eslint-disable-line @typescript-eslint/no-namespace

const totpOf = (secret: string): TOTP => new TOTP({ secret: Secret.fromBase32(secret), algorithm: 'SHA1', digits: 6, period: 30 })
const codeAt = (secret: string, ms: number): string => totpOf(secret).generate({ timestamp: ms })

/** A user with a confirmed TOTP: its id, username, base32 secret and recovery codes. */
async function enrolledUser (h: Harness): Promise<{ id: string, username: string, secret: string, recoveryCodes: string[] }> {
  const user = await h.svc.createUser()
  const token = await h.svc.login(user.username)
  const enrol = await h.svc.call('POST', `/v1/users/${user.id}/mfa/totp`, { token })
  if (enrol.statusCode !== 201) throw new Error(`enrol: ${enrol.statusCode} ${enrol.body}`)
  const { secret } = enrol.json() as { secret: string }
  const verify = await h.svc.call('POST', `/v1/users/${user.id}/mfa/totp/verify`, { token, body: { code: codeAt(secret, h.clock.now) } })
  if (verify.statusCode !== 200) throw new Error(`verify: ${verify.statusCode} ${verify.body}`)
  h.clock.now += 30_000 // the confirming code's step is used up
  return { id: user.id, username: user.username, secret, recoveryCodes: (verify.json() as { recoveryCodes: string[] }).recoveryCodes }
}

async function passwordStep (h: Harness, username: string): Promise<string> {
  const res = await h.svc.call('POST', '/v1/authentication', { body: { username, password: PASSWORD } })
  if (res.statusCode !== 200 || res.json().mfa_required !== true) throw new Error(`password step: ${res.statusCode} ${res.body}`)
  return (res.json() as { mfa_token: string }).mfa_token
}

const secondStep = async (h: Harness, mfaToken: string, code: string, method = 'totp') =>
  await h.svc.call('POST', '/v1/authentication/mfa', { body: { mfa_token: mfaToken, method, code } })

t.test('enrol TOTP, confirm with its first code, sign in in two steps; a code is accepted once', async (t) => {
  const h = await setup(t)
  const user = await h.svc.createUser()
  const token = await h.svc.login(user.username)

  const enrol = await h.svc.call('POST', `/v1/users/${user.id}/mfa/totp`, { token })
  t.equal(enrol.statusCode, 201)
  t.equal(enrol.headers['cache-control'], 'no-store')
  const { secret, uri } = enrol.json() as { secret: string, uri: string }
  t.match(secret, /^[A-Z2-7]{32}$/, '160-bit base32 secret')
  t.match(uri, /^otpauth:\/\/totp\/Identity%20Manager:/, 'an otpauth:// URI with the issuer')
  t.ok(uri.includes(`secret=${secret}`), 'the URI carries the secret')

  t.equal((await h.svc.call('POST', '/v1/authentication', { body: { username: user.username, password: PASSWORD } })).json().mfa_required, undefined,
    'an unconfirmed enrolment does not change the sign-in')
  const wrong = await h.svc.call('POST', `/v1/users/${user.id}/mfa/totp/verify`, { token, body: { code: codeAt(secret, h.clock.now + 120_000) } })
  t.equal(wrong.statusCode, 422, 'a wrong first code does not confirm')
  const verify = await h.svc.call('POST', `/v1/users/${user.id}/mfa/totp/verify`, { token, body: { code: codeAt(secret, h.clock.now) } })
  t.equal(verify.statusCode, 200)
  const { recoveryCodes } = verify.json() as { recoveryCodes: string[] }
  t.equal(recoveryCodes.length, 10, 'ten recovery codes with the first factor')
  t.equal(new Set(recoveryCodes).size, 10)
  const again = await h.svc.call('POST', `/v1/users/${user.id}/mfa/totp`, { token })
  t.equal(again.statusCode, 409, 'an enrolled authenticator is not replaced by a new enrolment')

  const first = await h.svc.call('POST', '/v1/authentication', { body: { username: user.username, password: PASSWORD } })
  t.equal(first.statusCode, 200)
  t.same(Object.keys(first.json()).sort(), ['expires_in', 'methods', 'mfa_required', 'mfa_token'], 'no token before the second factor')
  t.same(first.json().methods, ['totp', 'recovery'])
  t.equal(first.headers['set-cookie'], undefined, 'no device cookie before the sign-in completes')
  const mfaToken = first.json().mfa_token as string

  const replay = await secondStep(h, mfaToken, codeAt(secret, h.clock.now))
  t.equal(replay.statusCode, 401, 'the code that confirmed the enrolment is used up')
  h.clock.now += 30_000
  const done = await secondStep(h, mfaToken, codeAt(secret, h.clock.now))
  t.equal(done.statusCode, 200, done.body)
  const body = done.json() as { access_token: string, refresh_token: string }
  t.ok(body.refresh_token, 'the usual token response')
  t.same(decodeJwt(body.access_token).payload.amr, ['pwd', 'otp'], 'the token records amr')
  t.equal(decodeJwt(body.access_token).payload.auth_time, Math.floor(h.clock.now / 1000))
  const sessions = await h.svc.call('GET', `/v1/users/${user.id}/sessions`, { token: body.access_token })
  t.same(sessions.json().items[0].amr, ['pwd', 'otp'], 'and so does the session')
  t.equal((await h.svc.call('GET', '/v1/users/me', { token: body.access_token })).statusCode, 200)

  h.clock.now += 30_000
  t.equal((await secondStep(h, mfaToken, codeAt(secret, h.clock.now))).statusCode, 401, 'an mfa_token completes one sign-in')
  const other = await passwordStep(h, user.username)
  t.equal((await secondStep(h, other, codeAt(secret, h.clock.now - 30_000))).statusCode, 401, 'a code of a step already used is refused')
  t.equal((await secondStep(h, other, codeAt(secret, h.clock.now))).statusCode, 200, 'the next step is accepted')
  t.equal((await secondStep(h, await passwordStep(h, user.username), codeAt(secret, h.clock.now))).statusCode, 401,
    'the same code again, within its window, is refused')
})

t.test('clock skew: one step either way is accepted, two are refused', async (t) => {
  const h = await setup(t)
  const user = await enrolledUser(h)
  for (const [skew, expected] of [[-30_000, 200], [30_000, 200], [-60_000, 401], [60_000, 401]] as const) {
    h.clock.now += 600_000
    const res = await secondStep(h, await passwordStep(h, user.username), codeAt(user.secret, h.clock.now + skew))
    t.equal(res.statusCode, expected, `${skew / 30_000} step(s) → ${expected}`)
  }
})

t.test('recovery codes: each works once; regenerated ones replace the old', async (t) => {
  const h = await setup(t)
  const user = await enrolledUser(h)
  const [code, second] = user.recoveryCodes as [string, string]
  const signedIn = await secondStep(h, await passwordStep(h, user.username), code.toUpperCase(), 'recovery')
  t.equal(signedIn.statusCode, 200, 'a recovery code completes a sign-in (case does not matter)')
  t.same(decodeJwt(signedIn.json().access_token).payload.amr, ['pwd', 'otp'])
  t.equal((await secondStep(h, await passwordStep(h, user.username), code, 'recovery')).statusCode, 401, 'used twice: refused')
  const used = (await h.svc.store.readStream(`mfa-${user.id}`)).filter(e => e.type === 'RecoveryCodeUsed')
  t.equal(used.length, 1, 'its use is an event')

  const token = signedIn.json().access_token as string
  const factors = await h.svc.call('GET', `/v1/users/${user.id}/mfa`, { token })
  t.equal(factors.statusCode, 200)
  t.match(factors.json().items, [
    { kind: 'totp', name: 'Authenticator app', status: 'active', addedAt: String, lastUsedAt: String },
    { kind: 'recovery_codes', status: 'active', remaining: 9, lastUsedAt: String }
  ], 'the factors: kind, name, added, last used')
  t.notOk(factors.body.includes(user.secret), 'no secret')
  t.equal((await h.svc.call('GET', `/v1/users/${user.id}/mfa`, { token: h.svc.admin })).statusCode, 200, 'an admin sees them too')
  const regenerated = await h.svc.call('POST', `/v1/users/${user.id}/mfa/recovery-codes`, { token })
  t.equal(regenerated.statusCode, 201)
  t.equal(regenerated.json().recoveryCodes.length, 10)
  t.equal((await secondStep(h, await passwordStep(h, user.username), second, 'recovery')).statusCode, 401, 'an old code stops working')
  t.equal((await secondStep(h, await passwordStep(h, user.username), regenerated.json().recoveryCodes[0], 'recovery')).statusCode, 200)
})

t.test('hostile mfa_tokens: expired, reused, forged, or another user\'s; every failure looks alike', async (t) => {
  const h = await setup(t)
  const ana = await enrolledUser(h)
  const bob = await enrolledUser(h)
  const failures: string[] = []
  const expectFailure = async (mfaToken: string, code: string, what: string): Promise<void> => {
    const res = await secondStep(h, mfaToken, code)
    t.equal(res.statusCode, 401, what)
    const { type, title, detail } = res.json() as Record<string, string>
    failures.push(JSON.stringify({ type, title, detail, challenge: res.headers['www-authenticate'] }))
  }

  const expiring = await passwordStep(h, ana.username)
  h.clock.now += 301_000
  await expectFailure(expiring, codeAt(ana.secret, h.clock.now), 'expired after IDM_MFA_TOKEN_TTL')

  const anas = await passwordStep(h, ana.username)
  await expectFailure(anas, codeAt(bob.secret, h.clock.now), 'ana\'s token with bob\'s code')
  const [userId, ...rest] = anas.split('.')
  t.not(userId, bob.id)
  await expectFailure([bob.id, ...rest].join('.'), codeAt(bob.secret, h.clock.now), 'ana\'s token rewritten to name bob')
  await expectFailure(`${anas.slice(0, -2)}AA`, codeAt(ana.secret, h.clock.now), 'a forged signature')
  await expectFailure('not-a-token', codeAt(ana.secret, h.clock.now), 'garbage')
  const wrongPassword = await h.svc.call('POST', '/v1/authentication', { body: { username: ana.username, password: 'not the password at all' } })
  const { type, title, detail } = wrongPassword.json() as Record<string, string>
  failures.push(JSON.stringify({ type, title, detail, challenge: wrongPassword.headers['www-authenticate'] }))
  t.equal(new Set(failures).size, 1, 'every failure, the password\'s included, is the same 401')

  t.equal((await secondStep(h, anas, codeAt(ana.secret, h.clock.now))).statusCode, 200, 'the right code on the right token still works')
  h.clock.now += 30_000
  t.equal((await secondStep(h, anas, codeAt(ana.secret, h.clock.now))).statusCode, 401, 'and only once')

  const stale = await passwordStep(h, bob.username)
  const admin = h.svc.admin
  const reset = await h.svc.call('PUT', `/v1/users/${bob.id}/password`, { token: admin, body: { newPassword: 'a brand new passphrase 2031' } })
  t.equal(reset.statusCode, 204)
  await expectFailure(stale, codeAt(bob.secret, h.clock.now), 'a password reset since the password step voids the token')
})

t.test('100 parallel wrong codes reach the check at most the lockout threshold\'s number of times', async (t) => {
  const h = await setup(t, { IDM_LOCKOUT_THRESHOLD: '5' })
  const user = await enrolledUser(h)
  const mfaToken = await passwordStep(h, user.username)
  const right = codeAt(user.secret, h.clock.now)
  const wrong = Array.from({ length: 100 }, (_, i) => String((Number(right) + 1 + i * 7919) % 1_000_000).padStart(6, '0')).filter(c => c !== right)
  const results = await Promise.all(wrong.map(async code => await secondStep(h, mfaToken, code)))
  t.ok(results.every(r => r.statusCode === 401), 'all refused')
  const events = (await h.svc.store.readStream(`auth-${user.id}`)).filter(e => e.type === 'AuthenticationFailed')
  const checked = events.filter(e => (e.data as { reason: string }).reason === 'invalid_credentials')
  t.equal(checked.length, 5, 'five codes were checked; then the account was locked')
  t.equal(events.filter(e => (e.data as { reason: string }).reason === 'locked').length, wrong.length - 5, 'the rest were refused as locked, unchecked')
  t.equal((await secondStep(h, mfaToken, right)).statusCode, 401, 'while locked, even the right code is refused')
})

t.test('the TOTP secret never appears in a response, a log line, the feed or the stored log in clear', async (t) => {
  const h = await setup(t)
  const user = await enrolledUser(h)
  const secretHex = Buffer.from(Secret.fromBase32(user.secret).buffer).toString('hex')
  await secondStep(h, await passwordStep(h, user.username), codeAt(user.secret, h.clock.now))
  // The feed names the redacted passwordHash fields, which the leak guard of call() refuses: inject.
  const feed = await h.svc.app.inject({ url: '/v1/events?limit=200', headers: { authorization: `Bearer ${h.svc.admin}` } })
  t.equal(feed.statusCode, 200)
  t.ok(feed.body.includes('dev.identity-manager.totp.enrolment-started.v1'), 'the feed shows the enrolment')
  t.ok(feed.body.includes('"sealedSecret":"[redacted]"'), 'with its sealed secret redacted')
  const history = await h.svc.app.inject({ url: `/v1/users/${user.id}/history`, headers: { authorization: `Bearer ${h.svc.admin}` } })
  t.not(history.statusCode, 500)
  const stored = JSON.stringify(await h.svc.store.readAll({ limit: 1e6 }))
  // The enrolment response carried it once (the first body after it was created); nothing else.
  const enrolBodies = h.bodies.filter(b => b.includes(user.secret))
  t.equal(enrolBodies.length, 1, 'only the enrolment response carries the secret')
  for (const [where, text] of [['logs', h.logs.join('')], ['stored log', stored], ['feed', feed.body], ['history', history.body]] as const) {
    t.notOk(text.includes(user.secret), `no base32 secret in ${where}`)
    t.notOk(text.toLowerCase().includes(secretHex), `no hex secret in ${where}`)
    for (const code of user.recoveryCodes) t.notOk(text.includes(code), `no recovery code in ${where}`)
  }
  t.ok(h.logs.length > 10, 'the logs were captured')
})
