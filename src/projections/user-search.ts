/**
 * The `q` search: a case-insensitive prefix match on username, email, first name and last name,
 * in username order, fast at a million users. An OR of four ranges sorted by username would sort
 * every match ("m" matches a quarter of everyone), so a page is found in up to three steps, each
 * bounded:
 *
 *  0. a narrow filter beside q (a rare role, say): walk its few rows in username order and test
 *     the prefixes on each;
 *  1. walk the covering `users_search` index in username order from the cursor over a bounded
 *     window, testing the prefixes on the index entries themselves (table rows are read for
 *     matches only); limit+1 matches inside the window are exactly the page, since every row
 *     before the last of them was looked at;
 *  2. otherwise matches are sparse near the cursor, so gather each column's first limit+1 matches
 *     in username order and merge them: the username range is in username order already; the
 *     name indexes are (name, username), so each distinct name in the range is a run in username
 *     order (names repeat a lot, so a prefix covers few distinct ones); emails are nearly unique,
 *     so their range cannot be read in username order: once the other columns have bounded the
 *     page, the users between the cursor and that bound are walked in username order on the
 *     covering `users_search` index, testing the email there, when they are fewer than the email
 *     range's entries (common prefixes: "mar" is 80,000 emails at a million users, where emails
 *     begin with the username); otherwise the range is read, index-only, keeping the best limit+1.
 */
import { prepareCached } from './statements.js'
import {
  andAll, chooseSource, compareText, filterTerms, join, prefixRange, prefixUpperBound, qPredicate,
  type Sql, type UserFilter
} from './user-filters.js'
import { USER_VIEW_COLUMNS, type UserRow } from './user-queries.js'
import type { Db } from './schema.js'

export interface SearchTuning {
  /** Rows of a filter's index below which step 0 walks them all (default 5,000). */
  readonly smallDriver?: number
  /**
   * Index entries step 1 walks (default 1,000). Walking and testing an entry costs ≈ 0.3 µs, and
   * when the window holds fewer than limit+1 matches (a surname, a narrow prefix, no match at
   * all) the walk is wasted before step 2. Measured at a million users (mean CPU per first page
   * over ten prefixes, two rounds): 4,000 → 2,559 / 2,287 µs, 1,000 → 1,775 / 1,714, 500 →
   * 1,726 / 1,670, 200 → 1,911 / 1,500 with the widest prefixes (`m`, `ju`) at their worst.
   */
  readonly searchWindow?: number
  /** Distinct names per column step 2 visits one by one before sorting the rest of the range (default 64). */
  readonly maxDistinct?: number
  /** Most users step 2 walks in username order to find email matches instead of reading the email range (default 32,000). */
  readonly emailWalk?: number
}

export const SEARCH_DEFAULTS = { smallDriver: 5000, searchWindow: 1000, maxDistinct: 64, emailWalk: 32_000 } as const

const rows = (db: Db, query: Sql): UserRow[] => prepareCached(db, query.sql).all(...query.params) as UserRow[]

function walkSource (db: Db, n: UserFilter, now: string, after: string, fetch: number): UserRow[] {
  const source = chooseSource(n, now)
  const q = qPredicate('+u.', n.q as string, prefixUpperBound(n.q as string))
  const where = join([...source.where, { sql: `${source.order} > ?`, params: [after] }, ...filterTerms(n, now, source.consumed), q])
  return rows(db, {
    sql: `SELECT ${USER_VIEW_COLUMNS} FROM ${source.from} WHERE ${where.sql} ORDER BY ${source.order} LIMIT ?`,
    params: [...where.params, fetch]
  })
}

/** The best `fetch` usernames seen so far, in SQLite order. */
class Candidates {
  readonly names: string[] = []
  constructor (readonly fetch: number) {}
  /** Usernames at or after this one cannot make the page. */
  get bound (): string | null { return this.names.length >= this.fetch ? this.names[this.fetch - 1] as string : null }
  /** `more` comes sorted (ORDER BY username): a merge of two sorted lists. */
  add (more: readonly string[]): void {
    if (more.length === 0) return
    const merged: string[] = []
    let i = 0
    let j = 0
    while (merged.length < this.fetch && (i < this.names.length || j < more.length)) {
      const a = this.names[i]
      const b = more[j]
      const order = a === undefined ? 1 : b === undefined ? -1 : compareText(a, b)
      if (order <= 0) i++
      if (order >= 0) j++
      merged.push((order <= 0 ? a : b) as string)
    }
    this.names.splice(0, this.names.length, ...merged)
  }
}

