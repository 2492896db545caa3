/**
 * Two real server processes on one SQLite event file, each with its own data dir and read model,
 * sharing the signing key: they behave as one service. A write on one node is read on the other
 * by asking it to wait for the write's position; uniqueness and lockouts hold across both.
 */
import { mkdirSync, mkdtempSync, rmSync } from 'node:fs'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import t, { type Test } from 'tap'
import { spawnMain, userBody, type RunningProcess } from '../helpers/api.js'

const ADMIN_PASSWORD = 'a shared bootstrap passphrase'
const root = mkdtempSync(join(tmpdir(), 'idm-two-nodes-'))
t.teardown(() => rmSync(root, { recursive: true, force: true }))

function node (t: Test, name: string): RunningProcess {
  mkdirSync(join(root, name), { recursive: true })
  const proc = spawnMain({
    PORT: '0',
    HOST: '127.0.0.1',
    IDM_DATA_DIR: join(root, name),
    IDM_EVENTSTORE: `sqlite:${join(root, 'events.db')}`,
    IDM_SIGNING_KEY_FILE: join(root, 'signing-key.pem'),
    IDM_SCRYPT_LOGN: '10', IDM_MFA_REQUIRED_ROLES: '', IDM_STEP_UP_SECONDS: '0',
    IDM_ADMIN_PASSWORD: ADMIN_PASSWORD,
    IDM_LOGIN_RATE_LIMIT: '1000',
    IDM_LOGIN_RATE_LIMIT_PER_USERNAME: '1000',
    IDM_LOG_LEVEL: 'warn'
  })
  t.teardown(() => { if (proc.child.exitCode === null && proc.child.signalCode === null) proc.child.kill('SIGKILL') })
  return proc
}

const client = (base: string) => async (method: string, path: string, options: { token?: string, body?: unknown, headers?: Record<string, string> } = {}) => {
  const res = await fetch(`${base}${path}`, {
    method,
    headers: {
      ...(options.token === undefined ? {} : { authorization: `Bearer ${options.token}` }),
      ...(options.body === undefined ? {} : { 'content-type': 'application/json' }),
      ...options.headers
    },
    ...(options.body === undefined ? {} : { body: JSON.stringify(options.body) })
  })
  const text = await res.text()
  return { status: res.status, headers: res.headers, body: text === '' ? null : JSON.parse(text) }
}

const percentile = (xs: number[], p: number) => [...xs].sort((a, b) => a - b)[Math.min(xs.length - 1, Math.floor(xs.length * p))]!

t.test('two nodes on one event file behave as one service', async t => {
  const a = node(t, 'a')
  const [, baseA] = await a.waitFor(/listening on (http:\/\/\S+)/)
  const b = node(t, 'b')
  const [, baseB] = await b.waitFor(/listening on (http:\/\/\S+)/)
  const onA = client(baseA!)
  const onB = client(baseB!)
  t.match(b.stdout(), /listening/)
  t.notMatch(b.stdout(), /admin user/, 'the second node finds the store bootstrapped')

  const login = await onA('POST', '/v1/authentication', { body: { username: 'admin', password: ADMIN_PASSWORD } })
  const admin = login.body.access_token as string

  // A write on A, read on B by waiting for its position.
  const created = await onA('POST', '/v1/users', { token: admin, body: userBody() })
  t.equal(created.status, 201)
  const position = created.headers.get('x-idm-position')
  t.match(position, /^\d+$/, 'writes report their log position')
  const readB = await onB('GET', `/v1/users/${created.body.id}`, { token: admin, headers: { 'x-idm-min-position': position! } })
  t.equal(readB.status, 200, 'the token of node A works on node B (shared key)')
  t.same(readB.body, created.body, 'node B shows the write once it reached that position')
  t.equal((await onB('GET', '/v1/users', { token: admin, headers: { 'x-idm-min-position': 'soon' } })).status, 400)

  // Uniqueness across nodes: concurrent registrations of one username split across A and B.
  const contested = userBody()
  const attempts = await Promise.all(Array.from({ length: 10 }, (_, i) =>
    (i % 2 === 0 ? onA : onB)('POST', '/v1/users', { token: admin, body: { ...userBody(), username: contested.username } })))
  const statuses = attempts.map(r => r.status).sort()
  t.equal(statuses.filter(s => s === 201).length, 1, `exactly one registration wins (${statuses.join(',')})`)
  t.equal(statuses.filter(s => s === 409).length, 9)

  // Lockout is shared: five wrong passwords on A lock the account on B too.
  const victim = userBody()
  const made = await onA('POST', '/v1/users', { token: admin, body: victim })
  for (let i = 0; i < 5; i++) {
    t.equal((await onA('POST', '/v1/authentication', { body: { username: victim.username, password: 'not the right one at all' } })).status, 401)
  }
  t.equal((await onB('POST', '/v1/authentication', { body: { username: victim.username, password: victim.password } })).status, 401,
    'the right password is refused on the other node while locked')
  let statusOnB = ''
  for (let i = 0; i < 100 && statusOnB !== 'locked'; i++) {
    statusOnB = (await onB('GET', `/v1/users/${made.body.id}`, { token: admin })).body.status
    if (statusOnB !== 'locked') await new Promise(resolve => setTimeout(resolve, 50))
  }
  t.equal(statusOnB, 'locked', 'node B shows the account locked by failures on node A')

  // Projection lag between the nodes under a steady write load: write on A, poll B until visible.
  const lags: number[] = []
  for (let i = 0; i < 40; i++) {
    const write = await onA('POST', `/v1/users/${created.body.id}/roles`, { token: admin, body: { roleId: i % 2 === 0 ? 'identity-auditor' : 'identity-subscriber' } })
    const written = performance.now()
    const version = write.body.version as number
    for (;;) {
      const r = await onB('GET', `/v1/users/${created.body.id}`, { token: admin })
      if (r.body.version >= version) break
    }
    lags.push(performance.now() - written)
    await onA('DELETE', `/v1/users/${created.body.id}/roles/${i % 2 === 0 ? 'identity-auditor' : 'identity-subscriber'}`, { token: admin })
  }
  t.comment(`projection lag A→B over ${lags.length} writes: p50 ${percentile(lags, 0.5).toFixed(1)} ms, p99 ${percentile(lags, 0.99).toFixed(1)} ms (poll interval 50 ms)`)
  t.equal(lags.length, 40)

  a.child.kill('SIGTERM')
  b.child.kill('SIGTERM')
  t.same((await a.exited).code, 0)
  t.same((await b.exited).code, 0)
})
