import t from 'tap'
import { openConsoleHarness, signIn } from './harness.js'
import { ADMIN_PASSWORD } from '../helpers/api.js'
t.test('feed', async t => {
  const h = await openConsoleHarness(t)
  const page = await h.newPage()
  page.on('console', m => console.log('CONSOLE', m.type(), m.text()))
  page.on('requestfailed', r => console.log('FAILED', r.url(), r.failure()?.errorText))
  page.on('response', r => console.log('RESP', r.status(), r.url()))
  await signIn(page, h.base, 'admin', ADMIN_PASSWORD)
  await page.goto(h.base + '/console/feed')
  await new Promise(r => setTimeout(r, 4000))
  console.log(await page.locator('main').innerHTML())
})
