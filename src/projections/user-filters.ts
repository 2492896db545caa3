/**
 * The pieces `GET /v1/users` is planned from: normalized filters, each filter as an SQL term, the
 * prefix ranges of `q`, and the choice of the index that drives a query.
 *
 * Each query is driven by one index that yields rows already in username order (or by a selective
 * one that yields a handful of rows), chosen by hand with INDEXED BY so that the plan does not
 * depend on statistics; the other filters are written so that SQLite cannot pick their indexes
 * instead (`+column`).
 */
import { searchKey } from './projection.js'
import type { UserStatus } from './user-queries.js'

export interface UserFilter {
  username?: string
  email?: string
  q?: string
  status?: UserStatus
  role?: string
  companyId?: string
  providerId?: string
  identificationType?: string
  identificationNumber?: string
  /**
   * Only users linked to one of these companies: the scope of a company-scoped caller
   * (src/http/auth/scope.ts), never a query parameter. Empty: nobody.
   */
  inCompanies?: readonly string[]
}

export interface Sql { sql: string, params: unknown[] }

export const FILTER_KEYS = ['username', 'email', 'q', 'status', 'role', 'companyId', 'providerId', 'identificationType', 'identificationNumber', 'inCompanies'] as const
export type FilterKey = (typeof FILTER_KEYS)[number]

const LONE_SURROGATE = /[\uD800-\uDBFF](?![\uDC00-\uDFFF])|(?<![\uD800-\uDBFF])[\uDC00-\uDFFF]/g

/** Search keys folded like the stored ones; an empty `q` matches everyone and is dropped. */
export function normalizeFilter (filter: UserFilter): UserFilter {
  const n: UserFilter = {}
  for (const key of FILTER_KEYS) if (filter[key] !== undefined) (n as Record<string, unknown>)[key] = filter[key]
  if (n.username !== undefined) n.username = searchKey(n.username)
  if (n.email !== undefined) n.email = searchKey(n.email)
  if (n.q !== undefined) n.q = searchKey(n.q.replace(LONE_SURROGATE, '\uFFFD'))
  if (n.q === '') delete n.q
  if (n.inCompanies !== undefined) {
    n.inCompanies = [...new Set(n.inCompanies)].sort()
    // One company: the company index drives the query, as for ?companyId= (same rows).
    if (n.inCompanies.length === 1 && n.companyId === undefined) {
      n.companyId = n.inCompanies[0]
      delete n.inCompanies
    }
  }
  if (n.status !== undefined && !['active', 'inactive', 'locked'].includes(n.status)) throw new RangeError(`unknown status ${String(n.status)}`)
  return n
}

/** What a cursor is bound to. */
export const queryKeyOf = (n: UserFilter): string => JSON.stringify(['users', ...FILTER_KEYS.map(k => n[k] ?? null)])

/**
 * The smallest string greater than every string that starts with `prefix` (in SQLite's BINARY
 * order, which for UTF-8 is code point order), or null when there is none.
 */
export function prefixUpperBound (prefix: string): string | null {
  const cps = [...prefix].map(c => c.codePointAt(0) as number)
  while (cps.length > 0) {
    let last = (cps.pop() as number) + 1
    if (last === 0xD800) last = 0xE000
    if (last <= 0x10FFFF) return String.fromCodePoint(...cps, last)
  }
  return null
}

/**
 * SQLite's BINARY order: UTF-8 bytes, that is code points. JavaScript's `<` compares UTF-16 units,
 * which disagrees where a surrogate (D800–DFFF) meets a unit from E000–FFFF: shift those two
 * blocks past each other before comparing.
 */
export function compareText (a: string, b: string): number {
  const n = Math.min(a.length, b.length)
  for (let i = 0; i < n; i++) {
    let x = a.charCodeAt(i)
    let y = b.charCodeAt(i)
    if (x === y) continue
    if (x >= 0xD800 && y >= 0xD800) {
      x += x >= 0xE000 ? -0x800 : 0x2000
      y += y >= 0xE000 ? -0x800 : 0x2000
    }
    return x - y
  }
  return a.length - b.length
}

export const SEARCH_COLUMNS = ['username', 'email_lower', 'first_name_lower', 'last_name_lower'] as const

/** `column` starts with `prefix`, as an index range. */
export function prefixRange (column: string, prefix: string, upper: string | null): Sql {
  return upper === null
    ? { sql: `${column} >= ?`, params: [prefix] }
    : { sql: `${column} >= ? AND ${column} < ?`, params: [prefix, upper] }
}

/** The four prefix ranges OR-ed, on columns `${qualifier}column`. */
export function qPredicate (qualifier: string, prefix: string, upper: string | null): Sql {
  const parts = SEARCH_COLUMNS.map(c => prefixRange(`${qualifier}${c}`, prefix, upper))
  return { sql: `(${parts.map(p => `(${p.sql})`).join(' OR ')})`, params: parts.flatMap(p => p.params) }
}

