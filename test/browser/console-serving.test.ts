/**
 * How the service serves the console (no browser needed): index.html for every client page, the
 * hashed assets cached for good, the console's own Content-Security-Policy on its responses only,
 * nothing of it in the OpenAPI document, and a clear 404 when the console was never built.
 */
import Fastify from 'fastify'
import t from 'tap'
import { CONSOLE_CSP, consolePlugin } from '../../src/http/plugins/console.js'
import { problemsPlugin } from '../../src/http/plugins/problems.js'
import { openTestService } from '../helpers/service.js'
import { ensureConsoleBuilt } from './harness.js'

t.test('the built console under /console', async (t) => {
  ensureConsoleBuilt(t)
  const svc = await openTestService(t)
  const get = async (url: string) => await svc.app.inject({ method: 'GET', url })

  const index = await get('/console')
  t.equal(index.statusCode, 200)
  t.match(index.headers['content-type'], /^text\/html/)
  t.equal(index.headers['content-security-policy'], CONSOLE_CSP, 'the console\'s policy, not the API\'s')
  t.equal(index.headers['cache-control'], 'no-cache', 'index.html is revalidated, so a new build shows at once')
  t.notMatch(index.body, /<script>|<script [^>]*>[^<]/, 'no inline script (the policy would refuse it)')
  t.notMatch(index.body, /style=/, 'no inline style')
  const script = /src="(\/console\/app-[A-Z0-9]+\.js)"/.exec(index.body)?.[1]
  const style = /href="(\/console\/styles-[A-Z0-9]+\.css)"/.exec(index.body)?.[1]
  t.ok(script !== undefined && style !== undefined, 'index.html names the content-hashed script and stylesheet')

  for (const page of ['/console/', '/console/users', '/console/users/0190a6d2-7c1e-7b3a-9f00-1234567890ab/history', '/console/catalogs/roles']) {
    const res = await get(page)
    t.equal(res.statusCode, 200, `${page}: a client page gets index.html`)
    t.equal(res.body, index.body)
  }

  const js = await get(script!)
  t.equal(js.statusCode, 200)
  t.match(js.headers['content-type'], /javascript/)
  t.match(js.headers['cache-control'], /max-age=31536000/, 'hashed assets are cached for a year')
  t.match(js.headers['cache-control'], /immutable/)
  t.equal(js.headers['content-security-policy'], CONSOLE_CSP)
  const css = await get(style!)
  t.equal(css.statusCode, 200)
  t.match(css.headers['content-type'], /text\/css/)
  t.match(css.body, /--pico-/, 'Pico CSS is bundled in')

  const missing = await get('/console/app-OLDHASH.js')
  t.equal(missing.statusCode, 404, 'a missing asset is a 404, not index.html')
  t.match(missing.headers['content-type'], /^application\/problem\+json/)

  const api = await get('/v1/users')
  t.equal(api.statusCode, 401)
  t.match(api.headers['content-security-policy'], /default-src 'none'/, 'the API keeps its own policy')
  t.not(api.headers['content-security-policy'], CONSOLE_CSP)

  const doc = (await get('/openapi.json')).json() as { paths: Record<string, unknown> }
  t.same(Object.keys(doc.paths).filter((path) => path.startsWith('/console')), [], 'the console is not part of the API document')
})

t.test('without a build, /console says how to make one', async (t) => {
  const app = Fastify({ logger: false })
  t.teardown(() => app.close())
  await app.register(problemsPlugin, { mappers: [] })
  await app.register(consolePlugin, { root: '/nonexistent/idm-console' })
  const res = await app.inject({ method: 'GET', url: '/console/users' })
  t.equal(res.statusCode, 404)
  t.match(res.headers['content-type'], /^application\/problem\+json/)
  t.match(res.json(), { status: 404, detail: /npm run build/ })
})
