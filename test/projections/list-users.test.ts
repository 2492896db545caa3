import t from 'tap'
import { InvalidCursorError } from '../../src/projections/cursor.js'
import { listUsers, prefixUpperBound, type UserFilter } from '../../src/projections/list-users.js'
import { compareText } from '../../src/projections/user-filters.js'
import { searchKey } from '../../src/projections/projection.js'
import { getUserById, type UserView } from '../../src/projections/user-queries.js'
import { at, harness } from './fixtures/harness.js'

const NOW = at(10_000)

/** A small deterministic generator, so a failure is reproducible. */
function rng (seed: number): () => number {
  let s = seed >>> 0
  return () => {
    s = (s * 1664525 + 1013904223) >>> 0
    return s / 2 ** 32
  }
}

const FIRST = ['John', 'joanna', 'Ángela', 'ÑUÑO', 'Émile', 'Ｊｏｓｅ', 'Zoë', 'Ada', 'alan', 'Grace', '𠀀ming']
const LAST = ['Doe', 'DOE-Smith', 'Núñez', 'Álvarez', 'Lovelace', 'turing', 'Hopper', 'Jobs', 'ｱｲ']
const USERNAMES = [
  'jdoe', 'joanna', 'alvaro', 'álvaro', 'ñandu', 'zoe', 'ada', 'alan', 'grace', 'jo', 'job', 'jobs', 'john.smith',
  'a', 'aa', 'aaa', 'ab', 'b', 'zz-top', 'x_y', 'user@corp', 'ze', '𠀀li', '\uE000pua', 'émile', 'eve', 'mallory',
  'trent', 'peggy', 'victor', 'walter', 'olivia', 'oscar', 'nina', 'j', 'jj', 'jjj', 'doe', 'smith', 'zzz'
]
const ROLES = ['dispatcher', 'auditor', 'identity-admin']
const COMPANIES = ['acme', 'globex', 'initech']
const PROVIDERS = ['carrier-x', 'carrier-y']
const DOMAINS = ['Example.com', 'corp.io', 'jobs.net']

interface Seeded { view: UserView, keys: string[] }

