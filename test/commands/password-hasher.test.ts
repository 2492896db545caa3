import t from 'tap'
import * as ScryptModule from 'scrypt-kdf'
import { createPasswordHasher } from '../../src/commands/password-hasher.js'

// scrypt-kdf 4's typings declare named exports, but the module only has a default export.
const Scrypt = (ScryptModule as unknown as { default: typeof ScryptModule }).default
const COST = { logN: 10, r: 8, p: 1 }
const PASSWORD = 'correct horse battery staple'

t.test('a hash made by scrypt-kdf (stored by earlier versions) verifies, and a wrong password does not', async t => {
  const hasher = await createPasswordHasher(COST)
  const stored = Buffer.from(await Scrypt.kdf(PASSWORD, COST)).toString('base64')
  t.equal(await hasher.verify(stored, PASSWORD), true)
  t.equal(await hasher.verify(stored, `${PASSWORD}!`), false)
  t.equal(hasher.needsRehash(stored), false)
})

t.test('our hashes are scrypt-kdf hashes: the package verifies them and reads their parameters', async t => {
  const hasher = await createPasswordHasher({ logN: 11, r: 4, p: 2 })
  const stored = await hasher.hash(PASSWORD)
  const bytes = Buffer.from(stored, 'base64')
  t.equal(bytes.length, 96)
  t.equal(await Scrypt.verify(bytes, PASSWORD), true)
  t.equal(await Scrypt.verify(bytes, 'another password entirely'), false)
  t.same(Scrypt.viewParams(bytes), { logN: 11, r: 4, p: 2 })
  t.equal(await hasher.verify(stored, PASSWORD), true)
})

t.test('passwords are compared after NFKC, as before', async t => {
  const hasher = await createPasswordHasher(COST)
  const composed = 'caf\u00e9 au lait, sans sucre'
  const decomposed = 'cafe\u0301 au lait, sans sucre'
  t.equal(await hasher.verify(await hasher.hash(composed), decomposed), true)
  const legacy = Buffer.from(await Scrypt.kdf(composed.normalize('NFKC'), COST)).toString('base64')
  t.equal(await hasher.verify(legacy, decomposed), true)
})

t.test('a weaker stored cost needs a rehash; an equal or stronger one does not', async t => {
  const hasher = await createPasswordHasher({ logN: 11, r: 8, p: 1 })
  const kdf = async (cost: typeof COST) => Buffer.from(await Scrypt.kdf(PASSWORD, cost)).toString('base64')
  t.equal(hasher.needsRehash(await kdf({ logN: 10, r: 8, p: 1 })), true)
  t.equal(hasher.needsRehash(await kdf({ logN: 11, r: 4, p: 1 })), true)
  t.equal(hasher.needsRehash(await kdf({ logN: 12, r: 8, p: 1 })), false)
  t.equal(hasher.needsRehash(await hasher.hash(PASSWORD)), false)
})

t.test('malformed or tampered hashes never authenticate and always need a rehash', async t => {
  const hasher = await createPasswordHasher(COST)
  const good = Buffer.from(await hasher.hash(PASSWORD), 'base64')
  const tamper = (index: number): string => {
    const copy = Buffer.from(good)
    copy[index] = (copy[index] as number) ^ 1
    return copy.toString('base64')
  }
  const bad = ['', 'not base64 at all', good.subarray(0, 95).toString('base64'), tamper(0), tamper(7), tamper(20), tamper(50), tamper(90)]
  for (const stored of bad) {
    t.equal(await hasher.verify(stored, PASSWORD), false, `refused: ${stored.slice(0, 12)}…`)
  }
  for (const stored of bad.slice(0, 7)) t.equal(hasher.needsRehash(stored), true)
  // A header asking for more than the configuration allows (1 GiB) is not one of ours.
  const huge = Buffer.from(good)
  huge.writeUInt8(30, 7)
  t.equal(await hasher.verify(huge.toString('base64'), PASSWORD), false)
})

t.test('at most `concurrency` KDF computations run at once; the rest wait their turn in order', async t => {
  const hasher = await createPasswordHasher(COST, { concurrency: 1 })
  const stored = await hasher.hash(PASSWORD)
  const order: number[] = []
  await Promise.all([0, 1, 2, 3].map(async i => {
    t.equal(await hasher.verify(stored, i % 2 === 0 ? PASSWORD : 'wrong password'), i % 2 === 0)
    order.push(i)
  }))
  t.same(order, [0, 1, 2, 3])
  await hasher.burn(PASSWORD) // the decoy check takes the same path
})
