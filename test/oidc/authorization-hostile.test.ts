/**
 * The authorization code flow under attack, over a real socket with plain HTTP (fetch, manual
 * redirects) and openid-client as the relying party: redirect_uri tricks, PKCE missing or
 * `plain`, a code replayed (the second use fails and what the first issued is revoked), an
 * expired code, a wrong client secret, a code or refresh token at another client, state and
 * nonce mismatches, open redirects on every redirect parameter, cross-site posts to the
 * sign-in page, consent for third-party clients only, and a session ended elsewhere.
 */
import * as oidc from 'openid-client'
import t from 'tap'
import { PASSWORD } from '../helpers/api.js'
import { API_RESOURCE, authorizationRequest, formAction, openOidcService, registerClient, signInOverHttp, UserAgent, type RegisteredClient } from './rp.js'

const CODE_TTL_SECONDS = 10
const o = await openOidcService(t, { IDM_AUTHORIZATION_CODE_TTL: String(CODE_TTL_SECONDS) })
const { svc, issuer } = o
const user = await svc.createUser()
const credentials = { username: user.username, password: PASSWORD }
const app = await registerClient(o, { name: 'dispatch' })
const other = await registerClient(o, { name: 'carrier portal', redirectUri: 'https://portal.example/cb' })
const EVIL = 'https://evil.example/steal'

const invalid = (error: string): Error => ({ error } as unknown as Error)
const isOurs = (location: string | null): boolean => location === null || new URL(location, issuer).origin === issuer
const api = async (token: string): Promise<number> => (await fetch(`${issuer}/v1/users/me`, { headers: { authorization: `Bearer ${token}` } })).status

/** A browser that signed in to `client`, and the callback URL of one more authorize. */
async function signedIn (client: RegisteredClient = app): Promise<{ agent: UserAgent, request: Awaited<ReturnType<typeof authorizationRequest>>, callback: URL }> {
  const agent = new UserAgent(issuer)
  const request = await authorizationRequest(client)
  return { agent, request, callback: await signInOverHttp(agent, request, credentials) }
}

// Taken first, redeemed last: by then it has expired.
const early = await signedIn()
const earlyAt = Date.now()

t.test('redirect_uri: anything but an exact registered one is an error page here, never a redirect', async (t) => {
  const request = await authorizationRequest(app)
  for (const redirect of [EVIL, `${app.redirectUri}/more`, `${app.redirectUri}?next=${encodeURIComponent(EVIL)}`, `${app.redirectUri}#x`,
    app.redirectUri.replace('https:', 'http:'), app.redirectUri.toUpperCase(), `${app.redirectUri}/../evil`, '//evil.example/cb']) {
    const url = new URL(request.url)
    url.searchParams.set('redirect_uri', redirect)
    const res = await fetch(url, { redirect: 'manual' })
    t.ok(res.status >= 400 && res.status < 500, `${redirect}: ${res.status}`)
    t.ok(isOurs(res.headers.get('location')), `${redirect}: no redirect away`)
    await res.arrayBuffer()
  }
  const extra = new URL(request.url)
  extra.searchParams.append('redirect_uri', EVIL)
  const twice = await fetch(extra, { redirect: 'manual' })
  const location = new URL(twice.headers.get('location') ?? '/', issuer)
  t.equal(`${location.origin}${location.pathname}`, app.redirectUri, 'a second redirect_uri: the error goes to the registered one, never to the other')
  t.equal(location.searchParams.get('error'), 'invalid_request')
  t.notOk(location.searchParams.has('code'))
})

