/**
 * Token attacks against the real routes of the real service (openService with its key file, as
 * main.ts runs it): every forged, altered, misdirected or outdated token is a 401 with
 * `WWW-Authenticate: Bearer error="invalid_token"` on a read, an admin read and a write, and
 * appends nothing. Then key rotation end to end on the key file: a new key signs while the old
 * one still verifies (both in the JWKS); a key removed from the file takes its tokens with it.
 * (test/http/shell-auth.test.ts covers the verifier on throwaway routes with a frozen clock;
 * test/http/api-hostile.test.ts the basic forgeries on /v1/users/me.)
 */
import { createPrivateKey, createPublicKey, generateKeyPairSync, sign as cryptoSign } from 'node:crypto'
import { readFileSync, statSync } from 'node:fs'
import { join } from 'node:path'
import type { Response } from 'light-my-request'
import t, { type Test } from 'tap'
import { loadConfig } from '../../src/config.js'
import { activateSigningKey, addSigningKey, listKeyFile, retireSigningKey, signingKeysFromPem } from '../../src/http/keys.js'
import { openService, type Service } from '../../src/service.js'
import { decodeJwt, PASSWORD, userBody } from '../helpers/api.js'
import { forgeToken } from '../helpers/http.js'
import { tempDir, TORTURE_ADMIN_PASSWORD } from '../helpers/torture.js'

const b64 = (value: unknown): string => Buffer.from(typeof value === 'string' ? value : JSON.stringify(value)).toString('base64url')

async function open (t: Test, dir: string): Promise<Service & { login(username: string, password: string): Promise<string> }> {
  const config = loadConfig({
    IDM_DATA_DIR: dir, IDM_SCRYPT_LOGN: '10', IDM_MFA_REQUIRED_ROLES: '', IDM_STEP_UP_SECONDS: '0', IDM_ADMIN_PASSWORD: TORTURE_ADMIN_PASSWORD,
    IDM_LOGIN_RATE_LIMIT: '100000', IDM_LOGIN_RATE_LIMIT_PER_USERNAME: '100000'
  })
  // No `keys` option: the key file in the data directory, exactly as main.ts runs.
  const svc = await openService(config, { logger: false })
  t.teardown(async () => await svc.close())
  const login = async (username: string, password: string): Promise<string> => {
    const res = await svc.app.inject({ method: 'POST', url: '/v1/authentication', payload: { username, password } })
    if (res.statusCode !== 200) throw new Error(`login ${username}: ${res.statusCode} ${res.body}`)
    return res.json().access_token
  }
  return Object.assign(svc, { login })
}

