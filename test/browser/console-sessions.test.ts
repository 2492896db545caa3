/**
 * The console's sessions panels and OAuth clients page in a real browser (Debian's Chromium via
 * playwright-core) against the real service on a socket. A user sees their sessions on "my
 * profile" (this browser's marked), ends another one and then their own; an administrator ends
 * all of a user's sessions from the user page (after a confirmation), an auditor sees the same
 * panel without the buttons. On the clients page an administrator registers a service account
 * (its secret shown once, and working at the token endpoint), rotates the secret and deactivates
 * the client. Every effect is checked through the API too, not only on the screen.
 *
 * Screenshots go to a fresh temporary directory (printed), never into the checkout.
 */
import { mkdtempSync } from 'node:fs'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import t from 'tap'
import type { Page } from 'playwright-core'
import { ADMIN_PASSWORD, PASSWORD, decodeJwt } from '../helpers/api.js'
import { contrastFailures, missingBrowser, openConsoleHarness, signIn } from './harness.js'

const reason = missingBrowser()
if (reason !== null) {
  if (process.env.CI === 'true') t.fail(`CI=true but ${reason}`)
  else t.plan(0, `skipped: ${reason}`)
} else {
  t.test('sessions panels and OAuth clients in the console', async (t) => {
    const h = await openConsoleHarness(t)
    const { svc } = h
    const shots = mkdtempSync(join(tmpdir(), 'idm-console-sessions-'))
    t.comment(`screenshots: ${shots}`)
    const shot = async (page: Page, name: string): Promise<void> => { await page.screenshot({ path: join(shots, `${name}.png`), fullPage: true }) }

    const sam = await svc.createUser({ username: 'sam.sessions', email: 'sam@example.com', firstName: 'Sam', lastName: 'Sessions' })
    const auditor = await svc.createUser({ username: 'olga.auditor', email: 'olga@example.com', firstName: 'Olga', lastName: 'Auditor', roles: ['identity-auditor'] })
    const apiSignIn = async (userAgent: string) => {
      const res = await svc.call('POST', '/v1/authentication', { body: { username: sam.username, password: PASSWORD }, headers: { 'user-agent': userAgent } })
      if (res.statusCode !== 200) throw new Error(res.body)
      const body = res.json() as { access_token: string }
      return { token: body.access_token, sid: String(decodeJwt(body.access_token).payload.sid) }
    }
    const phone = await apiSignIn('PhoneApp/2.1 (sessions test)')
    const laptop = await apiSignIn('LaptopScript/0.9 (sessions test)')
    const sessionsOf = async (userId: string) =>
      (await svc.call('GET', `/v1/users/${userId}/sessions`, { token: svc.admin })).json().items as { id: string, status: string, endReason: string | null }[]
    const consoleSid = async (page: Page): Promise<string> => {
      const token = await page.evaluate(() => (globalThis as any).sessionStorage.getItem('idm.console.token') as string)
      return String(decodeJwt(token).payload.sid)
    }

    const me = await h.newPage()
    await t.test('"my profile" lists the user\'s sessions, this browser\'s marked', async (t) => {
      await signIn(me, h.base, sam.username, PASSWORD)
      await me.getByRole('link', { name: 'My profile' }).click()
      const panel = me.getByTestId('sessions')
      await panel.getByText('3 live sessions.').waitFor()
      const own = await consoleSid(me)
      const current = panel.locator('tr[data-current="true"]')
      t.equal(await current.count(), 1, 'one row is marked')
      t.equal(await current.getAttribute('data-session'), own, 'the marked row is the session of the console\'s token')
      t.match(await current.textContent(), /This browser/)
      t.match(await current.textContent(), /HeadlessChrome|Chrome/, 'the browser\'s user agent')
      const phoneRow = panel.locator(`tr[data-session="${phone.sid}"]`)
      t.match(await phoneRow.textContent(), /PhoneApp\/2\.1/, 'user agent')
      t.match(await phoneRow.textContent(), /API sign-in \(idm-api\)/, 'client')
      t.match(await phoneRow.textContent(), /password/, 'authentication method')
      t.match(await phoneRow.textContent(), /live/)
      t.same(await contrastFailures(me), [], 'the sessions panel meets WCAG AA contrast')
      await shot(me, 'my-sessions')
    })

    await t.test('the user ends another session; its token stops working', async (t) => {
      const panel = me.getByTestId('sessions')
      await panel.locator(`tr[data-session="${phone.sid}"]`).getByRole('button', { name: /^End the session started/ }).click()
      await panel.getByText('Session ended.').waitFor()
      await panel.getByText('2 live sessions. 1 recently ended.').waitFor()
      t.match(await panel.locator(`tr[data-session="${phone.sid}"]`).textContent(), /ended.*ended from the sessions list/)
      t.match((await sessionsOf(sam.id)).find((s) => s.id === phone.sid), { status: 'ended', endReason: 'deleted' }, 'the API agrees')
      t.equal((await svc.call('GET', '/v1/users/me', { token: phone.token })).statusCode, 401, 'the ended session\'s access token is refused')
      t.equal((await svc.call('GET', '/v1/users/me', { token: laptop.token })).statusCode, 200, 'the other session lives on')
    })

    const auditorPage = await h.newPage()
    await t.test('an auditor sees the panel on the user page, without the buttons', async (t) => {
      await signIn(auditorPage, h.base, auditor.username, PASSWORD, `/console/users/${sam.id}`)
      const panel = auditorPage.getByTestId('sessions')
      await panel.getByText('2 live sessions. 1 recently ended.').waitFor()
      t.equal(await panel.getByRole('button').count(), 0, 'no End, no End all')
      t.equal(await panel.locator('th', { hasText: 'Actions' }).count(), 0)
    })

    const admin = await h.newPage()
    await t.test('an administrator ends all of the user\'s sessions, after confirming', async (t) => {
      await signIn(admin, h.base, 'admin', ADMIN_PASSWORD, `/console/users/${sam.id}`)
      const panel = admin.getByTestId('sessions')
      await panel.getByText('2 live sessions. 1 recently ended.').waitFor()
      await panel.getByRole('button', { name: 'End all sessions' }).click()
      await panel.getByText('End all 2 live sessions?').waitFor()
      await shot(admin, 'end-all-confirm')
      await panel.getByRole('button', { name: 'Cancel' }).click()
      t.equal((await sessionsOf(sam.id)).filter((s) => s.status === 'active').length, 2, 'cancel ends nothing')
      await panel.getByRole('button', { name: 'End all sessions' }).click()
      await panel.getByRole('button', { name: 'Yes, end all sessions' }).click()
      await panel.getByText('Every session ended.').waitFor()
      await panel.getByText('No live session. 3 recently ended.').waitFor()
      t.same((await sessionsOf(sam.id)).map((s) => s.status), ['ended', 'ended', 'ended'], 'the API agrees')
      t.equal((await svc.call('GET', '/v1/users/me', { token: laptop.token })).statusCode, 401)
      // Sam's console was one of them: its next call is refused and it says why.
      await me.bringToFront()
      await me.reload()
      await me.getByText('Your session has ended: it expired or was revoked. Sign in again.').waitFor()
      t.pass('the user\'s console returned to sign-in')
    })

    await t.test('ending this browser\'s own session signs the console out', async (t) => {
      await signIn(me, h.base, sam.username, PASSWORD, '/console/me')
      const own = await consoleSid(me)
      const panel = me.getByTestId('sessions')
      await panel.getByText('1 live session. 3 recently ended.').waitFor()
      await panel.getByRole('button', { name: 'End this browser\'s session' }).click()
      await me.getByText('You ended the session this browser was signed in with. Sign in again to continue.').waitFor()
      await me.getByRole('button', { name: 'Sign in' }).waitFor()
      t.match((await sessionsOf(sam.id)).find((s) => s.id === own), { status: 'ended', endReason: 'deleted' })
      t.equal(await me.evaluate(() => (globalThis as any).sessionStorage.getItem('idm.console.token')), null, 'the token was dropped')
    })

    const token = async (id: string, secret: string) => await fetch(`${h.base}/oauth2/token`, {
      method: 'POST',
      headers: { 'content-type': 'application/x-www-form-urlencoded', authorization: `Basic ${Buffer.from(`${encodeURIComponent(id)}:${encodeURIComponent(secret)}`).toString('base64')}` },
      body: 'grant_type=client_credentials'
    })

    await t.test('an administrator registers a service account; its secret is shown once and works', async (t) => {
      await admin.bringToFront()
      await admin.getByRole('link', { name: 'OAuth clients' }).click()
      await admin.getByRole('heading', { name: 'OAuth clients', level: 1 }).waitFor()
      await admin.getByText('Register a client').click()
      const form = admin.getByRole('form', { name: 'Register a client' })
      await form.getByLabel('Name').fill('Billing feed reader')
      await form.getByLabel('Type').selectOption('confidential')
      await form.getByLabel('Roles (optional)').fill('identity-subscriber')
      await form.getByRole('button', { name: 'Register client' }).click()
      const secret = (await admin.getByTestId('client-secret-value').textContent()) ?? ''
      t.match(secret, /^[A-Za-z0-9_-]{43}$/, 'the secret is shown')
      const row = admin.locator('table.clients tbody tr', { hasText: 'Billing feed reader' })
      await row.waitFor()
      const clientId = (await row.getAttribute('data-client')) ?? ''
      t.match(await row.textContent(), /confidential.*client_credentials.*identity-subscriber.*active/)
      t.same(await contrastFailures(admin), [], 'the clients page meets WCAG AA contrast')
      await shot(admin, 'clients-secret-once')

      const issued = await token(clientId, secret)
      t.equal(issued.status, 200, 'the shown secret works at the token endpoint')
      const access = (await issued.json() as { access_token: string }).access_token
      t.equal((await svc.call('GET', '/v1/events?limit=1', { token: access })).statusCode, 200, 'and its token reads the feed')

      await admin.reload()
      await row.waitFor()
      t.equal(await admin.getByTestId('client-secret').count(), 0, 'after a reload the secret is gone')
      t.notOk((await admin.content()).includes(secret), 'nowhere on the page')
      t.notOk((await svc.call('GET', `/v1/clients/${clientId}`, { token: svc.admin })).body.includes(secret), 'nor in the API')

      await t.test('rotating the secret shows the new one; the old one overlaps', async (t) => {
        await row.getByRole('button', { name: 'Rotate the secret of Billing feed reader' }).click()
        const rotated = (await admin.getByTestId('client-secret-value').textContent()) ?? ''
        t.match(rotated, /^[A-Za-z0-9_-]{43}$/)
        t.not(rotated, secret, 'a new secret')
        await admin.getByText(/The previous secret keeps working until/).waitFor()
        await row.getByText(/previous secret works until/).waitFor()
        t.equal((await token(clientId, rotated)).status, 200, 'the new secret works')
        t.equal((await token(clientId, secret)).status, 200, 'the old one still does, for the overlap')
      })

      await t.test('deactivating refuses the client\'s tokens at once', async (t) => {
        await row.getByRole('button', { name: 'Deactivate Billing feed reader' }).click()
        await admin.getByText('Billing feed reader deactivated: its tokens are refused from now on.').waitFor()
        await row.locator('.status-inactive').waitFor()
        t.match((await svc.call('GET', `/v1/clients/${clientId}`, { token: svc.admin })).json(), { status: 'inactive' }, 'the API agrees')
        t.equal((await svc.call('GET', '/v1/events?limit=1', { token: access })).statusCode, 401, 'its access token is refused')
        t.not((await token(clientId, secret)).status, 200, 'and no new token is issued')
        await row.getByRole('button', { name: 'Activate Billing feed reader' }).waitFor()
      })

      await t.test('an auditor reads the clients page without the write controls', async (t) => {
        await auditorPage.bringToFront()
        await auditorPage.getByRole('link', { name: 'OAuth clients' }).click()
        await auditorPage.locator('table.clients tbody tr', { hasText: 'Billing feed reader' }).waitFor()
        t.equal(await auditorPage.getByText('Register a client').count(), 0, 'no registration form')
        t.equal(await auditorPage.locator('table.clients button').count(), 0, 'no row buttons')
      })
    })
  })
}
