/**
 * Step-up (RFC 9470) and the enrolment restriction on the real service: with IDM_STEP_UP_SECONDS
 * set, resetting another user's password, assigning identity-admin, resetting another user's
 * factors and rotating a client secret need a second factor proved within the window; the
 * default IDM_MFA_REQUIRED_ROLES restricts the bootstrapped admin to enrolment until it has one.
 */
import t from 'tap'
import { Secret, TOTP } from 'otpauth'
import { decodeJwt, openApiService, PASSWORD, type ApiService } from '../helpers/api.js'
import { ADMIN_PASSWORD } from '../helpers/service.js'

const START = Date.parse('2031-05-06T07:08:00.000Z')
const code = (secret: string, ms: number): string =>
  new TOTP({ secret: Secret.fromBase32(secret), algorithm: 'SHA1', digits: 6, period: 30 }).generate({ timestamp: ms })

/** The admin enrols TOTP with `token` and returns its secret; the clock moves past the confirming step. */
async function enrolAdmin (svc: ApiService, token: string, clock: { now: number }): Promise<string> {
  const me = (await svc.call('GET', '/v1/users/me', { token })).json() as { id: string }
  const enrol = await svc.call('POST', `/v1/users/${me.id}/mfa/totp`, { token })
  const { secret } = enrol.json() as { secret: string }
  const verify = await svc.call('POST', `/v1/users/${me.id}/mfa/totp/verify`, { token, body: { code: code(secret, clock.now) } })
  if (verify.statusCode !== 200) throw new Error(verify.body)
  clock.now += 30_000
  return secret
}

async function signInWithCode (svc: ApiService, secret: string, clock: { now: number }): Promise<string> {
  const first = await svc.call('POST', '/v1/authentication', { body: { username: 'admin', password: ADMIN_PASSWORD } })
  const done = await svc.call('POST', '/v1/authentication/mfa', { body: { mfa_token: first.json().mfa_token, method: 'totp', code: code(secret, clock.now) } })
  if (done.statusCode !== 200) throw new Error(done.body)
  clock.now += 30_000
  return done.json().access_token as string
}

t.test('the default policy: the bootstrapped admin enrols first, then administers', async (t) => {
  const clock = { now: START }
  // The helper turns the policy off for other tests; this one restores the defaults.
  const svc = await openApiService(t, { IDM_MFA_REQUIRED_ROLES: 'identity-admin', IDM_STEP_UP_SECONDS: '300' }, { clock: () => new Date(clock.now) })
  const first = await svc.call('POST', '/v1/authentication', { body: { username: 'admin', password: ADMIN_PASSWORD } })
  t.equal(first.statusCode, 200)
  t.equal(first.json().mfa_enrolment_required, true, 'told to enrol')
  const restricted = first.json().access_token as string
  const refused = await svc.call('GET', '/v1/users', { token: restricted })
  t.equal(refused.statusCode, 403)
  t.match(refused.json(), { type: /\/mfa-enrolment-required$/ })
  t.equal((await svc.call('POST', '/v1/users', { token: restricted, body: {} })).statusCode, 403, 'no write either')
  t.equal((await svc.call('GET', '/v1/users/me', { token: restricted })).statusCode, 200, 'reading itself is allowed')

  const secret = await enrolAdmin(svc, restricted, clock)
  t.equal((await svc.call('GET', '/v1/users', { token: restricted })).statusCode, 403, 'the old token stays restricted: sign in again')
  const full = await signInWithCode(svc, secret, clock)
  t.same(decodeJwt(full).payload.amr, ['pwd', 'otp'])
  t.equal((await svc.call('GET', '/v1/users', { token: full })).statusCode, 200, 'with its factor the admin administers')
})

t.test('step-up: the sensitive operations need a factor within IDM_STEP_UP_SECONDS', async (t) => {
  const clock = { now: START }
  const svc = await openApiService(t, { IDM_STEP_UP_SECONDS: '300' }, { clock: () => new Date(clock.now) })
  const user = await svc.createUser()
  const client = (await svc.call('POST', '/v1/clients', { token: svc.admin, body: { name: 'reader', type: 'confidential', grantTypes: ['client_credentials'] } })).json() as { clientId: string }

  const operations = [
    ['reset another user\'s password', 'PUT', `/v1/users/${user.id}/password`, { newPassword: 'a completely new passphrase' }, 204],
    ['assign identity-admin', 'POST', `/v1/users/${user.id}/roles`, { roleId: 'identity-admin' }, 200],
    ['rotate a client secret', 'POST', `/v1/clients/${client.clientId}/secret`, undefined, 201],
    ['reset another user\'s factors', 'DELETE', `/v1/users/${user.id}/mfa`, undefined, 204]
  ] as const
  for (const [what, method, url, body] of operations) {
    const res = await svc.call(method, url, { token: svc.admin, ...(body === undefined ? {} : { body }) })
    t.equal(res.statusCode, 401, `${what}: a password-only token is not enough`)
    t.match(res.headers['www-authenticate'], /^Bearer error="insufficient_user_authentication", .*max_age=300$/, 'the RFC 9470 challenge')
  }
  t.equal((await svc.call('POST', `/v1/users/${user.id}/roles`, { token: svc.admin, body: { roleId: 'identity-auditor' } })).statusCode, 200,
    'other roles need no step-up')

  const secret = await enrolAdmin(svc, svc.admin, clock)
  const fresh = await signInWithCode(svc, secret, clock)
  for (const [what, method, url, body, status] of operations) {
    const res = await svc.call(method, url, { token: fresh, ...(body === undefined ? {} : { body }) })
    t.equal(res.statusCode, status, `${what}: right after the second factor`)
  }

  clock.now += 301_000
  const stale = await svc.call('POST', `/v1/clients/${client.clientId}/secret`, { token: fresh })
  t.equal(stale.statusCode, 401, 'past the window: step up again')
  const wrong = await svc.call('POST', '/v1/authentication/step-up', { token: fresh, body: { method: 'totp', code: code(secret, clock.now + 600_000) } })
  t.equal(wrong.statusCode, 401, 'a wrong code is the usual 401')
  const stepped = await svc.call('POST', '/v1/authentication/step-up', { token: fresh, body: { method: 'totp', code: code(secret, clock.now) } })
  t.equal(stepped.statusCode, 200, stepped.body)
  const token = stepped.json().access_token as string
  t.equal(decodeJwt(token).payload.sid, decodeJwt(fresh).payload.sid, 'the same session')
  t.equal(decodeJwt(token).payload.auth_time, Math.floor(clock.now / 1000), 'a fresh auth_time')
  t.equal((await svc.call('POST', `/v1/clients/${client.clientId}/secret`, { token })).statusCode, 201)
  const replay = await svc.call('POST', '/v1/authentication/step-up', { token, body: { method: 'totp', code: code(secret, clock.now) } })
  t.equal(replay.statusCode, 401, 'the step-up code is used up too')
  void PASSWORD
})