t.test('forged, altered and misdirected tokens are refused on real routes', async (t) => {
  const dir = tempDir(t)
  const svc = await open(t, dir)
  const admin = await svc.login('admin', TORTURE_ADMIN_PASSWORD)
  const created = await svc.app.inject({ method: 'POST', url: '/v1/users', headers: { authorization: `Bearer ${admin}` }, payload: userBody() })
  t.equal(created.statusCode, 201)
  const victim = created.json() as { id: string, username: string }
  const victimToken = await svc.login(victim.username, PASSWORD)

  const keyFile = join(dir, 'signing-key.pem')
  const keys = signingKeysFromPem(readFileSync(keyFile, 'utf8'))
  const kid = keys.activeKid
  const publicPem = keys.publicKeyPem(kid)!
  const jwk = keys.jwks().keys[0]!
  const { header: victimHeader, payload: claims } = decodeJwt(victimToken)
  const adminClaims = decodeJwt(admin).payload
  const now = Math.floor(Date.now() / 1000)
  const attacker = generateKeyPairSync('ec', { namedCurve: 'P-256' })
  const attackerPem = attacker.privateKey.export({ type: 'pkcs8', format: 'pem' }).toString()
  const attackerJwk = attacker.publicKey.export({ format: 'jwk' })
  const bySomeoneElse = (header: Record<string, unknown>, payload = claims): string =>
    forgeToken({ header, payload, privateKeyPem: attackerPem })
  const [h, p, s] = victimToken.split('.') as [string, string, string]
  const elevated = { ...claims, roles: ['identity-admin'] }

  const cases: Array<[string, string]> = [
    ['alg none', forgeToken({ alg: 'none', header: { kid }, payload: elevated })],
    ['alg none with the original signature', `${b64({ ...victimHeader, alg: 'none' })}.${p}.${s}`],
    ['alg "None"', `${b64({ alg: 'None', typ: 'JWT', kid })}.${b64(elevated)}.`],
    ['alg "NONE"', `${b64({ alg: 'NONE', typ: 'JWT', kid })}.${b64(elevated)}.`],
    ['HS256 keyed with the public key PEM (key confusion)', forgeToken({ alg: 'HS256', header: { kid }, payload: elevated, hmacKey: publicPem })],
    ['HS256 keyed with the public JWK', forgeToken({ alg: 'HS256', header: { kid }, payload: elevated, hmacKey: JSON.stringify(jwk) })],
    ['HS256 keyed with the JWK x coordinate', forgeToken({ alg: 'HS256', header: { kid }, payload: elevated, hmacKey: jwk.x })],
    ['HS256 with an empty key', forgeToken({ alg: 'HS256', header: { kid }, payload: elevated, hmacKey: '' })],
    ['RS256 header over the real ES256 signature', `${b64({ ...victimHeader, alg: 'RS256' })}.${p}.${s}`],
    ['ES384 header over the real ES256 signature', `${b64({ ...victimHeader, alg: 'ES384' })}.${p}.${s}`],
    ['signed by another key under our kid', bySomeoneElse({ kid })],
    ['another key embedded as a jwk header (CVE-2018-0114)', bySomeoneElse({ kid, jwk: attackerJwk })],
    ['another key by jku', bySomeoneElse({ kid: 'evil', jku: 'https://evil.example/jwks.json' })],
    ['another key by x5u', bySomeoneElse({ kid: 'evil', x5u: 'https://evil.example/cert.pem' })],
    ['kid ../../etc/passwd', bySomeoneElse({ kid: '../../etc/passwd' })],
    ['kid /dev/null', bySomeoneElse({ kid: '/dev/null' })],
    ['kid a URL', bySomeoneElse({ kid: 'https://evil.example/key.pem' })],
    ['kid SQL', bySomeoneElse({ kid: "' UNION SELECT 'key' --" })],
    ['kid __proto__', bySomeoneElse({ kid: '__proto__' })],
    ['kid constructor', bySomeoneElse({ kid: 'constructor' })],
    ['kid empty', bySomeoneElse({ kid: '' })],
    ['kid a number', bySomeoneElse({ kid: 0 })],
    ['kid an object', bySomeoneElse({ kid: { $ne: null } })],
    ['kid an array of our kid', bySomeoneElse({ kid: [kid] })],
    ['kid 10,000 characters', bySomeoneElse({ kid: 'k'.repeat(10_000) })],
    ['our key, kid ../../etc/passwd', forgeToken({ header: { kid: '../../etc/passwd' }, payload: claims, privateKeyPem: readFileSync(keyFile, 'utf8') })],
    ['psychic signature (r = s = 0, CVE-2022-21449)', `${h}.${b64(elevated)}.${Buffer.alloc(64).toString('base64url')}`],
    ['signature of all 0xff', `${h}.${p}.${Buffer.alloc(64, 0xff).toString('base64url')}`],
    ['signature truncated', `${h}.${p}.${s.slice(0, 40)}`],
    ['signature removed', `${h}.${p}.`],
    ['payload tampered: roles elevated', `${h}.${b64(elevated)}.${s}`],
    ['payload tampered: sub switched to the admin', `${h}.${b64({ ...claims, sub: adminClaims.sub })}.${s}`],
    ['payload tampered: exp extended', `${h}.${b64({ ...claims, exp: now + 10 * 365 * 86400 })}.${s}`],
    ['payload tampered: cv bumped', `${h}.${b64({ ...claims, cv: Number(claims.cv) + 1 })}.${s}`],
    ['header and payload of the admin, signature of the victim', `${admin.split('.')[0]}.${admin.split('.')[1]}.${s}`]
  ]
  const ours = (payload: Record<string, unknown>): string => forgeToken({ header: { kid }, payload, privateKeyPem: readFileSync(keyFile, 'utf8') })
  cases.push(
    ['our key: expired', ours({ ...claims, iat: now - 7200, nbf: now - 7200, exp: now - 1 })],
    ['our key: exp is now', ours({ ...claims, exp: now })],
    ['our key: not yet valid (nbf in an hour)', ours({ ...claims, nbf: now + 3600, exp: now + 7200 })],
    ['our key: wrong iss', ours({ ...claims, iss: 'https://evil.example' })],
    ['our key: wrong aud', ours({ ...claims, aud: 'another-service' })],
    ['our key: aud a list without us', ours({ ...claims, aud: ['another-service', 'a-third'] })],
    ['our key: no exp', ours({ ...claims, exp: undefined })],
    ['our key: no sub', ours({ ...claims, sub: undefined })],
    ['our key: no cv', ours({ ...claims, cv: undefined })],
    ['our key: exp a string', ours({ ...claims, exp: String(now + 600) })],
    ['our key: unknown sub', ours({ ...claims, sub: '0190a6d2-7c1e-7b3a-9f00-1234567890ab' })]
  )
  t.equal((await svc.app.inject({ url: '/v1/users/me', headers: { authorization: `Bearer ${ours({ ...claims, jti: 'fresh' })}` } })).statusCode, 200,
    'a token our key signs with the right claims is accepted (so the refusals below are about the attack)')

  const refused = async (name: string, res: Response): Promise<void> => {
    t.equal(res.statusCode, 401, name)
    t.equal(res.headers['www-authenticate'], 'Bearer error="invalid_token"', `${name}: invalid_token challenge`)
    t.match(res.headers['content-type'], /^application\/problem\+json/, `${name}: a problem`)
  }
  let requests = 0
  for (const [name, token] of cases) {
    const before = await svc.store.headPosition()
    const authorization = `Bearer ${token}`
    await refused(`${name}: GET /v1/users/me`, await svc.app.inject({ url: '/v1/users/me', headers: { authorization } }))
    await refused(`${name}: GET /v1/users`, await svc.app.inject({ url: '/v1/users', headers: { authorization } }))
    await refused(`${name}: PUT status`, await svc.app.inject({ method: 'PUT', url: `/v1/users/${victim.id}/status`, headers: { authorization }, payload: { status: 'inactive' } }))
    await refused(`${name}: POST roles`, await svc.app.inject({ method: 'POST', url: '/v1/roles', headers: { authorization }, payload: { id: 'pwned', name: 'pwned' } }))
    requests += 4
    t.equal(await svc.store.headPosition(), before, `${name}: nothing appended`)
  }
  t.equal((await svc.app.inject({ url: '/v1/users/me', headers: { authorization: `Bearer ${victimToken}` } })).statusCode, 200, 'the genuine token still works')
  t.comment(`token attacks: ${cases.length} forged or altered tokens × 4 real routes = ${requests} requests, all 401`)
})

