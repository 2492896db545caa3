/**
 * A real relying party, openid-client 6, against the service over a real socket: discovery (the
 * issuer must equal the URL), client credentials, the refresh grant of the built-in public client
 * with rotation and reuse detection, introspection and revocation.
 */
import * as oidc from 'openid-client'
import t from 'tap'
import { openApiService, PASSWORD } from '../helpers/api.js'
import { freePort } from './rp.js'

const port = await freePort()
const issuer = `http://127.0.0.1:${port}`
const svc = await openApiService(t, { IDM_PUBLIC_URL: issuer, PORT: String(port) })
await svc.app.listen({ host: '127.0.0.1', port })
const insecure = { execute: [oidc.allowInsecureRequests] }

t.test('discovery and client credentials', async (t) => {
  const created = await svc.call('POST', '/v1/clients', { token: svc.admin, body: { name: 'rp', type: 'confidential', grantTypes: ['client_credentials'], roles: ['identity-subscriber'] } })
  const { client_id: id, client_secret: secret } = created.json()
  const config = await oidc.discovery(new URL(issuer), id, undefined, oidc.ClientSecretBasic(secret), insecure)
  t.equal(config.serverMetadata().issuer, issuer)
  t.same(config.serverMetadata().code_challenge_methods_supported, ['S256'])
  const tokens = await oidc.clientCredentialsGrant(config)
  t.match(tokens, { token_type: 'bearer', expires_in: 900 })
  const feed = await fetch(`${issuer}/v1/events?limit=1`, { headers: { authorization: `Bearer ${tokens.access_token}` } })
  t.equal(feed.status, 200, 'the token works on the feed')

  const wrong = await oidc.clientCredentialsGrant(await oidc.discovery(new URL(issuer), id, undefined, oidc.ClientSecretBasic('wrong'), insecure))
    .then(() => null, (error: unknown) => error as { name: string, status?: number, cause?: unknown })
  t.match(wrong, { name: 'WWWAuthenticateChallengeError', status: 401 }, 'a wrong secret is a 401 challenge (invalid_client)')
})

t.test('refresh rotation and reuse through openid-client; introspection and revocation', async (t) => {
  const rs = (await svc.call('POST', '/v1/clients', { token: svc.admin, body: { name: 'resource server', type: 'confidential', grantTypes: ['client_credentials'] } })).json()
  const rsConfig = await oidc.discovery(new URL(issuer), rs.client_id, undefined, oidc.ClientSecretBasic(rs.client_secret), insecure)
  const api = await oidc.discovery(new URL(issuer), 'idm-api', undefined, oidc.None(), insecure)
  const user = await svc.createUser()
  const login = (await svc.call('POST', '/v1/authentication', { body: { username: user.username, password: PASSWORD } })).json()

  const first = await oidc.refreshTokenGrant(api, login.refresh_token)
  t.ok(first.refresh_token !== undefined && first.refresh_token !== login.refresh_token, 'rotated')
  t.match(await oidc.tokenIntrospection(rsConfig, first.refresh_token!), { active: true, sub: user.id })
  await t.rejects(oidc.refreshTokenGrant(api, login.refresh_token), { error: 'invalid_grant' } as unknown as Error, 'reuse of the spent token')
  await t.rejects(oidc.refreshTokenGrant(api, first.refresh_token!), { error: 'invalid_grant' } as unknown as Error, 'the session ended with it')
  t.match(await oidc.tokenIntrospection(rsConfig, first.refresh_token!), { active: false })

  const again = (await svc.call('POST', '/v1/authentication', { body: { username: user.username, password: PASSWORD } })).json()
  const app = (await svc.call('POST', '/v1/clients', { token: svc.admin, body: { name: 'web app', type: 'confidential', grantTypes: ['authorization_code', 'refresh_token'], redirectUris: ['https://app.example/cb'] } })).json()
  const appConfig = await oidc.discovery(new URL(issuer), app.client_id, undefined, oidc.ClientSecretBasic(app.client_secret), insecure)
  await t.rejects(oidc.refreshTokenGrant(appConfig, again.refresh_token), { error: 'invalid_grant' } as unknown as Error, "one client's refresh token at another client")
  const still = await oidc.refreshTokenGrant(api, again.refresh_token)
  t.ok(still.access_token, 'the refused attempt changed nothing: the token still works for its own client')
  await oidc.tokenRevocation(api, still.refresh_token!)
  again.refresh_token = still.refresh_token
  again.access_token = still.access_token
  await t.rejects(oidc.refreshTokenGrant(api, again.refresh_token), { error: 'invalid_grant' } as unknown as Error, 'revoked')
  const me = await fetch(`${issuer}/v1/users/me`, { headers: { authorization: `Bearer ${again.access_token as string}` } })
  t.equal(me.status, 401, "revoking the refresh token ended the session's access tokens")
})