t.test('PKCE: missing or plain is refused, for a confidential client too', async (t) => {
  const base = await authorizationRequest(app)
  const missing = new URL(base.url)
  missing.searchParams.delete('code_challenge')
  missing.searchParams.delete('code_challenge_method')
  const plain = new URL(base.url)
  plain.searchParams.set('code_challenge_method', 'plain')
  plain.searchParams.set('code_challenge', base.verifier)
  for (const [name, url] of [['missing', missing], ['plain', plain]] as const) {
    const res = await fetch(url, { redirect: 'manual' })
    const location = new URL(res.headers.get('location') ?? '', issuer)
    t.equal(`${location.origin}${location.pathname}`, app.redirectUri, `${name}: the error goes to the registered redirect_uri (RFC 6749 §4.1.2.1)`)
    t.equal(location.searchParams.get('error'), 'invalid_request', name)
    t.notOk(location.searchParams.has('code'), `${name}: no code`)
  }
  const discovery = await (await fetch(`${issuer}/.well-known/openid-configuration`)).json() as { code_challenge_methods_supported: string[] }
  t.same(discovery.code_challenge_methods_supported, ['S256'])

  const { request, callback } = await signedIn()
  await t.rejects(oidc.authorizationCodeGrant(app.config, callback, { pkceCodeVerifier: oidc.randomPKCECodeVerifier(), expectedState: request.state, expectedNonce: request.nonce }),
    invalid('invalid_grant'), 'a wrong code_verifier')
})

t.test('a code used twice: the second use fails and what the first issued is revoked', async (t) => {
  const { request, callback } = await signedIn()
  const checks = { pkceCodeVerifier: request.verifier, expectedState: request.state, expectedNonce: request.nonce }
  const first = await oidc.authorizationCodeGrant(app.config, callback, checks, { resource: API_RESOURCE })
  t.equal(await api(first.access_token), 200)
  await t.rejects(oidc.authorizationCodeGrant(app.config, callback, checks, { resource: API_RESOURCE }), invalid('invalid_grant'), 'the replay')
  t.equal(await api(first.access_token), 401, 'the first access token is refused')
  await t.rejects(oidc.refreshTokenGrant(app.config, first.refresh_token!), invalid('invalid_grant'), 'the first refresh token is refused')
  const sessions = (await svc.call('GET', `/v1/users/${user.id}/sessions`, { token: svc.admin })).json() as { items: { id: string, endReason: string | null }[] }
  t.equal(sessions.items.find(s => s.id === first.claims()!.sid)?.endReason, 'authorization_code_reuse')
})

t.test('client authentication and binding: wrong secret, another client\'s code and refresh token', async (t) => {
  const { request, callback } = await signedIn()
  const checks = { pkceCodeVerifier: request.verifier, expectedState: request.state, expectedNonce: request.nonce }
  const wrongSecret = await oidc.discovery(new URL(issuer), app.clientId, undefined, oidc.ClientSecretBasic('not-the-secret'), { execute: [oidc.allowInsecureRequests] })
  await t.rejects(oidc.authorizationCodeGrant(wrongSecret, callback, checks), { status: 401 } as unknown as Error, 'a wrong client secret')
  const code = callback.searchParams.get('code')!
  const elsewhere = await fetch(`${issuer}/oauth2/token`, {
    method: 'POST',
    headers: { authorization: `Basic ${Buffer.from(`${other.clientId}:${other.secret!}`).toString('base64')}`, 'content-type': 'application/x-www-form-urlencoded' },
    body: new URLSearchParams({ grant_type: 'authorization_code', code, redirect_uri: other.redirectUri, code_verifier: request.verifier })
  })
  t.equal(elsewhere.status, 400)
  t.match(await elsewhere.json(), { error: 'invalid_grant' }, "another client's code: RFC 6749 §5.2 body")
  const tokens = await oidc.authorizationCodeGrant(app.config, callback, checks)
  t.ok(tokens.refresh_token, 'the refused attempts changed nothing: the code still works for its client')
  await t.rejects(oidc.refreshTokenGrant(other.config, tokens.refresh_token!), invalid('invalid_grant'), "one client's refresh token at another")
  t.ok((await oidc.refreshTokenGrant(app.config, tokens.refresh_token!)).access_token, 'and it still works for its own client')
})