t.test('key rotation: the new key signs, the old one verifies until retired, then its tokens die', async (t) => {
  const dir = tempDir(t)
  const keyFile = join(dir, 'signing-key.pem')
  const jwksKids = async (svc: Service): Promise<string[]> =>
    ((await svc.app.inject({ url: '/.well-known/jwks.json' })).json().keys as Array<{ kid: string }>).map((k) => k.kid)
  const works = async (svc: Service, token: string): Promise<number> =>
    (await svc.app.inject({ url: '/v1/users/me', headers: { authorization: `Bearer ${token}` } })).statusCode

  let svc = await open(t, dir)
  const [oldKey] = listKeyFile(keyFile)
  const oldToken = await svc.login('admin', TORTURE_ADMIN_PASSWORD)
  t.equal(decodeJwt(oldToken).header.kid, oldKey!.kid, 'tokens are signed by the generated key')
  await svc.close()

  // Step 1 (several nodes): the new key verifies everywhere before anyone signs with it.
  const newKid = addSigningKey(keyFile)
  t.strictSame(listKeyFile(keyFile).map((k) => [k.kid, k.active]), [[oldKey!.kid, true], [newKid, false]], 'added verify-only, at the end')
  t.equal(statSync(keyFile).mode & 0o777, 0o600, 'the rewritten key file is 0600')
  svc = await open(t, dir)
  t.strictSame(await jwksKids(svc), [oldKey!.kid, newKid], 'both keys in the JWKS')
  t.equal(decodeJwt(await svc.login('admin', TORTURE_ADMIN_PASSWORD)).header.kid, oldKey!.kid, 'the old key still signs')
  await svc.close()

  // Step 2: the new key signs; the old one still verifies the tokens it signed.
  activateSigningKey(keyFile, newKid)
  svc = await open(t, dir)
  t.strictSame(await jwksKids(svc), [newKid, oldKey!.kid], 'both keys in the JWKS, the new one first')
  const newToken = await svc.login('admin', TORTURE_ADMIN_PASSWORD)
  t.equal(decodeJwt(newToken).header.kid, newKid, 'new tokens are signed by the new key')
  t.equal(await works(svc, oldToken), 200, 'a token of the old key still works')
  t.equal(await works(svc, newToken), 200, 'a token of the new key works')
  t.throws(() => retireSigningKey(keyFile, newKid), /activate another key/, 'the signing key cannot be retired')
  await svc.close()

  // Step 3, after IDM_TOKEN_TTL: the old key leaves the file, and its tokens stop working.
  const oldPrivatePem = readFileSync(keyFile, 'utf8').split(/(?=-----BEGIN)/).find((block) => {
    try { return signingKeysFromPem(block).activeKid === oldKey!.kid } catch { return false }
  })!
  retireSigningKey(keyFile, oldKey!.kid)
  t.strictSame(listKeyFile(keyFile).map((k) => k.kid), [newKid])
  svc = await open(t, dir)
  t.strictSame(await jwksKids(svc), [newKid], 'only the new key in the JWKS')
  t.equal(await works(svc, oldToken), 401, 'a token of the retired key is refused')
  const stolen = forgeToken({ header: { kid: oldKey!.kid }, payload: { ...decodeJwt(oldToken).payload, jti: 'after-retirement', exp: Math.floor(Date.now() / 1000) + 600 }, privateKeyPem: oldPrivatePem })
  t.equal(await works(svc, stolen), 401, 'a fresh token signed with the retired (or stolen) old key is refused')
  t.equal(await works(svc, newToken), 200, 'tokens of the new key keep working')

  // A public-key-only block verifies but cannot become the signer.
  const publicOnly = createPublicKey(createPrivateKey(oldPrivatePem)).export({ type: 'spki', format: 'pem' }).toString()
  const text = readFileSync(keyFile, 'utf8')
  t.throws(() => signingKeysFromPem(`${publicOnly}\n${text}`), /first PEM block must be the private key/)
  t.ok(cryptoSign, 'node:crypto available')
})
