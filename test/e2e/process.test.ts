/**
 * How the real process (src/main.ts) starts: an invalid configuration is refused with exit code
 * 1 and a message naming the variable (no stack trace, no secret); without IDM_ADMIN_PASSWORD a
 * password is generated, printed once, and works.
 */
import { mkdtempSync, rmSync } from 'node:fs'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import t, { type Test } from 'tap'
import { spawnMain, type RunningProcess } from '../helpers/api.js'

function tempDir (t: Test): string {
  const dir = mkdtempSync(join(tmpdir(), 'idm-e2e-'))
  t.teardown(() => rmSync(dir, { recursive: true, force: true }))
  return dir
}

function start (t: Test, env: Record<string, string>): RunningProcess {
  const proc = spawnMain({ HOST: '127.0.0.1', PORT: '0', IDM_SCRYPT_LOGN: '10', IDM_MFA_REQUIRED_ROLES: '', IDM_STEP_UP_SECONDS: '0', IDM_LOG_LEVEL: 'warn', ...env })
  t.teardown(() => { if (proc.child.exitCode === null && proc.child.signalCode === null) proc.child.kill('SIGKILL') })
  return proc
}

t.test('an invalid configuration is refused with exit 1, naming every bad variable', async t => {
  const dir = tempDir(t)
  const proc = start(t, { IDM_DATA_DIR: dir, PORT: 'abc', IDM_TOKEN_TTL: '5', IDM_ADMIN_PASSWORD: 'a secret that must not be echoed' })
  const exit = await proc.exited
  t.same(exit, { code: 1, signal: null })
  const stderr = proc.stderr()
  t.match(stderr, /PORT must be an integer from 0 to 65535, got "abc"/)
  t.match(stderr, /IDM_TOKEN_TTL/, 'every problem at once')
  t.notMatch(stderr, /\n\s+at /, 'no stack trace')
  t.notMatch(stderr + proc.stdout(), /a secret that must not be echoed/)
  t.notMatch(proc.stdout(), /listening/)
})

t.test('an admin password the policy refuses is a configuration error too', async t => {
  const password = 'admin'.repeat(4)
  const proc = start(t, { IDM_DATA_DIR: tempDir(t), IDM_ADMIN_PASSWORD: password })
  t.same(await proc.exited, { code: 1, signal: null })
  t.match(proc.stderr(), /IDM_ADMIN_PASSWORD/, `names the variable: ${proc.stderr()}`)
  t.notMatch(proc.stderr(), /\n\s+at /, 'no stack trace')
  t.notMatch(proc.stderr() + proc.stdout(), new RegExp(password), 'does not echo the password')
})

t.test('without IDM_ADMIN_PASSWORD a password is generated, printed once, and works', async t => {
  const dir = tempDir(t)
  const proc = start(t, { IDM_DATA_DIR: dir, IDM_LOG_LEVEL: 'info' })
  const [, base] = await proc.waitFor(/listening on (http:\/\/\S+)/)
  const [, password] = await proc.waitFor(/admin password \(shown once, store it now\): (\S+)/)
  t.match(proc.stdout(), /admin user: admin \(created now\)/)
  t.ok(password!.length >= 15, 'long enough for the policy')

  const login = await fetch(`${base!}/v1/authentication`, {
    method: 'POST', headers: { 'content-type': 'application/json' }, body: JSON.stringify({ username: 'admin', password })
  })
  t.equal(login.status, 200, 'the printed password works')
  const { access_token: token } = await login.json() as { access_token: string }
  const me = await fetch(`${base!}/v1/users/me`, { headers: { authorization: `Bearer ${token}` } })
  t.match(await me.json(), { username: 'admin', roles: ['identity-admin'] })
  proc.child.kill('SIGTERM')
  t.same(await proc.exited, { code: 0, signal: null })
  const output = proc.stdout() + proc.stderr()
  t.equal(output.split(password!).length - 1, 1, 'the password appears exactly once in all output, logs included')

  const again = start(t, { IDM_DATA_DIR: dir })
  await again.waitFor(/listening on/)
  t.notMatch(again.stdout(), /admin password|created now/, 'not printed again on the next start')
  again.child.kill('SIGTERM')
  t.same(await again.exited, { code: 0, signal: null })
})
