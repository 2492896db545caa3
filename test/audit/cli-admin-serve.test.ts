/**
 * `idm users create-admin`, `idm serve` and the command line's help and errors, as real
 * processes: exit codes, messages, and the effect seen through the service.
 */
import { mkdtempSync, rmSync } from 'node:fs'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import t from 'tap'
import { loadConfig } from '../../src/config.js'
import { openService } from '../../src/service.js'
import { testKeys } from '../helpers/http.js'
import { runCli, spawnCli } from './cli-helpers.js'

const ROOT_PASSWORD = 'the root operator passphrase'

t.test('create-admin on a store that was never started, then the service uses it', async t => {
  const dir = mkdtempSync(join(tmpdir(), 'idm-admin-'))
  t.teardown(() => rmSync(dir, { recursive: true, force: true }))
  const created = await runCli(['users', 'create-admin', '--username', 'Root.Operator', '--password', ROOT_PASSWORD, '--email', 'root@example.com'], { IDM_DATA_DIR: dir })
  t.equal(created.code, 0, created.stderr)
  t.match(created.stdout.toString(), /^created identity-admin root\.operator \([0-9a-f-]{36}\)/)

  const [again, weak, help, second] = await Promise.all([
    runCli(['users', 'create-admin', '--username', 'root.operator', '--password', ROOT_PASSWORD], { IDM_DATA_DIR: dir }),
    runCli(['users', 'create-admin', '--username', 'weakling', '--password', 'password'], { IDM_DATA_DIR: dir }),
    runCli(['--help'], { IDM_DATA_DIR: dir }),
    runCli(['users', 'create-admin', '--username', 'deputy', '--password', 'a second operator passphrase', '--identification-number', 'OPS-2'], { IDM_DATA_DIR: dir })
  ])
  t.equal(again.code, 1, 'the same username again')
  t.match(again.stderr, /VALUE_TAKEN: That username is already in use/)
  t.equal(weak.code, 1, 'a weak password')
  t.match(weak.stderr, /WEAK_PASSWORD/)
  t.equal(help.code, 0)
  for (const command of ['serve', 'projections', 'audit', 'events', 'users']) t.match(help.stdout.toString(), command)
  t.equal(second.code, 0, second.stderr)

  // The service on that directory: no generated admin, and both operators are identity-admins.
  const config = loadConfig({ IDM_DATA_DIR: dir, IDM_SCRYPT_LOGN: '10' })
  const svc = await openService(config, { logger: false, keys: testKeys() })
  t.teardown(() => svc.close())
  t.equal(svc.bootstrap.adminCreated, null, 'the first start found an admin and created none')
  for (const [username, password] of [['root.operator', ROOT_PASSWORD], ['deputy', 'a second operator passphrase']] as const) {
    const login = await svc.app.inject({ method: 'POST', url: '/v1/authentication', payload: { username, password } })
    t.equal(login.statusCode, 200, `${username} logs in`)
    const token = login.json().access_token as string
    const me = (await svc.app.inject({ method: 'GET', url: '/v1/users/me', headers: { authorization: `Bearer ${token}` } })).json()
    t.match(me, { username, roles: ['identity-admin'], status: 'active' })
    if (username === 'root.operator') t.equal(me.email, 'root@example.com')
  }
  const weakling = await svc.app.inject({ method: 'POST', url: '/v1/authentication', payload: { username: 'weakling', password: 'password' } })
  t.equal(weakling.statusCode, 401, 'the refused admin does not exist')
})

t.test('serve listens, answers and stops on SIGTERM; bad configuration exits 1', async t => {
  const dir = mkdtempSync(join(tmpdir(), 'idm-serve-'))
  t.teardown(() => rmSync(dir, { recursive: true, force: true }))
  const bad = runCli(['serve'], { IDM_DATA_DIR: dir, PORT: 'eighty' })
  const child = spawnCli(['serve'], { IDM_DATA_DIR: dir, HOST: '127.0.0.1', PORT: '0', IDM_ADMIN_PASSWORD: ROOT_PASSWORD, IDM_LOG_LEVEL: 'silent' }, 'ignore')
  t.teardown(() => { if (child.exitCode === null) child.kill('SIGKILL') })
  let out = ''
  const url = await new Promise<string>((resolve, reject) => {
    child.stdout?.setEncoding('utf8').on('data', (chunk: string) => {
      out += chunk
      const match = /listening on (http:\/\/\S+)/.exec(out)
      if (match !== null) resolve(match[1]!)
    })
    child.on('exit', code => reject(new Error(`serve exited ${code}: ${out}`)))
  })
  t.match(out, /admin user: admin \(created now\)/)
  t.equal((await fetch(`${url}/health/live`)).status, 200)
  const exited = new Promise<number | null>(resolve => child.on('exit', resolve))
  child.kill('SIGTERM')
  t.equal(await exited, 0, 'a clean shutdown')
  const refused = await bad
  t.equal(refused.code, 1)
  t.match(refused.stderr, /PORT must be/)
})