t.test('listUsers against a reference model', async t => {
  const h = await harness(t)
  const w = h.writer
  const random = rng(42)
  const pick = <T>(xs: readonly T[]): T => xs[Math.floor(random() * xs.length)] as T
  const subset = <T>(xs: readonly T[]): T[] => xs.filter(() => random() < 0.4)

  const ids: string[] = []
  for (const username of USERNAMES) {
    const id = await w.register({
      username,
      // Half the emails do not start with the username, so each search column counts on its own.
      email: `${random() < 0.5 ? pick(['Info', 'desk', 'EXEC', 'mail']) + String(ids.length) : random() < 0.5 ? username.toUpperCase() : username}@${pick(DOMAINS)}`,
      firstName: pick(FIRST),
      lastName: pick(LAST),
      identificationType: pick(['CC', 'CE', 'NIT']),
      identificationNumber: pick(['123', '456', '789', username]),
      roles: subset(ROLES),
      companies: subset(COMPANIES),
      providers: subset(PROVIDERS).map(providerId => ({ providerId, externalUserId: random() < 0.5 ? null : `ext-${username}` }))
    })
    ids.push(id)
    const roll = random()
    if (roll < 0.15) await w.user(id, 'UserDeactivated', { reason: null })
    else if (roll < 0.3) await w.auth(id, 'UserLockedOut', { failures: 5, lockouts: 1, lockedUntil: at(20_000) })
    else if (roll < 0.4) await w.auth(id, 'UserLockedOut', { failures: 5, lockouts: 1, lockedUntil: at(5_000) })
  }
  await h.sync()
  const db = h.readModel.db

  const seeded: Seeded[] = ids.map(id => {
    const view = getUserById(db, id, NOW) as UserView
    return { view, keys: [view.username, view.email, view.firstName, view.lastName].map(searchKey) }
  })
  t.ok(seeded.some(s => s.view.status === 'locked') && seeded.some(s => s.view.status === 'inactive'), 'every status is present')

  // SQLite orders text by its UTF-8 bytes (code points), not by UTF-16 units as JS `<` does.
  const byUsername = (a: Seeded, b: Seeded): number => Buffer.compare(Buffer.from(a.view.username), Buffer.from(b.view.username))
  const reference = (f: UserFilter): UserView[] => seeded.filter(({ view: v, keys }) =>
    (f.username === undefined || v.username === searchKey(f.username)) &&
    (f.email === undefined || keys[1] === searchKey(f.email)) &&
    (f.q === undefined || keys.some(k => k.startsWith(searchKey(f.q as string)))) &&
    (f.status === undefined || v.status === f.status) &&
    (f.role === undefined || v.roles.includes(f.role)) &&
    (f.companyId === undefined || v.companies.includes(f.companyId)) &&
    (f.providerId === undefined || v.providers.some(p => p.providerId === f.providerId)) &&
    (f.identificationType === undefined || v.identificationType === f.identificationType) &&
    (f.identificationNumber === undefined || v.identificationNumber === f.identificationNumber)
  ).sort(byUsername).map(s => s.view)

  const queries = ['', 'i', 'in', 'mail', 'MAIL1', 'de', 'j', 'J', 'jo', 'JOB', 'a', 'á', 'ÁL', 'ál', 'alv', 'doe', 'do', 'ñ', 'Ñu', 'ex', 'EXAMPLE', 'corp', 'Ｊ',
    'jose', 'ア', '𠀀', '\uE000', 'zz', 'nothing-matches', 'z', 'u', 'user@', 'smith', 'e']
  const filters: UserFilter[] = [
    {},
    { username: 'jdoe' }, { username: 'JDOE' }, { username: 'nobody' },
    { email: sample('email') }, { email: sample('email').toUpperCase() },
    { status: 'active' }, { status: 'inactive' }, { status: 'locked' },
    ...ROLES.map(role => ({ role })), ...COMPANIES.map(companyId => ({ companyId })), ...PROVIDERS.map(providerId => ({ providerId })),
    { identificationType: 'CC' }, { identificationNumber: '123' }, { identificationType: 'NIT', identificationNumber: '123' },
    { role: 'dispatcher', companyId: 'acme' }, { role: 'auditor', status: 'active' }, { companyId: 'globex', providerId: 'carrier-x', status: 'active' },
    { identificationType: 'CE', status: 'locked' }, { providerId: 'carrier-y', identificationNumber: '456' },
    { username: 'jdoe', status: 'active' }, { email: sample('email'), role: 'auditor' },
    ...queries.map(q => ({ q })),
    { q: 'j', status: 'active' }, { q: 'a', role: 'dispatcher' }, { q: 'j', companyId: 'acme', status: 'inactive' },
    { q: 'ex', providerId: 'carrier-x' }, { q: 'do', identificationType: 'CC' }, { q: 'j', status: 'locked' },
    { q: 'j', username: 'jdoe' }, { q: 'x', username: 'jdoe' }, { q: 'j', email: sample('email') }, { q: 'a', identificationNumber: '123' },
    { role: 'nope' }, { q: 'j', role: 'nope' }
  ]
  function sample (field: 'email'): string { return (seeded[0] as Seeded).view[field] }

  // The defaults, then tunings small enough to send these few users through every step of the q search.
  const tunings = [
    {},
    { smallDriver: 0, searchWindow: 1, maxDistinct: 0 },
    { smallDriver: 1, searchWindow: 2, maxDistinct: 1 },
    { smallDriver: 3, searchWindow: 5, maxDistinct: 2 },
    { smallDriver: 0, searchWindow: 3, maxDistinct: 1000 },
    { smallDriver: 1000, searchWindow: 1000, maxDistinct: 1000 },
    // Step 2's email matches found by walking users in username order rather than the email range.
    { smallDriver: 0, searchWindow: 1, maxDistinct: 0, emailWalk: 1000 },
    { smallDriver: 0, searchWindow: 2, maxDistinct: 1, emailWalk: 3 },
    { smallDriver: 0, searchWindow: 1, maxDistinct: 0, emailWalk: 6 },
    { smallDriver: 0, searchWindow: 1, maxDistinct: 1000, emailWalk: 12 },
    { smallDriver: 0, searchWindow: 1, maxDistinct: 1000, emailWalk: 0 }
  ]
  for (const filter of filters) {
    const expected = reference(filter).map(v => v.username)
    for (const limit of [1, 3, 50]) {
      for (const tuning of tunings) {
        const got: string[] = []
        let cursor: string | undefined
        let pages = 0
        for (;;) {
          const page = listUsers(db, filter, cursor === undefined ? { limit } : { limit, cursor }, NOW, tuning)
          pages++
          if (page.items.length > limit) t.fail('page over the limit')
          got.push(...page.items.map(v => v.username))
          if (page.nextCursor === null) break
          if (page.items.length !== limit) t.fail('a page before the last one is full')
          cursor = page.nextCursor
          if (pages > 100) throw new Error('runaway pagination')
        }
        if (JSON.stringify(got) !== JSON.stringify(expected)) {
          t.strictSame(got, expected, `${JSON.stringify(filter)} limit ${limit} tuning ${JSON.stringify(tuning)}`)
          return
        }
      }
    }
    t.pass(`${JSON.stringify(filter)}: ${expected.length} users on every page size and search tuning`)
  }
  t.ok(filters.filter(f => reference(f).length > 3).length > 20, 'most filters match several users')

  t.test('items are full user views', async t => {
    const page = listUsers(db, { username: 'jdoe' }, { limit: 10 }, NOW)
    t.strictSame(page.items, [getUserById(db, page.items[0]?.id as string, NOW)])
    t.equal(page.nextCursor, null)
  })

  t.test('cursors', async t => {
    const first = listUsers(db, { q: 'j' }, { limit: 2 }, NOW)
    const cursor = first.nextCursor as string
    t.type(cursor, 'string')
    t.doesNotThrow(() => listUsers(db, { q: 'J' }, { limit: 5, cursor }, NOW), 'the same query (after normalization), any limit')
    t.doesNotThrow(() => listUsers(db, { q: 'j' }, { limit: 2, cursor }, at(0)), 'not bound to now')
    const rejects = (c: string, filter: UserFilter, why: string): void => {
      t.throws(() => listUsers(db, filter, { limit: 2, cursor: c }, NOW), InvalidCursorError, why)
    }
    rejects(cursor, { q: 'jo' }, 'a cursor of another query')
    rejects(cursor, { q: 'j', status: 'active' }, 'a cursor of a narrower query')
    rejects(cursor, {}, 'a cursor of a wider query')
    for (let i = 0; i < cursor.length; i++) {
      const c = cursor[i] === 'A' ? 'B' : 'A'
      rejects(cursor.slice(0, i) + c + cursor.slice(i + 1), { q: 'j' }, `character ${i} changed`)
    }
    const payload = JSON.parse(Buffer.from(cursor, 'base64url').toString()) as { a: string, h: string }
    rejects(Buffer.from(JSON.stringify({ ...payload, a: 'zzz' })).toString('base64url'), { q: 'j' }, 'the position edited')
    rejects(Buffer.from(JSON.stringify({ a: payload.a })).toString('base64url'), { q: 'j' }, 'no digest')
    rejects(Buffer.from('[1,2]').toString('base64url'), { q: 'j' }, 'not an object')
    rejects(Buffer.from('null').toString('base64url'), { q: 'j' }, 'null')
    rejects('', { q: 'j' }, 'empty')
    rejects('not a cursor!', { q: 'j' }, 'not base64url')
    rejects(cursor + '=', { q: 'j' }, 'padding')
    rejects(cursor + 'A', { q: 'j' }, 'trailing garbage')
    rejects('x'.repeat(5000), { q: 'j' }, 'too long')
    t.equal(new InvalidCursorError().code, 'INVALID_CURSOR')
  })

  t.test('bad arguments', async t => {
    for (const limit of [0, -1, 1.5, 1001, Number.NaN]) t.throws(() => listUsers(db, {}, { limit }, NOW), RangeError, `limit ${limit}`)
    t.throws(() => listUsers(db, {}, { limit: 1 }, 'yesterday'), RangeError)
    t.throws(() => listUsers(db, { status: 'gone' as 'active' }, { limit: 1 }, NOW), RangeError)
  })
})

t.test('prefixUpperBound', async t => {
  t.equal(prefixUpperBound('a'), 'b')
  t.equal(prefixUpperBound('jo'), 'jp')
  t.equal(prefixUpperBound('a\u{10FFFF}'), 'b')
  t.equal(prefixUpperBound('\u{10FFFF}'), null)
  t.equal(prefixUpperBound(''), null)
  t.equal(prefixUpperBound('x\uD7FF'), 'x\uE000', 'skips the surrogate block')
  t.equal(prefixUpperBound('x\uFFFF'), 'x\u{10000}')
})

t.test('compareText orders like SQLite (code points), not like UTF-16 units', async t => {
  const words = ['b', 'a', '\uE000', '\u{10000}', '\uFFFF', 'ab', '', '\uD7FF', 'é', '\u{10FFFF}', 'a\u{10000}', 'a\uFFFD']
  const bytes = [...words].sort((x, y) => Buffer.compare(Buffer.from(x), Buffer.from(y)))
  t.strictSame([...words].sort(compareText), bytes)
  t.notSame([...words].sort(), bytes, 'plain JS order differs')
  t.equal(compareText('x', 'x'), 0)
})
