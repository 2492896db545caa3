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

/** pino lines written to memory, parsed. */
function logLines () {
  const lines: Array<Record<string, any>> = []
  const stream = { write: (line: string) => { lines.push(JSON.parse(line) as Record<string, any>) } }
  return { lines, logger: { level: 'info', stream } }
}

t.test('IDM_TRUST_PROXY=true is warned about at start-up; a hop count is not', async t => {
  const trusting = logLines()
  await buildTestApp(t, { env: { IDM_TRUST_PROXY: 'true' }, logger: trusting.logger })
  const warning = trusting.lines.find(line => line.level === 40 && /IDM_TRUST_PROXY=true/.test(line.msg))
  t.ok(warning, 'a warning names the setting')
  t.match(warning?.msg, /hop count/, 'and says what to use instead')
  const counted = logLines()
  await buildTestApp(t, { env: { IDM_TRUST_PROXY: '1' }, logger: counted.logger })
  t.notOk(counted.lines.some(line => /IDM_TRUST_PROXY/.test(String(line.msg))), 'no warning for a hop count')
})

t.test('x-idm-min-position: only for authenticated /v1 callers; past the head a 400 at once; a wait that times out is a warning', async t => {
  const { openAuditService } = await import('../audit/helpers.js')
  const log = logLines()
  const svc = await openAuditService(t, { IDM_PROJECTION_WAIT_MS: '300' }, { logger: log.logger })
  const far = '999999999999999'
  const timed = async (run: () => Promise<{ statusCode: number }>) => {
    const started = performance.now()
    const res = await run()
    return { status: res.statusCode, ms: performance.now() - started }
  }
  const health = await timed(async () => await svc.call('GET', '/health/live', { headers: { 'x-idm-min-position': far } }))
  t.equal(health.status, 200, '/health/live ignores the header')
  t.ok(health.ms < 250, `and answers at once (${health.ms.toFixed(0)} ms)`)
  const anonymous = await timed(async () => await svc.call('GET', '/v1/users', { headers: { 'x-idm-min-position': far } }))
  t.equal(anonymous.status, 401, 'without a token: the usual 401, not a wait')
  t.ok(anonymous.ms < 250, `at once (${anonymous.ms.toFixed(0)} ms)`)
  const beyond = await timed(async () => await svc.call('GET', '/v1/users', { token: svc.admin, headers: { 'x-idm-min-position': far } }))
  t.equal(beyond.status, 400, 'past the head of the log: 400')
  t.ok(beyond.ms < 250, `at once (${beyond.ms.toFixed(0)} ms)`)
  const head = await svc.store.headPosition()
  t.equal((await svc.call('GET', '/v1/users', { token: svc.admin, headers: { 'x-idm-min-position': String(head) } })).statusCode, 200, 'a position the node has applied: served')

  // A position the store has but this node's read model has not applied: the runner is stopped.
  await svc.runner.stop()
  await svc.store.append('company-late', [{ id: (await import('node:crypto')).randomUUID(), type: 'CompanyDefined', data: { id: 'late', name: 'Late' }, metadata: { occurredAt: '2031-01-01T00:00:00.000Z', schemaVersion: 1 } }], { expectedRevision: 'any' })
  const behind = await svc.call('GET', '/v1/users', { token: svc.admin, headers: { 'x-idm-min-position': String(head + 1) } })
  t.equal(behind.statusCode, 503, 'not caught up within IDM_PROJECTION_WAIT_MS: 503')
  t.ok(behind.headers['retry-after'])
  const line = log.lines.find(l => l.status === 503)
  t.equal(line?.level, 40, 'logged at warn')
  t.notOk(line?.err, 'without a stack')
  t.notOk(log.lines.some(l => l.level >= 50), 'nothing at error level')
})

t.test('the request log names the path, the route and the query parameters, never their values', async t => {
  const { openAuditService } = await import('../audit/helpers.js')
  const log = logLines()
  const svc = await openAuditService(t, {}, { logger: log.logger })
  await svc.call('GET', '/v1/users?email=secret.person%40example.com&q=hidden', { token: svc.admin })
  const line = log.lines.find(l => l.msg === 'request completed' && l.req?.route === '/v1/users')
  t.ok(line, 'the request line')
  t.equal(line?.req.url, '/v1/users', 'the path alone')
  t.same(line?.req.query, ['email', 'q'], 'the parameter names')
  const all = JSON.stringify(log.lines)
  t.notMatch(all, /secret\.person|hidden/, 'no query value anywhere in the log')
})

t.test('an unknown query parameter is a 400, on routes with and without query parameters', async t => {
  const { openAuditService } = await import('../audit/helpers.js')
  const svc = await openAuditService(t)
  const user = await svc.createUser()
  const misspelled = await svc.call('GET', '/v1/users?companyID=acme', { token: svc.admin })
  t.equal(misspelled.statusCode, 400, 'a misspelled filter does not list every user')
  t.match(misspelled.json().errors, [{ path: '/query/companyID' }])
  t.equal((await svc.call('GET', '/v1/users?companyId=acme', { token: svc.admin })).statusCode, 200, 'the right name works')
  const extra = await svc.call('GET', `/v1/users/${user.id}?expand=all`, { token: svc.admin })
  t.equal(extra.statusCode, 400, 'a route that takes no query parameters refuses one')
  t.equal((await svc.call('GET', `/v1/users/${user.id}`, { token: svc.admin })).statusCode, 200)
  t.equal((await svc.call('GET', '/health/live?probe=1')).statusCode, 200, 'outside /v1 nothing changes')
})
