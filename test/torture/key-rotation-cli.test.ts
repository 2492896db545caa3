/**
 * Key rotation as an operator runs it: `idm keys add`, `idm keys activate`, `idm keys retire`
 * (the real CLI as a child process, src/ compiled once as the crash suite runs it) between starts of the real service on the same data
 * directory. Old tokens verify until their key is retired, both keys are in the JWKS meanwhile,
 * and a retired key's tokens are refused. Refused edits exit 1 with a one-line reason and leave
 * the file as it was. (token-attacks.test.ts drives the same functions in-process.)
 */
import { readFileSync, statSync } from 'node:fs'
import { join } from 'node:path'
import t, { type Test } from 'tap'
import { loadConfig } from '../../src/config.js'
import { openService, type Service } from '../../src/service.js'
import { decodeJwt } from '../helpers/api.js'
import { runIdm, tempDir, TORTURE_ADMIN_PASSWORD } from '../helpers/torture.js'

t.setTimeout(240_000)

async function start (t: Test, dir: string): Promise<Service> {
  const config = loadConfig({ IDM_DATA_DIR: dir, IDM_SCRYPT_LOGN: '10', IDM_MFA_REQUIRED_ROLES: '', IDM_STEP_UP_SECONDS: '0', IDM_ADMIN_PASSWORD: TORTURE_ADMIN_PASSWORD })
  const svc = await openService(config, { logger: false })
  t.teardown(async () => await svc.close())
  return svc
}

const login = async (svc: Service): Promise<string> => {
  const res = await svc.app.inject({ method: 'POST', url: '/v1/authentication', payload: { username: 'admin', password: TORTURE_ADMIN_PASSWORD } })
  if (res.statusCode !== 200) throw new Error(`login: ${res.statusCode} ${res.body}`)
  return res.json().access_token
}
const me = async (svc: Service, token: string): Promise<number> =>
  (await svc.app.inject({ url: '/v1/users/me', headers: { authorization: `Bearer ${token}` } })).statusCode
const jwks = async (svc: Service): Promise<string[]> =>
  ((await svc.app.inject({ url: '/.well-known/jwks.json' })).json().keys as Array<{ kid: string }>).map((k) => k.kid)

t.test('idm keys: add, activate, retire across restarts', async (t) => {
  const dir = tempDir(t)
  const env = { IDM_DATA_DIR: dir }
  const keyFile = join(dir, 'signing-key.pem')
  const idm = async (...args: string[]) => await runIdm(args, env)

  const none = await idm('keys', 'list')
  t.equal(none.code, 1, 'no key file yet: exit 1')
  t.match(none.stderr, /no key file at/)

  let svc = await start(t, dir)
  const oldToken = await login(svc)
  const oldKid = decodeJwt(oldToken).header.kid as string
  await svc.close()

  const listed = await idm('keys', 'list', '--json')
  t.equal(listed.code, 0, listed.stderr)
  t.strictSame(JSON.parse(listed.stdout), [{ kid: oldKid, private: true, active: true }], 'the generated key, signing')

  const added = await idm('keys', 'add')
  t.equal(added.code, 0, added.stderr)
  const newKid = /added (\S+):/.exec(added.stdout)?.[1] ?? ''
  t.match(added.stdout, /does not sign yet[\s\S]*Restart every API node/, 'says what happens and that nodes must restart')
  t.equal(statSync(keyFile).mode & 0o777, 0o600, 'the key file stays 0600')
  svc = await start(t, dir)
  t.strictSame(await jwks(svc), [oldKid, newKid], 'step 1: both keys in the JWKS')
  t.equal(decodeJwt(await login(svc)).header.kid, oldKid, 'step 1: the old key still signs')
  await svc.close()

  const activated = await idm('keys', 'activate', newKid)
  t.equal(activated.code, 0, activated.stderr)
  svc = await start(t, dir)
  const newToken = await login(svc)
  t.equal(decodeJwt(newToken).header.kid, newKid, 'step 2: the new key signs')
  t.strictSame(await jwks(svc), [newKid, oldKid], 'step 2: both keys in the JWKS, the signer first')
  t.equal(await me(svc, oldToken), 200, 'step 2: a token of the old key still verifies')
  await svc.close()

  const before = readFileSync(keyFile, 'utf8')
  for (const [args, reason] of [
    [['keys', 'retire', newKid], /activate another key/],
    [['keys', 'retire', 'no-such-kid'], /no key no-such-kid/],
    [['keys', 'activate', 'no-such-kid'], /no key no-such-kid/]
  ] as const) {
    const refused = await idm(...args)
    t.equal(refused.code, 1, `${args.join(' ')}: exit 1`)
    t.match(refused.stderr, reason, `${args.join(' ')}: says why`)
  }
  t.equal(readFileSync(keyFile, 'utf8'), before, 'refused edits leave the key file untouched')

  const retired = await idm('keys', 'retire', oldKid)
  t.equal(retired.code, 0, retired.stderr)
  svc = await start(t, dir)
  t.strictSame(await jwks(svc), [newKid], 'step 3: only the new key in the JWKS')
  t.equal(await me(svc, oldToken), 401, 'step 3: a token of the retired key is refused')
  t.equal(await me(svc, newToken), 200, 'step 3: tokens of the new key keep working')
  t.comment(`key rotation through idm keys: ${oldKid.slice(0, 8)}… → ${newKid.slice(0, 8)}…, 4 starts, 3 refused edits`)
})