t.test('state and nonce mismatches are caught by the relying party library', async (t) => {
  const { request, callback } = await signedIn()
  await t.rejects(oidc.authorizationCodeGrant(app.config, callback, { pkceCodeVerifier: request.verifier, expectedState: oidc.randomState(), expectedNonce: request.nonce }),
    { cause: { message: /"state" response parameter value/ } } as unknown as Error, 'state mismatch')
  const tokens = await oidc.authorizationCodeGrant(app.config, callback, { pkceCodeVerifier: request.verifier, expectedState: request.state, expectedNonce: request.nonce })
  t.ok(tokens.id_token, 'the state check refused before redeeming: with the right state the same callback works')
  const again = await signedIn()
  await t.rejects(oidc.authorizationCodeGrant(app.config, again.callback, { pkceCodeVerifier: again.request.verifier, expectedState: again.request.state, expectedNonce: oidc.randomNonce() }),
    { cause: { message: /"nonce" claim value/ } } as unknown as Error, 'nonce mismatch')
})

t.test('open redirects: the sign-in page takes no return-to; post_logout_redirect_uri must be registered', async (t) => {
  const agent = new UserAgent(issuer)
  const request = await authorizationRequest(app)
  const page = await agent.follow(request.url)
  const pageUrl = new URL(page.url)
  const html = await page.res.text()
  for (const name of ['return_to', 'returnTo', 'redirect_uri', 'next', 'continue', 'url']) pageUrl.searchParams.set(name, EVIL)
  const withParams = await agent.request(pageUrl)
  t.equal(withParams.status, 200)
  t.notMatch(await withParams.text(), /evil\.example/, 'query parameters are not reflected')
  const action = new URL(formAction(html), issuer)
  for (const name of ['return_to', 'redirect_uri']) action.searchParams.set(name, EVIL)
  const posted = await agent.request(action, { form: { ...credentials, return_to: EVIL, returnTo: EVIL, redirect_uri: EVIL, next: EVIL } })
  t.equal(posted.status, 303)
  t.match(posted.headers.get('location'), new RegExp(`^${issuer}/oauth2/authorize/[A-Za-z0-9_-]+$`), 'the answer goes to the provider on the issuer')
  const { url: callback } = await agent.follow(posted.headers.get('location')!)
  t.equal(`${callback.origin}${callback.pathname}`, app.redirectUri)
  const tokens = await oidc.authorizationCodeGrant(app.config, callback, { pkceCodeVerifier: request.verifier, expectedState: request.state, expectedNonce: request.nonce })

  for (const redirect of [EVIL, `${app.postLogoutRedirectUri}/x`, `${app.postLogoutRedirectUri}?next=${encodeURIComponent(EVIL)}`]) {
    const logout = oidc.buildEndSessionUrl(app.config, { id_token_hint: tokens.id_token!, post_logout_redirect_uri: redirect })
    const res = await agent.request(logout)
    t.ok(res.status >= 400 && res.status < 500 && isOurs(res.headers.get('location')), `post_logout_redirect_uri ${redirect}: ${res.status}, no redirect`)
    await res.arrayBuffer()
  }
})

t.test('the sign-in page refuses cross-site and replayed posts', async (t) => {
  const agent = new UserAgent(issuer)
  const page = await agent.follow((await authorizationRequest(app)).url)
  const html = await page.res.text()
  const interactionCookie = (await new UserAgent(issuer).request((await authorizationRequest(app)).url)).headers.getSetCookie().find(c => c.startsWith('_interaction='))
  t.match(interactionCookie, /samesite=lax/i, 'the interaction cookie is SameSite=Lax')
  t.match(interactionCookie, /httponly/i)
  const action = formAction(html)
  const before = await svc.eventCount()
  const noCookie = await agent.request(action, { form: credentials, cookies: false })
  t.equal(noCookie.status, 400, 'without the interaction cookie (what a browser sends cross-site)')
  const crossOrigin = await agent.request(action, { form: credentials, headers: { origin: 'https://evil.example' } })
  t.equal(crossOrigin.status, 403, 'another Origin')
  const crossSite = await agent.request(action, { form: credentials, headers: { 'sec-fetch-site': 'cross-site' } })
  t.equal(crossSite.status, 403, 'Sec-Fetch-Site: cross-site')
  t.equal(await svc.eventCount(), before, 'no sign-in attempt was recorded for the refused posts')
  t.match(crossOrigin.headers.get('content-type'), /text\/html/)
  // The page of another interaction: its uid does not match this browser's cookie.
  const stranger = new UserAgent(issuer)
  const theirs = await stranger.follow((await authorizationRequest(app)).url)
  const theirAction = formAction(await theirs.res.text())
  t.equal((await agent.request(theirAction, { form: credentials })).status, 400, "a post to someone else's interaction")
  const done = await agent.follow(action, { form: credentials })
  t.equal(`${done.url.origin}${done.url.pathname}`, app.redirectUri, 'the real form still works')
  const replay = await agent.request(action, { form: credentials })
  t.equal(replay.status, 400, 'the same step posted again')
})

