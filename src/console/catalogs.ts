/**
 * The four catalogs, read whole for the pickers (they hold tens to a few thousand entries, unlike
 * users) and kept for the session; a change made in the console drops the cached copy.
 */
import { get, type Page } from './api'
import type { CatalogEntry } from './model'

export type CatalogKind = 'roles' | 'companies' | 'providers' | 'identification-types'

export const CATALOGS: readonly { kind: CatalogKind, title: string, singular: string }[] = [
  { kind: 'roles', title: 'Roles', singular: 'role' },
  { kind: 'companies', title: 'Companies', singular: 'company' },
  { kind: 'providers', title: 'Providers', singular: 'provider' },
  { kind: 'identification-types', title: 'Identification types', singular: 'identification type' }
]

/** Past this many entries a picker would be useless anyway; the catalog page still pages. */
const PICKER_LIMIT = 5000

const cache = new Map<CatalogKind, Promise<CatalogEntry[]>>()

export function loadCatalog (kind: CatalogKind): Promise<CatalogEntry[]> {
  let entries = cache.get(kind)
  if (entries === undefined) {
    entries = readAll(kind)
    entries.catch(() => cache.delete(kind))
    cache.set(kind, entries)
  }
  return entries
}

export function forgetCatalog (kind?: CatalogKind): void {
  if (kind === undefined) cache.clear()
  else cache.delete(kind)
}

async function readAll (kind: CatalogKind): Promise<CatalogEntry[]> {
  const entries: CatalogEntry[] = []
  let cursor: string | null = null
  do {
    const path: string = `/v1/${kind}?limit=200${cursor === null ? '' : `&cursor=${encodeURIComponent(cursor)}`}`
    const { data }: { data: Page<CatalogEntry> } = await get<Page<CatalogEntry>>(path)
    entries.push(...data.items)
    cursor = data.nextCursor
  } while (cursor !== null && entries.length < PICKER_LIMIT)
  return entries
}
