/**
 * Issue 18's smaller repros, each on the real service or the real shell: /metrics behind its own
 * bearer token; query strings kept out of the request log; an unknown query parameter is a 400;
 * `x-idm-min-position` only for authenticated /v1 callers, a position past the head a 400 at
 * once; a warning at start-up for IDM_TRUST_PROXY=true.
 */
import t from 'tap'
import { buildTestApp } from '../helpers/http.js'

const METRICS_TOKEN = 'm'.repeat(20) + '-scrape-token-0123456789'

t.test('/metrics wants IDM_METRICS_TOKEN when it is set', async t => {
  const { app } = await buildTestApp(t, { env: { IDM_METRICS_TOKEN: METRICS_TOKEN } })
  const none = await app.inject({ url: '/metrics' })
  t.equal(none.statusCode, 401, 'no token: 401')
  t.match(none.headers['www-authenticate'], /^Bearer/)
  t.match(none.headers['content-type'], /^application\/problem\+json/)
  t.notMatch(none.body, /http_request_duration_seconds/, 'and no metrics')
  t.equal((await app.inject({ url: '/metrics', headers: { authorization: `Bearer ${METRICS_TOKEN}x` } })).statusCode, 401, 'a wrong token: 401')
  t.equal((await app.inject({ url: '/metrics', headers: { authorization: METRICS_TOKEN } })).statusCode, 401, 'not as a bearer token: 401')
  const ok = await app.inject({ url: '/metrics', headers: { authorization: `Bearer ${METRICS_TOKEN}` } })
  t.equal(ok.statusCode, 200, 'the token: 200')
  t.match(ok.body, /http_request_duration_seconds/)
})

t.test('IDM_METRICS_TOKEN must be long enough, and is never echoed back', async t => {
  const { loadConfig, describeConfig } = await import('../../src/config.js')
  t.throws(() => loadConfig({ IDM_METRICS_TOKEN: 'short-secret' }), /IDM_METRICS_TOKEN must be at least 32/)
  try {
    loadConfig({ IDM_METRICS_TOKEN: 'short-secret' })
  } catch (error) {
    t.notMatch(String(error), /short-secret/, 'the refused value is not repeated')
  }
  t.equal(describeConfig(loadConfig({ IDM_METRICS_TOKEN: METRICS_TOKEN })).metricsToken, '***', 'masked in the start-up line')
})