t.test('consent for third-party clients only', async (t) => {
  const third = await registerClient(o, { name: 'Acme Analytics', thirdParty: true, redirectUri: 'https://acme.example/cb' })
  const agent = new UserAgent(issuer)
  const request = await authorizationRequest(third)
  const login = await agent.follow(request.url)
  const consent = await agent.follow(formAction(await login.res.text()), { form: credentials })
  t.equal(consent.res.status, 200)
  t.match(consent.url.pathname, /^\/interaction\//)
  const html = await consent.res.text()
  t.match(html, /Allow access\?/)
  t.match(html, /Acme Analytics/)
  const denied = await agent.follow(formAction(html), { form: { decision: 'deny' } })
  t.equal(denied.url.searchParams.get('error'), 'access_denied')
  t.equal(`${denied.url.origin}${denied.url.pathname}`, third.redirectUri)

  const retry = await authorizationRequest(third)
  const page = await agent.follow(retry.url)
  t.match(await page.res.clone().text(), /Allow access\?/, 'signed in (SSO), the consent is asked again')
  const allowed = await agent.follow(formAction(await page.res.text()), { form: { decision: 'allow' } })
  const tokens = await oidc.authorizationCodeGrant(third.config, allowed.url, { pkceCodeVerifier: retry.verifier, expectedState: retry.state, expectedNonce: retry.nonce })
  t.equal(tokens.claims()!.sub, user.id)
  const later = await authorizationRequest(third)
  t.equal(`${(await signInOverHttp(agent, later)).pathname}`, '/cb', 'consent given: the next authorize goes straight back')

  // A first-party client with the same browser: no consent, no password.
  const firstParty = await authorizationRequest(app)
  t.equal((await signInOverHttp(agent, firstParty)).origin, 'https://app.example')
})

t.test('a session ended elsewhere: the next authorize asks for the password again', async (t) => {
  const { agent, request, callback } = await signedIn()
  const tokens = await oidc.authorizationCodeGrant(app.config, callback, { pkceCodeVerifier: request.verifier, expectedState: request.state, expectedNonce: request.nonce })
  const sid = tokens.claims()!.sid as string
  t.equal((await svc.call('DELETE', `/v1/users/${user.id}/sessions/${sid}`, { token: svc.admin })).statusCode, 204)
  const next = await agent.follow((await authorizationRequest(app)).url)
  t.match(next.url.pathname, /^\/interaction\//, 'the sign-in page, not a code')
  t.match(await next.res.text(), /name="password"/)
})

t.test('an expired code is refused', async (t) => {
  const wait = earlyAt + (CODE_TTL_SECONDS + 1) * 1000 - Date.now()
  if (wait > 0) await new Promise(resolve => setTimeout(resolve, wait))
  await t.rejects(oidc.authorizationCodeGrant(app.config, early.callback, { pkceCodeVerifier: early.request.verifier, expectedState: early.request.state, expectedNonce: early.request.nonce }),
    invalid('invalid_grant'), `a code older than ${CODE_TTL_SECONDS} s`)
})
