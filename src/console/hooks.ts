/** Small hooks the pages share: a catalog for a picker, and a debounced value. */
import { useEffect, useState } from 'preact/hooks'
import { loadCatalog, type CatalogKind } from './catalogs'
import type { CatalogEntry } from './model'

/** The catalog's entries ([] until loaded, or when it cannot be read). */
export function useCatalog (kind: CatalogKind, version = 0): CatalogEntry[] {
  const [entries, setEntries] = useState<CatalogEntry[]>([])
  useEffect(() => {
    let live = true
    loadCatalog(kind).then((list) => { if (live) setEntries(list) }, () => { if (live) setEntries([]) })
    return () => { live = false }
  }, [kind, version])
  return entries
}

export function useDebounced<T> (value: T, ms: number): T {
  const [settled, setSettled] = useState(value)
  useEffect(() => {
    const timer = setTimeout(() => setSettled(value), ms)
    return () => clearTimeout(timer)
  }, [value, ms])
  return settled
}

export const options = (entries: readonly CatalogEntry[], activeOnly = true) =>
  entries.filter((entry) => !activeOnly || entry.status === 'active').map((entry) => ({ value: entry.id, label: entry.name === entry.id ? entry.id : `${entry.name} (${entry.id})` }))
