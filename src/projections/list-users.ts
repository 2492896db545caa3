/**
 * `GET /v1/users`: filters combined with AND, keyset pagination in username order, the `q`
 * prefix search (user-search.ts) when the other filters leave many rows.
 */
import { checkLimit, decodeCursor, encodeCursor } from './cursor.js'
import { prepareCached } from './statements.js'
import { chooseSource, filterTerms, join, normalizeFilter, qPredicate, prefixUpperBound, queryKeyOf, type UserFilter } from './user-filters.js'
import { searchUsers, type SearchTuning } from './user-search.js'
import { instant, toUserView, USER_VIEW_COLUMNS, type UserRow, type UserView } from './user-queries.js'
import type { Db } from './schema.js'

export type { UserFilter } from './user-filters.js'
export { prefixUpperBound } from './user-filters.js'

export interface UserPage { items: UserView[], nextCursor: string | null }

/** Tuning of the `q` search; tests shrink it to reach every step with little data. */
export type ListUsersOptions = SearchTuning

/** The driving index in order, every other filter as a term. */
function direct (db: Db, n: UserFilter, now: string, after: string, fetch: number): UserRow[] {
  const source = chooseSource(n, now)
  const parts = [...source.where, { sql: `${source.order} > ?`, params: [after] }, ...filterTerms(n, now, source.consumed)]
  if (n.q !== undefined) parts.push(qPredicate('+u.', n.q, prefixUpperBound(n.q)))
  const where = join(parts)
  return prepareCached(db, `SELECT ${USER_VIEW_COLUMNS} FROM ${source.from} WHERE ${where.sql} ORDER BY ${source.order} LIMIT ?`)
    .all(...where.params, fetch) as UserRow[]
}

/**
 * One page of users in username order. `now` decides who is 'locked'. Throws InvalidCursorError
 * for a cursor that this query did not produce, RangeError for a bad limit, status or instant.
 */
export function listUsers (
  db: Db, filter: UserFilter, page: { limit: number, cursor?: string }, now: string, options: ListUsersOptions = {}
): UserPage {
  checkLimit(page.limit)
  const at = instant(now)
  const n = normalizeFilter(filter)
  const queryKey = queryKeyOf(n)
  const after = page.cursor === undefined ? '' : decodeCursor(queryKey, page.cursor)
  const fetch = page.limit + 1
  const rows = n.q === undefined || chooseSource(n, at).selective
    ? direct(db, n, at, after, fetch)
    : searchUsers(db, n, at, after, fetch, options)
  const items = rows.slice(0, page.limit).map(r => toUserView(r, at))
  const last = items.at(-1)
  return { items, nextCursor: rows.length > page.limit && last !== undefined ? encodeCursor(queryKey, last.username) : null }
}
