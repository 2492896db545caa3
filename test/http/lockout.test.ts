/**
 * Issue 18, repro 1: five wrong passwords for the admin's username, from anywhere, locked the
 * admin out and threw out its live token. Now: the lockout stops guessing from elsewhere, ends no
 * token, and a client that signed in to the account before (the idm_device cookie) still gets in;
 * that device's own failures lock only that device. An identity-admin's lockout is a warning and
 * counted in /metrics; the failed attempts record the client address; `idm users unlock` ends a
 * lockout without a token.
 */
import t from 'tap'
import { ADMIN_PASSWORD } from '../helpers/service.js'
import { openAuditService } from '../audit/helpers.js'
import { runCli } from '../audit/cli-helpers.js'
import { DEVICE_COOKIE } from '../../src/http/device-tokens.js'

const signIn = (svc: Awaited<ReturnType<typeof openAuditService>>, password: string, headers: Record<string, string> = {}) =>
  svc.app.inject({ method: 'POST', url: '/v1/authentication', remoteAddress: headers['x-test-address'] ?? '127.0.0.1', headers: { 'content-type': 'application/json', ...headers }, payload: JSON.stringify({ username: 'admin', password }) })

const cookieOf = (res: { headers: Record<string, unknown> }): string => String(res.headers['set-cookie']).split(';')[0]!

t.test('a stranger cannot lock the owner out', async t => {
  const lines: Array<Record<string, any>> = []
  const svc = await openAuditService(t, { IDM_LOCKOUT_THRESHOLD: '5' }, { logger: { level: 'info', stream: { write: (line: string) => { lines.push(JSON.parse(line) as Record<string, any>) } } } })
  // The owner's browser: signed in before, so it holds the device cookie; and its live token.
  const owner = await signIn(svc, ADMIN_PASSWORD)
  t.equal(owner.statusCode, 200)
  const cookie = cookieOf(owner)
  const token = (owner.json() as { access_token: string }).access_token

  for (let i = 0; i < 5; i++) t.equal((await signIn(svc, `wrong guess ${i}`, { 'x-test-address': '203.0.113.9' })).statusCode, 401)
  t.equal((await signIn(svc, ADMIN_PASSWORD, { 'x-test-address': '203.0.113.9' })).statusCode, 401, 'the account is locked for clients without the device cookie')

  t.equal((await svc.call('GET', '/v1/users', { token })).statusCode, 200, 'the admin\'s token survives the lockout')
  const back = await signIn(svc, ADMIN_PASSWORD, { cookie })
  t.equal(back.statusCode, 200, 'the admin signs in from the device that signed in before')
  t.equal((await signIn(svc, ADMIN_PASSWORD, { 'x-test-address': '203.0.113.9' })).statusCode, 401, 'and that lifts nothing for the stranger')

  const warning = lines.find(line => line.level === 40 && /identity-admin account is locked out/.test(String(line.msg)))
  t.ok(warning, 'the admin\'s lockout is logged at warn')
  t.equal(warning?.username, 'admin')
  const metrics = await svc.app.inject({ url: '/metrics' })
  t.match(metrics.body, /^idm_admin_lockouts_total 1$/m, 'and counted in /metrics')

  const events = await svc.store.readAll({ limit: 100_000 })
  const failed = events.filter(e => e.type === 'AuthenticationFailed')
  t.ok(failed.length >= 6 && failed.every(e => (e.data as { clientAddress?: string }).clientAddress === '203.0.113.9'), 'failed sign-ins record the client address')
  const succeeded = events.filter(e => e.type === 'AuthenticationSucceeded').at(-1)
  t.equal((succeeded?.data as { deviceId?: string }).deviceId, svc.app.deviceTokens.verify(cookie.slice(DEVICE_COOKIE.length + 1))?.deviceId, 'the trusted sign-in names its device')
})

t.test('a device\'s own failures lock that device only; idm users unlock ends a lockout', async t => {
  const svc = await openAuditService(t, { IDM_LOCKOUT_THRESHOLD: '3' })
  const first = await signIn(svc, ADMIN_PASSWORD)
  const cookie = cookieOf(first)
  for (let i = 0; i < 3; i++) t.equal((await signIn(svc, `wrong ${i}`, { cookie })).statusCode, 401)
  t.equal((await signIn(svc, ADMIN_PASSWORD, { cookie })).statusCode, 401, 'the device that failed three times is locked')
  t.equal((await signIn(svc, ADMIN_PASSWORD)).statusCode, 200, 'the account is not: a client without the cookie signs in')

  // Lock the account from elsewhere, then unlock it from the command line (no token).
  for (let i = 0; i < 3; i++) await signIn(svc, `wrong again ${i}`, { 'x-test-address': '198.51.100.7' })
  t.equal((await signIn(svc, ADMIN_PASSWORD, { 'x-test-address': '198.51.100.7' })).statusCode, 401, 'locked')
  const run = await runCli(['users', 'unlock', 'admin'], { IDM_DATA_DIR: svc.dir })
  t.equal(run.code, 0, run.stderr)
  t.match(run.stdout.toString(), /^unlocked admin \(/)
  t.ok(await svc.runner.waitFor(await svc.store.headPosition(), 10_000))
  t.equal((await signIn(svc, ADMIN_PASSWORD, { 'x-test-address': '198.51.100.7' })).statusCode, 200, 'unlocked')
  const again = await runCli(['users', 'unlock', 'admin'], { IDM_DATA_DIR: svc.dir })
  t.match(again.stdout.toString(), /is not locked/)
  t.equal((await runCli(['users', 'unlock', 'nobody-here'], { IDM_DATA_DIR: svc.dir })).code, 1, 'an unknown user is an error')
})