export function searchUsers (db: Db, n: UserFilter, now: string, after: string, fetch: number, tuning: SearchTuning = {}): UserRow[] {
  const { smallDriver, searchWindow, maxDistinct, emailWalk } = { ...SEARCH_DEFAULTS, ...tuning }
  const prefix = n.q as string
  const upper = prefixUpperBound(prefix)
  const terms = filterTerms(n, now)
  const extra = andAll(terms)

  // Step 0.
  const source = chooseSource(n, now)
  if (source.where.length > 0) {
    const probe = join(source.where)
    const { size } = prepareCached(db, `SELECT count(*) AS size FROM (SELECT 1 FROM ${source.probe} WHERE ${probe.sql} LIMIT ?)`)
      .get(...probe.params, smallDriver) as { size: number }
    if (size < smallDriver) return walkSource(db, n, now, after, fetch)
  }

  // Step 1.
  const q1 = qPredicate('', prefix, upper)
  const windowed = rows(db, {
    sql: `SELECT ${USER_VIEW_COLUMNS} FROM (
            SELECT rid FROM (
              SELECT rowid AS rid, username, email_lower, first_name_lower, last_name_lower
              FROM users INDEXED BY users_search WHERE username > ? ORDER BY username LIMIT ?
            ) WHERE ${q1.sql}
          ) m CROSS JOIN users u ON u.rowid = m.rid WHERE 1${extra.sql} LIMIT ?`,
    params: [after, searchWindow, ...q1.params, ...extra.params, fetch]
  })
  if (windowed.length >= fetch) return windowed
  const { walked } = prepareCached(db,
    'SELECT count(*) AS walked FROM (SELECT 1 FROM users INDEXED BY users_search WHERE username > ? ORDER BY username LIMIT ?)'
  ).get(after, searchWindow) as { walked: number }
  if (walked < searchWindow) return windowed // the window reached the last user

  // Step 2.
  const best = new Candidates(fetch)
  /** The first matches of one index range in username order (sorted by SQLite when the index is not). */
  const collect = (index: string, range: Sql): void => {
    const bound = best.bound
    const where = join([range, { sql: 'u.username > ?', params: [after] }, ...(bound === null ? [] : [{ sql: 'u.username < ?', params: [bound] }])])
    const found = prepareCached(db,
      `SELECT u.username FROM users u INDEXED BY ${index} WHERE ${where.sql}${extra.sql} ORDER BY u.username LIMIT ?`
    ).pluck().all(...where.params, ...extra.params, fetch) as string[]
    best.add(found)
  }
  collect('users_search', prefixRange('u.username', prefix, upper))
  for (const [column, index] of [['first_name_lower', 'users_first_name'], ['last_name_lower', 'users_last_name']] as const) {
    const next = (from: Sql): string | undefined => prepareCached(db,
      `SELECT u.${column} FROM users u INDEXED BY ${index} WHERE ${from.sql} ORDER BY u.${column} LIMIT 1`
    ).pluck().get(...from.params) as string | undefined
    const below = upper === null ? [] : [{ sql: `u.${column} < ?`, params: [upper] }]
    let value = next(join([{ sql: `u.${column} >= ?`, params: [prefix] }, ...below]))
    for (let visited = 0; value !== undefined; visited++) {
      if (visited === maxDistinct) {
        collect(index, join([{ sql: `u.${column} >= ?`, params: [value] }, ...below]))
        break
      }
      collect(index, { sql: `u.${column} = ?`, params: [value] })
      value = next(join([{ sql: `u.${column} > ?`, params: [value] }, ...below]))
    }
  }
  const emails = prefixRange('u.email_lower', prefix, upper)
  const bound = best.bound
  if (bound !== null && emailWalkIsShorter(db, emails, after, bound, emailWalk)) {
    const where = join([{ sql: 'u.username > ? AND u.username < ?', params: [after, bound] }, emails])
    best.add(prepareCached(db,
      `SELECT u.username FROM users u INDEXED BY users_search WHERE ${where.sql}${extra.sql} ORDER BY u.username LIMIT ?`
    ).pluck().all(...where.params, ...extra.params, fetch) as string[])
  } else {
    collect('users_email', emails)
  }
  if (best.names.length === 0) return []
  return rows(db, {
    sql: `SELECT ${USER_VIEW_COLUMNS} FROM users u INDEXED BY users_search
          WHERE u.username IN (SELECT value FROM json_each(?))${extra.sql} ORDER BY u.username LIMIT ?`,
    params: [JSON.stringify(best.names), ...extra.params, fetch]
  })
}

/**
 * Whether walking the users between `after` and `bound` (username order, at most `limit`) looks at
 * fewer index entries than the email range holds. Both are counted index-only, with a cap that
 * grows fourfold until one of them falls short of it: the probe costs a small multiple of the
 * cheaper read, never a count of the larger one (a narrow prefix's range is a few entries, while
 * the walk to its bound may cross most of the table).
 */
function emailWalkIsShorter (db: Db, emails: Sql, after: string, bound: string, limit: number): boolean {
  const range = join([emails])
  const rangeCount = prepareCached(db, `SELECT count(*) AS n FROM (SELECT 1 FROM users u INDEXED BY users_email WHERE ${range.sql} LIMIT ?)`)
  const walkCount = prepareCached(db,
    'SELECT count(*) AS n FROM (SELECT 1 FROM users INDEXED BY users_search WHERE username > ? AND username < ? LIMIT ?)')
  for (let cap = 256; ; cap *= 4) {
    const capped = Math.min(cap, limit)
    if ((rangeCount.get(...range.params, capped) as { n: number }).n < capped) return false
    if ((walkCount.get(after, bound, capped) as { n: number }).n < capped) return true
    if (capped === limit) return false
  }
}
