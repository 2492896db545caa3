/**
 * One session over a real socket against the real process (src/main.ts): the admin defines a
 * company and creates a user, the user logs in, reads itself, changes its password and is
 * refused an admin route; the admin deactivates it and its token dies at once. SIGTERM then
 * shuts the process down gracefully (exit 0), and a restart on the same data keeps everything.
 */
import { mkdtempSync, rmSync } from 'node:fs'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import t, { type Test } from 'tap'
import { spawnMain, type RunningProcess } from '../helpers/api.js'

const ADMIN_PASSWORD = 'an end to end bootstrap passphrase'
const USER_PASSWORD = 'seashells by the seashore'
const NEW_PASSWORD = 'purple elephants juggle quietly'

const dir = mkdtempSync(join(tmpdir(), 'idm-e2e-'))
t.teardown(() => rmSync(dir, { recursive: true, force: true }))

function start (t: Test): RunningProcess {
  const proc = spawnMain({
    PORT: '0',
    HOST: '127.0.0.1',
    IDM_DATA_DIR: dir,
    IDM_SCRYPT_LOGN: '10', IDM_MFA_REQUIRED_ROLES: '', IDM_STEP_UP_SECONDS: '0',
    IDM_ADMIN_PASSWORD: ADMIN_PASSWORD,
    IDM_LOG_LEVEL: 'warn'
  })
  t.teardown(() => { if (proc.child.exitCode === null && proc.child.signalCode === null) proc.child.kill('SIGKILL') })
  return proc
}

interface Reply { status: number, headers: Headers, body: any }
const client = (base: string) => async (method: string, path: string, { token, body }: { token?: string, body?: unknown } = {}): Promise<Reply> => {
  const res = await fetch(`${base}${path}`, {
    method,
    headers: {
      ...(token === undefined ? {} : { authorization: `Bearer ${token}` }),
      ...(body === undefined ? {} : { 'content-type': 'application/json' })
    },
    ...(body === undefined ? {} : { body: JSON.stringify(body) })
  })
  const text = await res.text()
  return { status: res.status, headers: res.headers, body: text === '' ? null : JSON.parse(text) }
}

t.test('a whole session against the real process', async t => {
  const proc = start(t)
  const [, base] = await proc.waitFor(/listening on (http:\/\/\S+)/)
  const call = client(base!)

  t.equal((await call('GET', '/health/live')).status, 200)
  const adminLogin = await call('POST', '/v1/authentication', { body: { username: 'admin', password: ADMIN_PASSWORD } })
  t.equal(adminLogin.status, 200)
  t.equal(adminLogin.headers.get('cache-control'), 'no-store')
  const admin = adminLogin.body.access_token as string

  t.equal((await call('POST', '/v1/companies', { token: admin, body: { id: 'acme', name: 'Acme Logistics' } })).status, 201)
  const created = await call('POST', '/v1/users', {
    token: admin,
    body: {
      username: 'Dora', email: 'dora@example.com', firstName: 'Dora', lastName: 'Explorer', identificationType: 'CC',
      identificationNumber: '52000111', password: USER_PASSWORD, roles: ['identity-auditor'], companies: ['acme']
    }
  })
  t.equal(created.status, 201)
  t.equal(created.headers.get('location'), `/v1/users/${created.body.id}`)
  t.match(created.body, { username: 'dora', roles: ['identity-auditor'], companies: ['acme'], status: 'active' })
  const id = created.body.id as string

  const login = await call('POST', '/v1/authentication', { body: { username: 'DORA', password: USER_PASSWORD } })
  t.equal(login.status, 200)
  const token = login.body.access_token as string
  const me = await call('GET', '/v1/users/me', { token })
  t.equal(me.status, 200)
  t.equal(me.body.id, id)
  t.equal(me.headers.get('etag'), `"${me.body.version}"`)
  t.ok(me.headers.get('x-request-id'))

  const changed = await call('PUT', `/v1/users/${id}/password`, { token, body: { currentPassword: USER_PASSWORD, newPassword: NEW_PASSWORD } })
  t.equal(changed.status, 204)
  t.equal((await call('GET', '/v1/users/me', { token })).status, 401, 'the token from before the change is dead')
  const relogin = await call('POST', '/v1/authentication', { body: { username: 'dora', password: NEW_PASSWORD } })
  t.equal(relogin.status, 200, 'the new password works')
  const fresh = relogin.body.access_token as string

  const forbidden = await call('POST', '/v1/roles', { token: fresh, body: { id: 'sneaky', name: 'Sneaky' } })
  t.equal(forbidden.status, 403, 'an auditor may not write')
  t.match(forbidden.headers.get('content-type'), /^application\/problem\+json/)
  t.equal((await call('GET', '/v1/users', { token: fresh })).status, 200, 'but may read')

  t.equal((await call('PUT', `/v1/users/${id}/status`, { token: admin, body: { status: 'inactive', reason: 'left' } })).status, 200)
  const refused = await call('GET', '/v1/users/me', { token: fresh })
  t.equal(refused.status, 401, 'deactivated: refused at once')
  t.equal(refused.headers.get('www-authenticate'), 'Bearer error="invalid_token"')
  t.equal((await call('POST', '/v1/authentication', { body: { username: 'dora', password: NEW_PASSWORD } })).status, 401)

  proc.child.kill('SIGTERM')
  const exit = await proc.exited
  t.same(exit, { code: 0, signal: null }, 'SIGTERM: a graceful exit with 0')
  t.notMatch(proc.stderr(), /Error|failed/, 'nothing went wrong on the way out')
})

t.test('a restart on the same data keeps everything and creates no second admin', async t => {
  const proc = start(t)
  const [, base] = await proc.waitFor(/listening on (http:\/\/\S+)/)
  t.notMatch(proc.stdout(), /created now/, 'the admin exists already')
  const call = client(base!)
  const admin = (await call('POST', '/v1/authentication', { body: { username: 'admin', password: ADMIN_PASSWORD } })).body.access_token as string
  const dora = await call('GET', '/v1/users/by-username/dora', { token: admin })
  t.equal(dora.status, 200)
  t.match(dora.body, { status: 'inactive', companies: ['acme'] })
  t.same((await call('GET', '/v1/users?role=identity-admin', { token: admin })).body.items.map((u: { username: string }) => u.username), ['admin'])
  proc.child.kill('SIGTERM')
  t.same(await proc.exited, { code: 0, signal: null })
})
