/**
 * The four catalogs (roles, companies, providers, identification types) through one generic
 * projection driven by a small description of each kind, and their queries.
 */
import type { RecordedEvent } from '../eventstore/port.js'
import { dataOf, occurredAt, sql, type Projection, type Statement } from './projection.js'
import { checkLimit, decodeCursor, encodeCursor } from './cursor.js'
import { prepareCached } from './statements.js'
import type { Db } from './schema.js'

export type CatalogKind = 'role' | 'company' | 'provider' | 'identificationType'
export const CATALOG_KINDS: readonly CatalogKind[] = ['role', 'company', 'provider', 'identificationType']

interface Field { readonly column: string, readonly key: string, readonly type: 'text' | 'nullable' | 'boolean', readonly mutable: boolean }

interface KindSpec {
  readonly table: string
  /** Event type prefix: `${prefix}Defined`, `…Updated`, `…Deactivated`, `…Activated`. */
  readonly eventPrefix: string
  readonly fields: readonly Field[]
}

const name: Field = { column: 'name', key: 'name', type: 'text', mutable: true }
const identification: Field[] = [
  { column: 'identification_type', key: 'identificationType', type: 'nullable', mutable: true },
  { column: 'identification_number', key: 'identificationNumber', type: 'nullable', mutable: true }
]

const KINDS: Record<CatalogKind, KindSpec> = {
  role: {
    table: 'roles',
    eventPrefix: 'Role',
    fields: [name,
      { column: 'description', key: 'description', type: 'text', mutable: true },
      { column: 'system', key: 'system', type: 'boolean', mutable: false }]
  },
  company: { table: 'companies', eventPrefix: 'Company', fields: [name, ...identification] },
  provider: { table: 'providers', eventPrefix: 'Provider', fields: [name, ...identification] },
  identificationType: { table: 'identification_types', eventPrefix: 'IdentificationType', fields: [name] }
}

const ACTIONS = ['Defined', 'Updated', 'Deactivated', 'Activated'] as const
type Action = (typeof ACTIONS)[number]

const byEventType = new Map<string, { spec: KindSpec, action: Action }>(
  CATALOG_KINDS.flatMap(kind => ACTIONS.map(action => [`${KINDS[kind].eventPrefix}${action}`, { spec: KINDS[kind], action }] as const))
)

function value (field: Field, data: Record<string, unknown>): unknown {
  const v = data[field.key]
  if (field.type === 'boolean') return v === true ? 1 : 0
  if (field.type === 'nullable') return v ?? null
  return v
}

function project (event: RecordedEvent): Statement[] {
  const entry = byEventType.get(event.type)
  if (entry === undefined) return []
  const { spec, action } = entry
  const data = dataOf<Record<string, unknown> & { id: string }>(event)
  const at = occurredAt(event)
  switch (action) {
    case 'Defined': {
      const columns = spec.fields.map(f => f.column)
      return [sql(
        `INSERT INTO ${spec.table} (id, ${columns.join(', ')}, status, created_at, updated_at, version)
         VALUES (?, ${columns.map(() => '?').join(', ')}, 'active', ?, ?, ?) ON CONFLICT (id) DO NOTHING`,
        data.id, ...spec.fields.map(f => value(f, data)), at, at, event.revision)]
    }
    case 'Updated': {
      const mutable = spec.fields.filter(f => f.mutable)
      return [sql(
        `UPDATE ${spec.table} SET ${mutable.map(f => `${f.column} = ?`).join(', ')}, updated_at = ?, version = ?
         WHERE id = ? AND version < ?`,
        ...mutable.map(f => value(f, data)), at, event.revision, data.id, event.revision)]
    }
    case 'Deactivated':
    case 'Activated':
      return [sql(`UPDATE ${spec.table} SET status = ?, updated_at = ?, version = ? WHERE id = ? AND version < ?`,
        action === 'Activated' ? 'active' : 'inactive', at, event.revision, data.id, event.revision)]
  }
}

export const catalogsProjection: Projection = {
  name: 'catalogs',
  handles: [...byEventType.keys()],
  project
}

// ── queries ─────────────────────────────────────────────────────────────────────────────────

export interface CatalogEntryBase {
  id: string
  name: string
  status: 'active' | 'inactive'
  createdAt: string
  updatedAt: string
  version: number
}
export interface RoleView extends CatalogEntryBase { description: string, system: boolean }
export interface CompanyView extends CatalogEntryBase { identificationType: string | null, identificationNumber: string | null }
export interface ProviderView extends CatalogEntryBase { identificationType: string | null, identificationNumber: string | null }
export type IdentificationTypeView = CatalogEntryBase
export interface CatalogViewByKind {
  role: RoleView
  company: CompanyView
  provider: ProviderView
  identificationType: IdentificationTypeView
}
export type CatalogView = CatalogViewByKind[CatalogKind]

type Row = Record<string, unknown>

function toView<K extends CatalogKind> (kind: K, row: Row): CatalogViewByKind[K] {
  const view: Row = { id: row.id, name: row.name }
  for (const f of KINDS[kind].fields) {
    if (f.column === 'name') continue
    view[f.key] = f.type === 'boolean' ? row[f.column] === 1 : row[f.column]
  }
  Object.assign(view, { status: row.status, createdAt: row.created_at, updatedAt: row.updated_at, version: row.version })
  return view as unknown as CatalogViewByKind[K]
}

function specOf (kind: CatalogKind): KindSpec {
  const spec = KINDS[kind]
  if (spec === undefined) throw new RangeError(`unknown catalog kind ${String(kind)}`)
  return spec
}

export function getCatalogEntry<K extends CatalogKind> (db: Db, kind: K, id: string): CatalogViewByKind[K] | null {
  const row = prepareCached(db, `SELECT * FROM ${specOf(kind).table} WHERE id = ?`).get(id) as Row | undefined
  return row === undefined ? null : toView(kind, row)
}

export interface CatalogFilter { status?: 'active' | 'inactive' }

/** Entries sorted by id, keyset-paginated. */
export function listCatalog<K extends CatalogKind> (
  db: Db, kind: K, page: { limit: number, cursor?: string }, filter: CatalogFilter = {}
): { items: Array<CatalogViewByKind[K]>, nextCursor: string | null } {
  const spec = specOf(kind)
  checkLimit(page.limit)
  const queryKey = JSON.stringify(['catalog', kind, filter.status ?? null])
  const after = page.cursor === undefined ? null : decodeCursor(queryKey, page.cursor)
  const where: string[] = []
  const params: unknown[] = []
  if (filter.status !== undefined) { where.push('status = ?'); params.push(filter.status) }
  if (after !== null) { where.push('id > ?'); params.push(after) }
  const rows = prepareCached(db,
    `SELECT * FROM ${spec.table} ${where.length > 0 ? `WHERE ${where.join(' AND ')}` : ''} ORDER BY id LIMIT ?`
  ).all(...params, page.limit + 1) as Row[]
  const more = rows.length > page.limit
  const items = rows.slice(0, page.limit).map(r => toView(kind, r))
  const last = items.at(-1)
  return { items, nextCursor: more && last !== undefined ? encodeCursor(queryKey, last.id) : null }
}
