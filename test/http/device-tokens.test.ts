/**
 * Device tokens (src/http/device-tokens.ts): issued and verified with a real HMAC key, refused
 * when altered, expired, or signed by another key; set as the HttpOnly `idm_device` cookie by a
 * successful POST /v1/authentication, keeping the device id and the other accounts' tokens.
 */
import { randomBytes, randomUUID } from 'node:crypto'
import t from 'tap'
import { createDeviceTokens, deviceSecret, DEVICE_COOKIE, DEVICE_TOKEN_SECONDS } from '../../src/http/device-tokens.js'
import { testKeys } from '../helpers/http.js'
import { openAuditService, PASSWORD } from '../audit/helpers.js'

t.test('issue and verify: a token proves its account and device until it expires', async t => {
  let now = new Date('2031-01-01T00:00:00Z')
  const tokens = createDeviceTokens({ secret: randomBytes(32), clock: () => now })
  const userId = randomUUID()
  const { token, deviceId } = tokens.issue(userId)
  t.match(token, /^[0-9a-f-]{36}\.[0-9a-f-]{36}\.\d+\.[A-Za-z0-9_-]{43}$/)
  t.same(tokens.verify(token), { userId, deviceId, expires: now.getTime() / 1000 + DEVICE_TOKEN_SECONDS })
  t.equal(tokens.issue(userId, deviceId).deviceId, deviceId, 'an existing device keeps its id')

  const other = randomUUID()
  const [u, d, exp, mac] = token.split('.') as [string, string, string, string]
  t.equal(tokens.verify(`${other}.${d}.${exp}.${mac}`), null, 'another account under the same signature')
  t.equal(tokens.verify(`${u}.${randomUUID()}.${exp}.${mac}`), null, 'another device id')
  t.equal(tokens.verify(`${u}.${d}.${Number(exp) + 1000}.${mac}`), null, 'a later expiry')
  t.equal(tokens.verify(`${u}.${d}.${exp}.${mac.slice(0, -2)}AA`), null, 'a tampered signature')
  t.equal(tokens.verify(''), null)
  t.equal(tokens.verify('x'.repeat(5000)), null)
  t.equal(createDeviceTokens({ secret: randomBytes(32), clock: () => now }).verify(token), null, 'another key')
  now = new Date(now.getTime() + DEVICE_TOKEN_SECONDS * 1000)
  t.equal(tokens.verify(token), null, 'expired')
  t.throws(() => createDeviceTokens({ secret: randomBytes(16) }), RangeError, 'a short secret is refused')
})

t.test('the secret derives from the signing key: stable for one key, different for another', async t => {
  const keys = testKeys()
  t.same(deviceSecret(keys), deviceSecret(keys))
  t.equal(deviceSecret(keys).length, 32)
  t.notOk(deviceSecret(keys).includes(Buffer.from(keys.activePrivateKeyPem())), 'never the key itself')
})

t.test('POST /v1/authentication sets idm_device, HttpOnly, per account', async t => {
  const svc = await openAuditService(t)
  const a = await svc.createUser()
  const b = await svc.createUser()
  const login = async (username: string, cookie?: string) => await svc.call('POST', '/v1/authentication', {
    body: { username, password: PASSWORD }, headers: cookie === undefined ? {} : { cookie }
  })
  const first = await login(a.username)
  t.equal(first.statusCode, 200)
  const header = String(first.headers['set-cookie'])
  t.match(header, new RegExp(`^${DEVICE_COOKIE}=[^;]+; Path=/; Max-Age=${DEVICE_TOKEN_SECONDS}; HttpOnly; SameSite=Strict$`))
  const value = header.slice(DEVICE_COOKIE.length + 1, header.indexOf(';'))
  const claimA = svc.app.deviceTokens.verify(value)
  t.equal(claimA?.userId, a.id, 'the token names the account')

  const again = await login(a.username, `other=1; ${DEVICE_COOKIE}=${value}`)
  const againValue = String(again.headers['set-cookie']).split(';')[0]!.slice(DEVICE_COOKIE.length + 1)
  t.equal(svc.app.deviceTokens.verify(againValue)?.deviceId, claimA?.deviceId, 'the same device keeps its id')

  const second = await login(b.username, `${DEVICE_COOKIE}=${againValue}`)
  const both = String(second.headers['set-cookie']).split(';')[0]!.slice(DEVICE_COOKIE.length + 1).split('~')
  t.same(both.map(token => svc.app.deviceTokens.verify(token)?.userId), [b.id, a.id], 'both accounts, the latest first')

  const failed = await svc.call('POST', '/v1/authentication', { body: { username: a.username, password: 'wrong password here' } })
  t.equal(failed.statusCode, 401)
  t.equal(failed.headers['set-cookie'], undefined, 'no cookie for a failed sign-in')
})
