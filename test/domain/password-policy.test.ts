import t from 'tap'
import { checkPassword, passwordPolicy, DEFAULT_PASSWORD_POLICY, MAX_PASSWORD_BYTES } from '../../src/domain/password-policy.js'

const policy = DEFAULT_PASSWORD_POLICY
const PASSPHRASE = 'tangerine orbit velvet'

t.test('the default minimum is 15 characters', async t => {
  t.equal(policy.minLength, 15)
  t.strictSame(checkPassword('mauve-lantern-9', policy, {}), { ok: true, normalized: 'mauve-lantern-9' })
  t.strictSame(checkPassword('mauve-lantern9', policy, {}), { ok: false, reason: 'too_short' })
})

t.test('no composition rules: a lower-case passphrase is fine', async t => {
  t.match(checkPassword(PASSPHRASE, policy, {}), { ok: true })
})

t.test('length counts code points after NFKC, not UTF-16 units', async t => {
  // 'e' + COMBINING ACUTE composes to 'é': 18 code units, 14 characters.
  const fourteen = 'de\u0301ja\u0300 vu re\u0301sume\u0301'
  t.equal(fourteen.length, 18)
  t.strictSame(checkPassword(fourteen, policy, {}), { ok: false, reason: 'too_short' })
  // Astral characters are two code units each but one character.
  const emoji = '🦊🐙🦉🐢🦀🐝🦋🐌🦔🐧🦜🐬🦩🐞🦑'
  t.equal(emoji.length, 30)
  t.strictSame(checkPassword(emoji, policy, {}), { ok: true, normalized: emoji })
  t.strictSame(checkPassword([...emoji].slice(0, 14).join(''), policy, {}), { ok: false, reason: 'too_short' })
})

t.test('the normalized (NFKC) form is what gets hashed', async t => {
  t.strictSame(checkPassword('ｍａｕｖｅ－ｌａｎｔｅｒｎ－９', policy, {}), { ok: true, normalized: 'mauve-lantern-9' })
})

t.test('64 characters are accepted', async t => {
  const sixtyFour = 'quartz walrus juggles seventeen amber kites over a fjord at 4am!'
  t.equal([...sixtyFour].length, 64)
  t.match(checkPassword(sixtyFour, policy, {}), { ok: true })
})

t.test('up to 1024 UTF-8 bytes are accepted; one more is too_long', async t => {
  const ascii = `${PASSPHRASE} `.repeat(60).slice(0, MAX_PASSWORD_BYTES)
  t.match(checkPassword(ascii, policy, {}), { ok: true })
  t.strictSame(checkPassword(`${ascii}x`, policy, {}), { ok: false, reason: 'too_long' })
})

t.test('the byte limit counts multi-byte characters', async t => {
  // 'ñandú€ ' is 2+1+1+1+2+3+1 = 11 bytes for 7 characters.
  const unit = 'ñandú€ '
  const fits = unit.repeat(93) + 'w' // 93 · 11 + 1 = 1024 bytes in 652 characters
  t.equal(Buffer.byteLength(fits), MAX_PASSWORD_BYTES)
  t.match(checkPassword(fits, policy, {}), { ok: true })
  const over = unit.repeat(93) + 'w€' // 1027 bytes in 653 characters
  t.strictSame(checkPassword(over, policy, {}), { ok: false, reason: 'too_long' })
})

t.test('an input whose NFKC form exceeds the limit is too_long', async t => {
  // U+FDFA (ARABIC LIGATURE SALLALLAHOU ALAYHE WASALLAM) expands to 18 characters under NFKC.
  const ligatures = '\uFDFA'.repeat(40)
  t.ok(Buffer.byteLength(ligatures) <= MAX_PASSWORD_BYTES, 'the raw input fits')
  t.strictSame(checkPassword(ligatures, policy, {}), { ok: false, reason: 'too_long' })
})

t.test('a huge input is too_long', async t => {
  t.strictSame(checkPassword('x'.repeat(1_000_000), policy, {}), { ok: false, reason: 'too_long' })
})

t.test('a password from the common list is common, whatever its case', async t => {
  t.strictSame(checkPassword('passwordpassword', policy, {}), { ok: false, reason: 'common' })
  t.strictSame(checkPassword('PassWordPassWord', policy, {}), { ok: false, reason: 'common' })
  t.strictSame(checkPassword('1qaz2wsx3edc4rfv', policy, {}), { ok: false, reason: 'common' })
  t.strictSame(checkPassword('password', passwordPolicy(8), {}), { ok: false, reason: 'common' })
})

t.test('a single repeated character is common', async t => {
  t.strictSame(checkPassword('aaaaaaaaaaaaaaa', policy, {}), { ok: false, reason: 'common' })
  t.strictSame(checkPassword('ÄÄÄÄÄÄÄÄÄÄÄÄÄÄÄÄ', policy, {}), { ok: false, reason: 'common' })
})

t.test('a short unit repeated is common', async t => {
  t.strictSame(checkPassword('xyxyxyxyxyxyxyxy', policy, {}), { ok: false, reason: 'common' })
  t.strictSame(checkPassword('q7!q7!q7!q7!q7!q7!', policy, {}), { ok: false, reason: 'common' })
})

t.test('a straight run of sequential characters is common', async t => {
  t.strictSame(checkPassword('abcdefghijklmnop', policy, {}), { ok: false, reason: 'common' })
  t.strictSame(checkPassword('ponmlkjihgfedcba', policy, {}), { ok: false, reason: 'common' })
  t.strictSame(checkPassword('1234567890123456', policy, {}), { ok: false, reason: 'common' })
  t.strictSame(checkPassword('ABCDEFGHIJKLMNOP', policy, {}), { ok: false, reason: 'common' })
})

t.test('a password equal to the username is contains_username', async t => {
  t.strictSame(checkPassword('johnathan.smith.x', policy, { username: 'johnathan.smith.x' }), { ok: false, reason: 'contains_username' })
  t.strictSame(checkPassword('JOHNATHAN.SMITH.X', policy, { username: 'johnathan.smith.x' }), { ok: false, reason: 'contains_username' })
  t.strictSame(checkPassword('bob', passwordPolicy(8), { username: 'bob' }), { ok: false, reason: 'too_short' }, 'length is checked first')
})

t.test('a password containing a username of 4 or more characters is contains_username', async t => {
  t.strictSame(checkPassword('my secret JDoe passphrase', policy, { username: 'jdoe' }), { ok: false, reason: 'contains_username' })
})

t.test('a username of 3 characters may appear inside a longer password', async t => {
  t.match(checkPassword('bob likes long walks', policy, { username: 'bob' }), { ok: true })
})

t.test('passwordPolicy refuses a minimum below 8 or above 64', async t => {
  t.strictSame(passwordPolicy(8), { minLength: 8 })
  t.strictSame(passwordPolicy(64), { minLength: 64 })
  t.throws(() => passwordPolicy(7), RangeError)
  t.throws(() => passwordPolicy(65), RangeError)
  t.throws(() => passwordPolicy(12.5), RangeError)
})

t.test('a hand-built policy below 8 is clamped to 8', async t => {
  t.strictSame(checkPassword('k9#mQ2z', { minLength: 4 }, {}), { ok: false, reason: 'too_short' })
  t.match(checkPassword('k9#mQ2zT', { minLength: 4 }, {}), { ok: true })
})
