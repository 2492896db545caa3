/**
 * The authorization code flow over a real socket, with openid-client 6 as the relying party and
 * the sign-in page walked over plain HTTP (test/oidc/rp.ts UserAgent; the Chromium test drives
 * the same page in a browser): PKCE S256, the ID token validated by the library (signature,
 * issuer, audience, nonce), userinfo, the API's JWT with `sid`, refresh, SSO for a second
 * client, consent for third-party clients only, RP-initiated logout ending the session.
 */
import * as oidc from 'openid-client'
import t from 'tap'
import { decodeJwt, PASSWORD } from '../helpers/api.js'
import { API_RESOURCE, authorizationRequest, formAction, insecure, openOidcService, registerClient, signInOverHttp, UserAgent } from './rp.js'

const o = await openOidcService(t)
const { svc, issuer } = o
const user = await svc.createUser()
const credentials = { username: user.username, password: PASSWORD }

const introspector = async (): Promise<oidc.Configuration> => {
  const rs = (await svc.call('POST', '/v1/clients', { token: svc.admin, body: { name: 'resource server', type: 'confidential', grantTypes: ['client_credentials'] } })).json()
  return await oidc.discovery(new URL(issuer), rs.client_id, undefined, oidc.ClientSecretBasic(rs.client_secret), insecure)
}

t.test('sign in with the authorization code flow, SSO for a second client, RP-initiated logout', async (t) => {
  const app = await registerClient(o, { name: 'dispatch' })
  const agent = new UserAgent(issuer)
  const request = await authorizationRequest(app)

  const first = await agent.follow(request.url)
  t.equal(first.res.status, 200, 'the sign-in page')
  t.match(first.url.pathname, /^\/interaction\/[A-Za-z0-9_-]+$/)
  const html = await first.res.text()
  t.match(html, /<input id="username" name="username"/)
  t.match(html, /<input id="password" name="password" type="password"/)
  t.equal(html.match(/type="submit"/g)?.length, 1, 'one submit button')
  t.match(html, /dispatch/, 'names the client')
  t.match(first.res.headers.get('content-security-policy') ?? '', /form-action 'self' https:\/\/app\.example/)

  const wrong = await agent.request(formAction(html), { form: { username: user.username, password: 'not the password' } })
  t.equal(wrong.status, 401)
  const unknown = await agent.request(formAction(html), { form: { username: 'nobody-here', password: 'not the password' } })
  t.equal(unknown.status, 401)
  const wrongText = await wrong.text()
  const unknownText = await unknown.text()
  t.match(wrongText, /The username or password is not correct\./)
  t.equal(wrongText.replace(user.username, 'X'), unknownText.replace('nobody-here', 'X'), 'the same page for an unknown user and a wrong password')

  const signedIn = await agent.follow(formAction(html), { form: credentials })
  const callback = signedIn.url
  t.equal(`${callback.origin}${callback.pathname}`, app.redirectUri, 'back at the registered redirect_uri')
  t.match(agent.cookies.get('idm_device') ?? '', /.+/, 'the device cookie of POST /v1/authentication')

  const tokens = await oidc.authorizationCodeGrant(app.config, callback, { pkceCodeVerifier: request.verifier, expectedState: request.state, expectedNonce: request.nonce })
  const claims = tokens.claims()!
  t.equal(claims.sub, user.id)
  t.equal(claims.nonce, request.nonce)
  t.equal(decodeJwt(tokens.id_token!).header.alg, 'ES256')
  t.type(claims.sid, 'string', 'the ID token names the session')
  t.ok(tokens.refresh_token, 'a refresh token')
  const info = await oidc.fetchUserInfo(app.config, tokens.access_token, user.id)
  t.match(info, { sub: user.id, preferred_username: user.username })

  const sessions = (await svc.call('GET', `/v1/users/${user.id}/sessions`, { token: svc.admin })).json() as { items: { id: string, clientId: string, status?: string }[] }
  const started = sessions.items.find(s => s.id === claims.sid)
  t.ok(started, 'SessionStarted for the browser session')
  t.equal(started?.clientId, app.clientId)

  // The API's token: ask for the API's resource indicator.
  const apiTokens = await oidc.refreshTokenGrant(app.config, tokens.refresh_token!, { resource: API_RESOURCE })
  const apiClaims = decodeJwt(apiTokens.access_token).payload
  t.equal(apiClaims.sid, claims.sid, 'the access token carries the sid')
  t.equal(apiClaims.sub, user.id)
  const me = await fetch(`${issuer}/v1/users/me`, { headers: { authorization: `Bearer ${apiTokens.access_token}` } })
  t.equal(me.status, 200, 'the JWT works on /v1')

  // SSO: a second client, the same browser: no password.
  const other = await registerClient(o, { name: 'billing', redirectUri: 'https://billing.example/cb', postLogoutRedirectUri: 'https://billing.example/bye' })
  const second = await authorizationRequest(other)
  const otherCallback = await signInOverHttp(agent, second)
  const otherTokens = await oidc.authorizationCodeGrant(other.config, otherCallback, { pkceCodeVerifier: second.verifier, expectedState: second.state, expectedNonce: second.nonce })
  t.equal(otherTokens.claims()!.sid, claims.sid, 'SSO: the same session for the second client')
  t.equal(otherTokens.claims()!.sub, user.id)

  const rs = await introspector()
  t.match(await oidc.tokenIntrospection(rs, apiTokens.refresh_token!), { active: true, sub: user.id })

  // RP-initiated logout: the confirmation page, one button, then the session ends.
  const logoutUrl = oidc.buildEndSessionUrl(app.config, { id_token_hint: tokens.id_token!, post_logout_redirect_uri: app.postLogoutRedirectUri, state: 'bye' })
  const confirm = await agent.request(logoutUrl)
  t.equal(confirm.status, 200)
  const confirmHtml = await confirm.text()
  const xsrf = /name="xsrf" value="([^"]+)"/.exec(confirmHtml)?.[1]
  t.ok(xsrf, 'the sign-out form carries oidc-provider\'s xsrf token')
  const action = /<form[^>]*action="([^"]+)"/.exec(confirmHtml)?.[1]
  const out = await agent.request(new URL(action!, issuer), { form: { xsrf: xsrf!, logout: 'yes' } })
  t.equal(out.status, 303)
  t.equal(out.headers.get('location'), `${app.postLogoutRedirectUri}?state=bye`)

  t.match(await oidc.tokenIntrospection(rs, apiTokens.refresh_token!), { active: false }, 'introspection: inactive after logout')
  await t.rejects(oidc.refreshTokenGrant(app.config, apiTokens.refresh_token!), { error: 'invalid_grant' } as unknown as Error, 'the refresh token is refused')
  await t.rejects(oidc.refreshTokenGrant(other.config, otherTokens.refresh_token!), { error: 'invalid_grant' } as unknown as Error, "the second client's too")
  const after = await fetch(`${issuer}/v1/users/me`, { headers: { authorization: `Bearer ${apiTokens.access_token}` } })
  t.equal(after.status, 401, 'the access token is refused')
  const ended = (await svc.call('GET', `/v1/users/${user.id}/sessions`, { token: svc.admin })).json() as { items: { id: string, status: string, endReason: string | null }[] }
  t.match(ended.items.find(s => s.id === claims.sid), { status: 'ended', endReason: 'sign_out' }, 'SessionRevoked (sign_out)')

  // Signed out: the next authorize asks for the password again.
  const again = await agent.follow((await authorizationRequest(app)).url)
  t.match(again.url.pathname, /^\/interaction\//)
})
