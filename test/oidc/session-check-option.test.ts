/**
 * The benchmark's A/B option (`openService(config, { sessionCheck: false })`, used only by
 * bench/baselines/idm-without-session-check.mjs) does what the session-check line says it does:
 * /v1 stops checking that the token's session is live, and nothing else changes. With the
 * default, a signed-out session's token is refused.
 */
import t from 'tap'
import { ADMIN_PASSWORD, PASSWORD } from '../helpers/api.js'
import { openTestService } from '../helpers/service.js'

for (const sessionCheck of [undefined, false] as const) {
  t.test(`sessionCheck ${String(sessionCheck ?? 'default')}`, async t => {
    const svc = await openTestService(t, {}, sessionCheck === undefined ? {} : { sessionCheck })
    const adminLogin = await svc.call('POST', '/v1/authentication', { body: { username: 'admin', password: ADMIN_PASSWORD } })
    const admin = adminLogin.json().access_token as string
    const created = await svc.call('POST', '/v1/users', {
      token: admin,
      body: { username: 'ab.check', email: 'ab@example.com', firstName: 'A', lastName: 'B', identificationType: 'CC', identificationNumber: '123456', password: PASSWORD }
    })
    t.equal(created.statusCode, 201)
    const user = created.json() as { id: string }
    const tokens = (await svc.call('POST', '/v1/authentication', { body: { username: 'ab.check', password: PASSWORD } })).json() as { access_token: string }
    const sid = JSON.parse(Buffer.from(tokens.access_token.split('.')[1]!, 'base64url').toString()).sid as string
    t.equal((await svc.call('GET', '/v1/users/me', { token: tokens.access_token })).statusCode, 200, 'the token works while its session lives')
    t.equal((await svc.call('DELETE', `/v1/users/${user.id}/sessions/${sid}`, { token: admin })).statusCode, 204)
    const after = await svc.call('GET', '/v1/users/me', { token: tokens.access_token })
    if (sessionCheck === false) t.equal(after.statusCode, 200, 'without the check the ended session\'s token still passes (as before sessions)')
    else t.equal(after.statusCode, 401, 'with the check (the default) it is refused')
    t.equal((await svc.call('GET', '/v1/users/me', { token: 'not.a.token' })).statusCode, 401, 'the signature check is there either way')
  })
}
