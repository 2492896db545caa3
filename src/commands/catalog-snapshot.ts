/** Looks up the catalog entries a user command references, from their own streams. */
import { catalogDecider, catalogStream, type CatalogKind } from '../domain/catalog.js'
import type { CatalogSnapshot, CatalogStatus } from '../domain/user.js'
import type { Commands } from './deps.js'

export interface CatalogRefs {
  readonly roles?: readonly string[]
  readonly companies?: readonly string[]
  readonly providers?: readonly string[]
  readonly identificationTypes?: readonly string[]
}

const KINDS: readonly [keyof CatalogRefs, CatalogKind][] = [
  ['roles', 'role'], ['companies', 'company'], ['providers', 'provider'], ['identificationTypes', 'identificationType']
]

export async function loadCatalogSnapshot (commands: Pick<Commands, 'load'>, refs: CatalogRefs): Promise<CatalogSnapshot> {
  const snapshot: Record<string, Record<string, CatalogStatus>> = {}
  await Promise.all(KINDS.map(async ([field, kind]) => {
    const entries: Record<string, CatalogStatus> = {}
    snapshot[field] = entries
    for (const id of new Set(refs[field] ?? [])) {
      const { state } = await commands.load(catalogDecider, catalogStream(kind, id))
      if (state.status !== 'none') entries[id] = state.status
    }
  }))
  return snapshot as CatalogSnapshot
}
