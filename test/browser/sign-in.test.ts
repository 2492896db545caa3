/**
 * The sign-in page in a real browser (Debian's Chromium via playwright-core) with openid-client
 * as the relying party, against the service on a real socket. The app is a real HTTP server on
 * 127.0.0.1 too (its redirect_uri), and a "hostile site" on http://localhost:<port> (another
 * site to the browser) posts a form to the sign-in page: the browser's own rules (SameSite
 * cookies, Origin) plus the page's checks refuse it. Kept small: the hostile cases without a
 * browser are in test/oidc/authorization-hostile.test.ts.
 */
import { createServer, type IncomingMessage, type ServerResponse } from 'node:http'
import * as oidc from 'openid-client'
import t from 'tap'
import { PASSWORD } from '../helpers/api.js'
import { API_RESOURCE, authorizationRequest, insecure, openOidcService, registerClient } from '../oidc/rp.js'
import { ensureConsoleBuilt, launchChromium, missingBrowser, SCREENSHOTS } from './harness.js'

const reason = missingBrowser()
if (reason !== null) {
  if (process.env.CI === 'true') t.fail(`CI=true but ${reason}`)
  else t.plan(0, `skipped: ${reason}`)
} else {
  t.test('sign in through the page in Chromium: code + PKCE, SSO, a cross-site post refused, logout', async (t) => {
    ensureConsoleBuilt(t) // the page links the console's stylesheet
    const o = await openOidcService(t)
    const { svc, issuer } = o
    const user = await svc.createUser()

    // The relying party's own server: its callback pages, and a hostile page on another site.
    const hits: string[] = []
    const rp = createServer((req: IncomingMessage, res: ServerResponse) => {
      const url = new URL(req.url ?? '/', 'http://rp')
      hits.push(url.pathname + url.search)
      res.setHeader('content-type', 'text/html; charset=utf-8')
      if (url.pathname === '/evil') {
        const action = url.searchParams.get('action') ?? ''
        res.end(`<!doctype html><title>hostile</title><form id="f" method="post" action="${action.replace(/"/g, '')}">
<input name="username" value="${user.username}"><input name="password" value="${PASSWORD}"></form>
<script>document.getElementById('f').submit()</script>`)
        return
      }
      res.end(`<!doctype html><title>rp</title><p id="rp">${url.pathname}</p>`)
    })
    await new Promise<void>(resolve => rp.listen(0, '127.0.0.1', resolve))
    t.teardown(() => { rp.close() })
    const rpPort = (rp.address() as { port: number }).port
    const rpBase = `http://127.0.0.1:${rpPort}`

    const app = await registerClient(o, { name: 'dispatch', redirectUri: `${rpBase}/cb`, postLogoutRedirectUri: `${rpBase}/bye` })
    const other = await registerClient(o, { name: 'billing', type: 'public', redirectUri: `${rpBase}/cb2`, postLogoutRedirectUri: `${rpBase}/bye2` })

    const context = await launchChromium(t)
    const page = await context.newPage()
    page.on('pageerror', (error) => t.fail(`page error: ${error.message}`))
    page.on('console', (message) => {
      if (message.type() === 'error' && !/Failed to load resource: the server responded with a status of 4\d\d/.test(message.text())) t.fail(`console error: ${message.text()}`)
    })

    const request = await authorizationRequest(app)
    await page.goto(request.url.href)
    await page.waitForURL(/\/interaction\/[A-Za-z0-9_-]+$/)
    const interactionUrl = page.url()
    t.equal(await page.locator('input[name="username"]').count(), 1)
    t.equal(await page.locator('input[name="password"]').count(), 1)
    t.equal(await page.locator('button[type="submit"], input[type="submit"]').count(), 1, 'one submit button')
    const styled = await page.evaluate(() => (globalThis as unknown as { document: { styleSheets: { length: number } } }).document.styleSheets.length)
    t.ok(styled >= 1, "the console's stylesheet is loaded (allowed by the page's CSP)")
    await page.screenshot({ path: `${SCREENSHOTS}/sign-in.png`, fullPage: true })

    // A hostile site posts the sign-in form cross-site: refused, nothing reaches the app.
    const evil = await page.goto(`http://localhost:${rpPort}/evil?action=${encodeURIComponent(`${interactionUrl}/login`)}`)
    t.ok(evil, 'the hostile page loaded')
    await page.waitForURL(`${interactionUrl}/login`)
    t.match(await page.locator('h1').textContent(), /Sign-in refused|Sign-in expired/, 'the cross-site post is refused')
    t.notOk(hits.some(hit => hit.startsWith('/cb')), 'no code reached the app')

    // The real page still works.
    await page.goto(interactionUrl)
    await page.fill('input[name="username"]', user.username)
    await page.fill('input[name="password"]', 'wrong password')
    await page.click('button[type="submit"]')
    await page.getByRole('alert').filter({ hasText: 'The username or password is not correct.' }).waitFor()
    await page.fill('input[name="password"]', PASSWORD)
    await page.click('button[type="submit"]')
    await page.waitForURL(`${rpBase}/cb?**`)
    const tokens = await oidc.authorizationCodeGrant(app.config, new URL(page.url()), { pkceCodeVerifier: request.verifier, expectedState: request.state, expectedNonce: request.nonce })
    const claims = tokens.claims()!
    t.equal(claims.sub, user.id, 'the ID token, validated by openid-client')
    const refreshed = await oidc.refreshTokenGrant(app.config, tokens.refresh_token!, { resource: API_RESOURCE })
    t.ok(refreshed.refresh_token !== tokens.refresh_token, 'refresh (rotated)')

    // SSO: the second client, same browser, no password.
    const second = await authorizationRequest(other)
    await page.goto(second.url.href)
    await page.waitForURL(`${rpBase}/cb2?**`)
    const otherTokens = await oidc.authorizationCodeGrant(other.config, new URL(page.url()), { pkceCodeVerifier: second.verifier, expectedState: second.state, expectedNonce: second.nonce })
    t.equal(otherTokens.claims()!.sid, claims.sid, 'SSO: one session for both clients')

    const rs = (await svc.call('POST', '/v1/clients', { token: svc.admin, body: { name: 'resource server', type: 'confidential', grantTypes: ['client_credentials'] } })).json()
    const rsConfig = await oidc.discovery(new URL(issuer), rs.client_id, undefined, oidc.ClientSecretBasic(rs.client_secret), insecure)
    t.match(await oidc.tokenIntrospection(rsConfig, refreshed.refresh_token!), { active: true })

    // RP-initiated logout: one button, then back at the app's registered page.
    await page.goto(oidc.buildEndSessionUrl(app.config, { id_token_hint: tokens.id_token!, post_logout_redirect_uri: app.postLogoutRedirectUri, state: 'bye' }).href)
    await page.getByRole('button', { name: 'Sign out' }).click()
    await page.waitForURL(`${rpBase}/bye?state=bye`)
    t.match(await oidc.tokenIntrospection(rsConfig, refreshed.refresh_token!), { active: false }, 'introspection: inactive after logout')
    await t.rejects(oidc.refreshTokenGrant(other.config, otherTokens.refresh_token!), { error: 'invalid_grant' } as unknown as Error, "the other client's refresh token too")
    const me = await fetch(`${issuer}/v1/users/me`, { headers: { authorization: `Bearer ${refreshed.access_token}` } })
    t.equal(me.status, 401, 'the access token is refused')
  })
}
