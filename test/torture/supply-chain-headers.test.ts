/**
 * Supply chain and headers.
 *   - `npm audit --omit=dev --audit-level=high` finds no high or critical advisory in the
 *     production dependencies (skipped, with the reason printed, when the advisory endpoint
 *     cannot be reached: the check needs the registry's POST /-/npm/v1/security/advisories/bulk,
 *     which a read-only mirror refuses; REQUIRE_NPM_AUDIT=1 makes that a failure).
 *   - Security headers (@fastify/helmet) on the real routes: reads, writes, errors, public routes.
 *   - CORS is off unless configured: a preflight or a request from another origin gets no CORS
 *     header at all; with IDM_CORS_ORIGINS only the listed origins are allowed, never credentials.
 */
import { execFile } from 'node:child_process'
import { fileURLToPath } from 'node:url'
import t from 'tap'
import { openApiService } from '../helpers/api.js'

const ROOT = fileURLToPath(new URL('../../', import.meta.url))

type AuditReport = {
  message?: string
  metadata?: { vulnerabilities?: Record<string, number> }
  vulnerabilities?: Record<string, { severity: string }>
  error?: { code?: string, summary?: string }
}

async function audit (): Promise<{ report: AuditReport | undefined, reason: string }> {
  const { stdout, stderr, code } = await new Promise<{ stdout: string, stderr: string, code: number | null }>((resolve) => {
    execFile('npm', ['audit', '--omit=dev', '--audit-level=high', '--json'], { cwd: ROOT, timeout: 120_000, maxBuffer: 64 * 2 ** 20 },
      (error, out, err) => resolve({ stdout: out, stderr: err, code: error === null ? 0 : typeof error.code === 'number' ? error.code : null }))
  })
  let report: AuditReport | undefined
  try { report = JSON.parse(stdout) as AuditReport } catch { report = undefined }
  const reason = [report?.message, report?.error?.summary, report?.error?.code, stderr.trim().split('\n').at(-1)]
    .find((s) => typeof s === 'string' && s.trim() !== '') ?? `npm audit exited ${String(code)} without a report`
  return { report, reason }
}

const { report, reason } = await audit()
const reachable = report?.metadata?.vulnerabilities !== undefined
// Where the registry is a mirror without the advisory endpoint (it answers 405 to npm's POST),
// the check cannot run; REQUIRE_NPM_AUDIT=1 turns that skip into a failure.
const required = process.env.REQUIRE_NPM_AUDIT === '1'
if (!reachable) t.comment(`npm audit ${required ? 'FAILED' : 'skipped'}: the advisory endpoint could not be reached (${reason.slice(0, 300)})`)
if (!reachable && required) t.fail(`REQUIRE_NPM_AUDIT=1 but npm audit could not run: ${reason.slice(0, 300)}`)

t.test('npm audit: no high or critical advisory in production dependencies', {
  skip: reachable ? false : `npm audit could not reach the advisory endpoint: ${reason.slice(0, 200)}`
}, async (t) => {
  const counts = report!.metadata!.vulnerabilities!
  const serious = Object.entries(report!.vulnerabilities ?? {})
    .filter(([, v]) => v.severity === 'high' || v.severity === 'critical')
    .map(([name, v]) => `${name} (${v.severity})`)
  t.comment(`npm audit --omit=dev: ${JSON.stringify(counts)}`)
  t.strictSame(serious, [], 'no high or critical advisory')
  t.equal((counts.high ?? 0) + (counts.critical ?? 0), 0)
})

