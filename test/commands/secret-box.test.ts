import { mkdtempSync, readFileSync, rmSync, statSync, writeFileSync } from 'node:fs'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import { inspect } from 'node:util'
import t from 'tap'
import { createSecretBox, loadOrCreateSecretBox, newSecretKeyLine, parseSecretKeys, SealedSecretError } from '../../src/commands/secret-box.js'

const secret = Buffer.from('12345678901234567890')

t.test('seals and opens; the sealed form holds neither the secret nor the key', async t => {
  const keys = parseSecretKeys(`# comment\n${newSecretKeyLine()}\n`)
  const box = createSecretBox(keys)
  const sealed = box.seal(secret, 'totp|alice')
  t.match(sealed, new RegExp(`^v1\\.${box.activeKid}\\.`))
  t.notOk(sealed.includes(secret.toString('base64url')), 'not the secret in base64url')
  t.same(box.open(sealed, 'totp|alice'), secret)
  t.not(box.seal(secret, 'totp|alice'), sealed, 'a fresh IV each time')
  t.throws(() => box.open(sealed, 'totp|bob'), SealedSecretError, 'bound to its context: not another user\'s')
  const [head, kid, iv, ct, tag] = sealed.split('.') as [string, string, string, string, string]
  const flipped = Buffer.from(ct, 'base64url')
  flipped[0]! ^= 1
  t.throws(() => box.open([head, kid, iv, flipped.toString('base64url'), tag].join('.'), 'totp|alice'), SealedSecretError, 'tampering is detected')
  t.throws(() => box.open('garbage', 'totp|alice'), SealedSecretError)
  t.notOk(inspect(box).includes(keys[0]!.key.toString('base64url')), 'inspect shows no key')
  t.notOk(JSON.stringify(box).includes(keys[0]!.key.toString('base64url')), 'JSON shows no key')
})

t.test('rotation: a new first key seals; the old one still opens what it sealed', async t => {
  const old = parseSecretKeys(newSecretKeyLine())
  const sealed = createSecretBox(old).seal(secret, 'totp|alice')
  const rotated = createSecretBox([...parseSecretKeys(newSecretKeyLine()), ...old])
  t.not(rotated.activeKid, old[0]!.kid)
  t.same(rotated.open(sealed, 'totp|alice'), secret)
  t.match(rotated.seal(secret, 'totp|alice'), new RegExp(`^v1\\.${rotated.activeKid}\\.`))
  const withoutOld = createSecretBox(parseSecretKeys(newSecretKeyLine()))
  t.throws(() => withoutOld.open(sealed, 'totp|alice'), /no longer holds/, 'a retired key: the value does not open')
})

t.test('the key file is created once (mode 0600) and read again; bad files fail clearly', async t => {
  const dir = mkdtempSync(join(tmpdir(), 'idm-keys-'))
  t.teardown(() => rmSync(dir, { recursive: true, force: true }))
  const file = join(dir, 'sub', 'mfa-keys')
  const first = loadOrCreateSecretBox(file)
  t.equal(statSync(file).mode & 0o777, 0o600)
  const again = loadOrCreateSecretBox(file)
  t.equal(again.activeKid, first.activeKid)
  t.same(again.open(first.seal(secret, 'x'), 'x'), secret)
  t.same(first.warnings, [])
  t.ok(readFileSync(file, 'utf8').startsWith('#'))
  const bad = join(dir, 'bad')
  writeFileSync(bad, 'k1 short\n', { mode: 0o600 })
  t.throws(() => loadOrCreateSecretBox(bad), /must be 32 bytes/)
  writeFileSync(bad, 'just-one-field\n', { mode: 0o600 })
  t.throws(() => loadOrCreateSecretBox(bad), /line 1/)
  writeFileSync(bad, '', { mode: 0o644 })
  t.throws(() => loadOrCreateSecretBox(bad), /at least one key/)
})
