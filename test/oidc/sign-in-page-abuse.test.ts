/**
 * The sign-in page is POST /v1/authentication's command behind a form: failures on the page lock
 * the account for the API too (and the other way round), a locked account gets the same message
 * as a wrong password, the per-username rate limit answers a 429 page with Retry-After, and
 * malformed or oversized forms are a 4xx page, never a 5xx.
 */
import t from 'tap'
import { PASSWORD } from '../helpers/api.js'
import { authorizationRequest, formAction, openOidcService, registerClient, UserAgent } from './rp.js'

const o = await openOidcService(t, { IDM_LOCKOUT_THRESHOLD: '3', IDM_LOGIN_RATE_LIMIT_PER_USERNAME: '8' })
const { svc, issuer } = o
const app = await registerClient(o)

async function signInPage (): Promise<{ agent: UserAgent, action: string }> {
  const agent = new UserAgent(issuer)
  const page = await agent.follow((await authorizationRequest(app)).url)
  return { agent, action: formAction(await page.res.text()) }
}

t.test('failures on the page lock the account for the API; locked reads like a wrong password', async (t) => {
  const user = await svc.createUser()
  const { agent, action } = await signInPage()
  for (let i = 0; i < 3; i++) {
    const res = await agent.request(action, { form: { username: user.username, password: `wrong ${i}` } })
    t.equal(res.status, 401)
    await res.arrayBuffer()
  }
  const locked = await agent.request(action, { form: { username: user.username, password: PASSWORD } })
  t.equal(locked.status, 401, 'the right password while locked')
  t.match(await locked.text(), /The username or password is not correct\./, 'the one message')
  const api = await svc.call('POST', '/v1/authentication', { body: { username: user.username, password: PASSWORD } })
  t.equal(api.statusCode, 401, 'the API is locked too: one lockout')
})

t.test('the per-username rate limit is a 429 page with Retry-After', async (t) => {
  const user = await svc.createUser()
  const { agent, action } = await signInPage()
  let limited: Response | undefined
  for (let i = 0; i < 12 && limited === undefined; i++) {
    const res = await agent.request(action, { form: { username: user.username, password: `guess ${i}` } })
    if (res.status === 429) limited = res
    else await res.arrayBuffer()
  }
  t.ok(limited, '429 after the per-username budget')
  t.match(limited?.headers.get('retry-after'), /^\d+$/)
  t.match(await limited?.text(), /Too many sign-in attempts/)
  t.match(limited?.headers.get('content-type'), /text\/html/)
})

t.test('malformed forms: a 4xx page, nothing recorded', async (t) => {
  const { agent, action } = await signInPage()
  const before = await svc.eventCount()
  for (const form of [{}, { username: '' , password: '' }, { username: 'x'.repeat(300), password: 'y' }, { username: 'a', password: 'p'.repeat(5000) }, { __proto__: 'x', username: 'a' }]) {
    const res = await agent.request(action, { form: form as Record<string, string> })
    t.equal(res.status, 400, JSON.stringify(form).slice(0, 60))
    await res.arrayBuffer()
  }
  const huge = await agent.request(action, { form: { username: 'a', password: 'b', pad: 'z'.repeat(20_000) } })
  t.equal(huge.status, 413, 'an oversized form')
  await huge.arrayBuffer()
  const json = await fetch(new URL(action, issuer), { method: 'POST', headers: { 'content-type': 'text/plain', origin: issuer }, body: 'username=a&password=b' })
  t.equal(json.status, 415, 'another content type')
  t.equal(await svc.eventCount(), before, 'no event for a refused form')
  const unknown = await agent.request('/interaction/not-a-real-uid')
  t.equal(unknown.status, 400, 'an unknown interaction')
  const injected = await agent.request('/interaction/%3Cscript%3E')
  t.equal(injected.status, 400)
  t.notMatch(await injected.text(), /<script>/, 'nothing reflected')
})
