/**
 * 10,000 generated requests at the token endpoint (and a share at introspection and revocation):
 * no 5xx, every answer an RFC 6749 §5.2 error body, and no state change from a refused request —
 * the event count does not move and a live refresh token presented with the wrong client, grant
 * or authentication still works afterwards. The seed is printed to replay a failure.
 */
import fc from 'fast-check'
import t from 'tap'
import { openApiService, PASSWORD } from '../helpers/api.js'

const svc = await openApiService(t)
const user = await svc.createUser()
const login = (await svc.call('POST', '/v1/authentication', { body: { username: user.username, password: PASSWORD } })).json()
const sa = (await svc.call('POST', '/v1/clients', { token: svc.admin, body: { name: 'fuzz sa', type: 'confidential', grantTypes: ['client_credentials'] } })).json()
const liveRefresh = login.refresh_token as string
const before = await svc.eventCount()

const junk = fc.oneof(fc.string({ maxLength: 40 }), fc.constantFrom('', ' ', '%00', '\u0000', 'null', '[]', '{}', 'a'.repeat(3000), '../../etc/passwd', '<script>'))
const params = fc.record({
  grant_type: fc.option(fc.oneof(fc.constantFrom('refresh_token', 'authorization_code', 'client_credentials', 'password', 'implicit',
    'urn:ietf:params:oauth:grant-type:device_code', 'urn:ietf:params:oauth:grant-type:jwt-bearer'), junk), { nil: undefined }),
  // The live token only ever with a client or grant that must refuse it.
  refresh_token: fc.option(fc.oneof(fc.constant(liveRefresh), junk), { nil: undefined }),
  client_id: fc.option(fc.oneof(fc.constantFrom(sa.client_id as string, 'unknown-client', ''), junk), { nil: undefined }),
  client_secret: fc.option(fc.oneof(fc.constant('wrong'), junk), { nil: undefined }),
  code: fc.option(junk, { nil: undefined }),
  code_verifier: fc.option(junk, { nil: undefined }),
  redirect_uri: fc.option(fc.oneof(fc.constantFrom('https://evil.example/cb', 'javascript:alert(1)'), junk), { nil: undefined }),
  scope: fc.option(fc.oneof(fc.constantFrom('openid', 'api', 'offline_access admin'), junk), { nil: undefined }),
  resource: fc.option(fc.oneof(fc.constantFrom('urn:identity-manager:api', 'https://other.example'), junk), { nil: undefined }),
  token: fc.option(fc.oneof(fc.constant(liveRefresh), junk), { nil: undefined })
}, { requiredKeys: [] })
const request = fc.record({
  path: fc.constantFrom('/oauth2/token', '/oauth2/token', '/oauth2/token', '/oauth2/introspect', '/oauth2/revoke'),
  params,
  contentType: fc.constantFrom('application/x-www-form-urlencoded', 'application/x-www-form-urlencoded', 'application/json', 'text/plain', 'multipart/form-data', undefined),
  auth: fc.option(fc.oneof(
    fc.constant(`Basic ${Buffer.from(`${sa.client_id as string}:wrong`).toString('base64')}`),
    fc.constant('Basic !!!'),
    fc.constant(`Bearer ${login.access_token as string}`),
    junk.map(s => `Basic ${Buffer.from(s).toString('base64')}`)
  ), { nil: undefined }),
  duplicate: fc.boolean()
})

/** Would this request legitimately succeed and change state? Then it is not a refused one. */
function couldSucceed (r: { path: string, params: Record<string, string | undefined> }): boolean {
  const p = r.params
  if (r.path === '/oauth2/revoke' && p.token === liveRefresh && (p.client_id === 'idm-api')) return true
  return r.path === '/oauth2/token' && p.grant_type === 'refresh_token' && p.refresh_token === liveRefresh && p.client_id === 'idm-api'
}

t.test('the token endpoint refuses hostile requests with 4xx and changes nothing', async (t) => {
  const seed = Number(process.env.FUZZ_SEED ?? Date.now() % 2 ** 31)
  t.comment(`fast-check seed ${seed} (FUZZ_SEED=${seed} to replay)`)
  let count = 0
  await fc.assert(fc.asyncProperty(request, async (r) => {
    if (couldSucceed(r)) return
    count++
    const entries = Object.entries(r.params).filter(([, v]) => v !== undefined) as [string, string][]
    if (r.duplicate && entries.length > 0) entries.push(entries[0]!)
    const payload = r.contentType === 'application/json' ? JSON.stringify(Object.fromEntries(entries)) : new URLSearchParams(entries).toString()
    const res = await svc.app.inject({
      method: 'POST',
      url: r.path,
      headers: { ...(r.contentType === undefined ? {} : { 'content-type': r.contentType }), ...(r.auth === undefined ? {} : { authorization: r.auth }) },
      payload
    })
    if (res.statusCode >= 500) throw new Error(`${res.statusCode} for ${r.path} ${payload.slice(0, 200)}: ${res.body.slice(0, 200)}`)
    if (r.path === '/oauth2/token' && res.statusCode !== 200) {
      const body = res.json() as { error?: unknown }
      if (typeof body.error !== 'string') throw new Error(`not an RFC 6749 error body: ${res.body.slice(0, 200)}`)
    }
    if (r.path === '/oauth2/token' && res.statusCode === 200 && r.params.grant_type !== 'client_credentials') {
      throw new Error(`a hostile request succeeded: ${payload.slice(0, 200)}`)
    }
  }), { numRuns: 10_000, seed })
  t.comment(`${count} requests`)
  t.equal(await svc.eventCount(), before, 'no event appended by any refused request')
  const still = await svc.app.inject({
    method: 'POST',
    url: '/oauth2/token',
    headers: { 'content-type': 'application/x-www-form-urlencoded' },
    payload: new URLSearchParams({ grant_type: 'refresh_token', client_id: 'idm-api', refresh_token: liveRefresh }).toString()
  })
  t.equal(still.statusCode, 200, 'the live refresh token survived every refused use')
})
