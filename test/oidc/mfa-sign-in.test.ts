/**
 * The second factor on the sign-in page of the authorization code flow: a user with TOTP gets a
 * code page after the password, a wrong code is the one failure message, the right one ends the
 * sign-in; the tokens the flow gives (and their refreshes) carry amr, so a role that requires a
 * second factor is not restricted after it.
 */
import * as oidc from 'openid-client'
import { Secret, TOTP } from 'otpauth'
import t from 'tap'
import { decodeJwt, PASSWORD } from '../helpers/api.js'
import { API_RESOURCE, authorizationRequest, formAction, openOidcService, registerClient, UserAgent } from './rp.js'

// The service's clock runs ahead of the real one when the test moves it (the provider keeps real time).
let offset = 0
const o = await openOidcService(t, { IDM_MFA_REQUIRED_ROLES: 'identity-auditor' }, { clock: () => new Date(Date.now() + offset) })
const { svc, issuer } = o
const now = (): number => Date.now() + offset
const code = (secret: string, at = now()): string =>
  new TOTP({ secret: Secret.fromBase32(secret), algorithm: 'SHA1', digits: 6, period: 30 }).generate({ timestamp: at })

t.test('password, then the code; the API token shows both and is not restricted', async (t) => {
  const user = await svc.createUser({ roles: ['identity-auditor'] })
  const first = await svc.call('POST', '/v1/authentication', { body: { username: user.username, password: PASSWORD } })
  t.equal(first.json().mfa_enrolment_required, true, 'an auditor without a factor is told to enrol')
  const restricted = first.json().access_token as string
  t.equal((await svc.call('GET', '/v1/users', { token: restricted })).statusCode, 403, 'and can do nothing else yet')
  const enrol = await svc.call('POST', `/v1/users/${user.id}/mfa/totp`, { token: restricted })
  t.equal(enrol.statusCode, 201, 'enrolling is allowed')
  const { secret } = enrol.json() as { secret: string }
  t.equal((await svc.call('POST', `/v1/users/${user.id}/mfa/totp/verify`, { token: restricted, body: { code: code(secret) } })).statusCode, 200)
  offset += 30_000

  const client = await registerClient(o, { name: 'dispatch' })
  const agent = new UserAgent(issuer)
  const request = await authorizationRequest(client)
  const page = await agent.follow(request.url)
  const passwordForm = formAction(await page.res.text())
  const codePage = await agent.request(passwordForm, { form: { username: user.username, password: PASSWORD } })
  t.equal(codePage.status, 200, 'the code page')
  const html = await codePage.text()
  t.match(html, /autocomplete="one-time-code"/)
  t.match(html, /recovery code/i, 'a recovery code is offered too')
  const action = formAction(html)
  t.match(action, /^\/interaction\/[A-Za-z0-9_-]+\/mfa$/)
  const mfaToken = /name="mfa_token" value="([^"]+)"/.exec(html)![1]!

  const wrong = await agent.request(action, { form: { mfa_token: mfaToken, method: 'totp', code: code(secret, now() + 300_000) } })
  t.equal(wrong.status, 401)
  t.match(await wrong.text(), /The code is not correct, or it was already used\./)

  const done = await agent.follow(action, { form: { mfa_token: mfaToken, method: 'totp', code: code(secret) } })
  const callback = done.url
  t.equal(`${callback.origin}${callback.pathname}`, client.redirectUri, 'back at the client')
  const tokens = await oidc.authorizationCodeGrant(client.config, callback, { pkceCodeVerifier: request.verifier, expectedState: request.state, expectedNonce: request.nonce })
  const api = await oidc.refreshTokenGrant(client.config, tokens.refresh_token!, { resource: API_RESOURCE })
  const claims = decodeJwt(api.access_token).payload
  t.same(claims.amr, ['pwd', 'otp'], 'the API token carries amr')
  t.type(claims.auth_time, 'number')
  const list = await fetch(`${issuer}/v1/users?limit=1`, { headers: { authorization: `Bearer ${api.access_token}` } })
  t.equal(list.status, 200, 'a second factor shown: the auditor reads users')
  const replay = await agent.request(action, { form: { mfa_token: mfaToken, method: 'totp', code: code(secret, now() + 30_000) } })
  t.not(replay.status, 303, 'the page and its mfa_token are done')
})