const relations = {
  role: { table: 'user_roles', column: 'role_id', index: 'user_roles_by_role' },
  companyId: { table: 'user_companies', column: 'company_id', index: 'user_companies_by_company' },
  providerId: { table: 'user_providers', column: 'provider_id', index: 'user_providers_by_provider' }
} as const

/** A filter as a condition on `u` that no index is used for (`+` makes a term unindexable). */
function term (key: Exclude<FilterKey, 'q'>, n: UserFilter, now: string): Sql {
  switch (key) {
    case 'username': return { sql: '+u.username = ?', params: [n.username] }
    case 'email': return { sql: '+u.email_lower = ?', params: [n.email] }
    case 'identificationType': return { sql: '+u.identification_type = ?', params: [n.identificationType] }
    case 'identificationNumber': return { sql: '+u.identification_number = ?', params: [n.identificationNumber] }
    case 'status':
      if (n.status === 'inactive') return { sql: "+u.status = 'inactive'", params: [] }
      if (n.status === 'locked') return { sql: "+u.status = 'active' AND +u.locked_until > ?", params: [now] }
      return { sql: "+u.status = 'active' AND (u.locked_until IS NULL OR +u.locked_until <= ?)", params: [now] }
    case 'inCompanies':
      return {
        sql: 'EXISTS (SELECT 1 FROM user_companies x WHERE x.user_id = u.id AND x.company_id IN (SELECT value FROM json_each(?)))',
        params: [JSON.stringify(n.inCompanies)]
      }
    case 'role':
    case 'companyId':
    case 'providerId': {
      const r = relations[key]
      return { sql: `EXISTS (SELECT 1 FROM ${r.table} x WHERE x.user_id = u.id AND x.${r.column} = ?)`, params: [n[key]] }
    }
  }
}

/** Every filter but `q` and those in `consumed`, as plain terms on `u`. */
export function filterTerms (n: UserFilter, now: string, consumed: readonly FilterKey[] = []): Sql[] {
  return FILTER_KEYS.filter((k): k is Exclude<FilterKey, 'q'> => k !== 'q' && n[k] !== undefined && !consumed.includes(k))
    .map(k => term(k, n, now))
}

/** Where the rows come from: an index in username order, or a selective one. */
export interface Source {
  /** FROM clause; the users table is always `u`. */
  from: string
  /** The same index without the join to users, to count its rows cheaply. */
  probe: string
  /** The username column the rows are ordered by. */
  order: string
  /** Terms the index serves. */
  where: Sql[]
  /** Yields a handful of rows at most. */
  selective: boolean
  /** Filters fully handled by `where`. */
  consumed: FilterKey[]
}

export function chooseSource (n: UserFilter, now: string): Source {
  const users = (index: string, where: Sql[], selective: boolean, consumed: FilterKey[]): Source => {
    const from = `users u INDEXED BY ${index}`
    return { from, probe: from, order: 'u.username', where, selective, consumed }
  }
  if (n.username !== undefined) return users('users_search', [{ sql: 'u.username = ?', params: [n.username] }], true, ['username'])
  if (n.email !== undefined) return users('users_email', [{ sql: 'u.email_lower = ?', params: [n.email] }], true, ['email'])
  if (n.identificationNumber !== undefined) {
    const where = [{ sql: 'u.identification_number = ?', params: [n.identificationNumber] }]
    if (n.identificationType !== undefined) where.push({ sql: 'u.identification_type = ?', params: [n.identificationType] })
    return users('users_identification', where, true, ['identificationNumber', 'identificationType'])
  }
  if (n.status === 'locked') {
    // The partial index holds only users with a lock, current or expired: few.
    return users('users_locked', [{ sql: "u.locked_until > ? AND +u.status = 'active'", params: [now] }], true, ['status'])
  }
  for (const key of ['providerId', 'companyId', 'role'] as const) {
    if (n[key] === undefined) continue
    const r = relations[key]
    return {
      from: `${r.table} d INDEXED BY ${r.index} CROSS JOIN users u ON u.id = d.user_id`,
      probe: `${r.table} d INDEXED BY ${r.index}`,
      order: 'd.username',
      where: [{ sql: `d.${r.column} = ?`, params: [n[key]] }],
      selective: false,
      consumed: [key]
    }
  }
  if (n.identificationType !== undefined) {
    return users('users_identification_type', [{ sql: 'u.identification_type = ?', params: [n.identificationType] }], false, ['identificationType'])
  }
  // 'active' also excludes current locks: that stays a term.
  if (n.status !== undefined) return users('users_status', [{ sql: 'u.status = ?', params: [n.status] }], false, n.status === 'inactive' ? ['status'] : [])
  return users('users_search', [], false, [])
}

export const join = (parts: readonly Sql[]): Sql => ({
  sql: parts.map(p => p.sql).join(' AND '),
  params: parts.flatMap(p => p.params)
})

/** ` AND …` for extra terms, or nothing. */
export const andAll = (parts: readonly Sql[]): Sql => parts.length === 0 ? { sql: '', params: [] } : { sql: ` AND ${join(parts).sql}`, params: join(parts).params }