t.test('security headers on the real routes', async (t) => {
  const svc = await openApiService(t)
  const cases: Array<[string, string, string, unknown?, string?]> = [
    ['read', 'GET', '/v1/users/me', undefined, svc.admin],
    ['admin list', 'GET', '/v1/users?limit=1', undefined, svc.admin],
    ['write', 'POST', '/v1/roles', { id: 'hdr-role', name: 'Headers' }, svc.admin],
    ['failed login', 'POST', '/v1/authentication', { username: 'nobody-here', password: 'not a password at all' }],
    ['no token', 'GET', '/v1/users'],
    ['not found', 'GET', '/v1/no-such-route'],
    ['validation error', 'GET', '/v1/users?limit=0', undefined, svc.admin],
    ['JWKS', 'GET', '/.well-known/jwks.json'],
    ['OpenAPI', 'GET', '/openapi.json'],
    ['health', 'GET', '/health/ready'],
    ['metrics', 'GET', '/metrics']
  ]
  for (const [name, method, url, body, token] of cases) {
    const res = await svc.call(method, url, { ...(body === undefined ? {} : { body }), ...(token === undefined ? {} : { token }) })
    const h = res.headers
    t.equal(h['x-content-type-options'], 'nosniff', `${name}: nosniff`)
    t.match(h['content-security-policy'], /default-src 'none'/, `${name}: CSP default-src 'none'`)
    t.match(h['content-security-policy'], /frame-ancestors 'none'/, `${name}: CSP frame-ancestors 'none'`)
    t.match(h['strict-transport-security'], /max-age=\d+/, `${name}: HSTS`)
    t.ok(h['x-frame-options'] !== undefined, `${name}: X-Frame-Options`)
    t.equal(h['referrer-policy'], 'no-referrer', `${name}: Referrer-Policy`)
    t.equal(h['cross-origin-resource-policy'], 'same-origin', `${name}: CORP same-origin`)
    t.equal(h['x-powered-by'], undefined, `${name}: no X-Powered-By`)
    t.equal(h['access-control-allow-origin'], undefined, `${name}: no CORS header`)
    t.ok(typeof h['x-request-id'] === 'string', `${name}: x-request-id`)
  }
  const token = await svc.call('POST', '/v1/authentication', { body: { username: 'admin', password: 'the bootstrap passphrase 2026' } })
  t.equal(token.headers['cache-control'], 'no-store', 'a token response is never cached')
})

t.test('CORS is off by default: another origin gets nothing', async (t) => {
  const svc = await openApiService(t)
  const preflight = await svc.app.inject({
    method: 'OPTIONS',
    url: '/v1/users',
    headers: { origin: 'https://evil.example', 'access-control-request-method': 'POST', 'access-control-request-headers': 'authorization, content-type' }
  })
  t.ok(preflight.statusCode >= 400, `the preflight is not answered as CORS (${preflight.statusCode})`)
  for (const name of ['access-control-allow-origin', 'access-control-allow-methods', 'access-control-allow-headers', 'access-control-allow-credentials']) {
    t.equal(preflight.headers[name], undefined, `preflight: no ${name}`)
  }
  const simple = await svc.call('GET', '/v1/users/me', { token: svc.admin, headers: { origin: 'https://evil.example' } })
  t.equal(simple.statusCode, 200)
  t.equal(simple.headers['access-control-allow-origin'], undefined, 'a cross-origin GET gets no Access-Control-Allow-Origin')
})

t.test('configured CORS allows only the listed origins, without credentials', async (t) => {
  const svc = await openApiService(t, { IDM_CORS_ORIGINS: 'https://app.example.com' })
  const preflight = (origin: string) => svc.app.inject({
    method: 'OPTIONS', url: '/v1/users', headers: { origin, 'access-control-request-method': 'POST' }
  })
  const allowed = await preflight('https://app.example.com')
  t.equal(allowed.statusCode, 204)
  t.equal(allowed.headers['access-control-allow-origin'], 'https://app.example.com')
  t.match(allowed.headers['access-control-allow-methods'], /POST/)
  t.equal(allowed.headers['access-control-allow-credentials'], undefined, 'never credentials')
  for (const origin of ['https://evil.example', 'https://app.example.com.evil.example', 'null', 'http://app.example.com']) {
    const res = await preflight(origin)
    t.equal(res.headers['access-control-allow-origin'], undefined, `${origin}: not allowed`)
  }
})
