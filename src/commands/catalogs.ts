/** Catalog use cases: roles, companies, providers and identification types. */
import { catalogDecider, catalogStream, type CatalogKind } from '../domain/catalog.js'
import type { Commands } from './deps.js'
import { createdByThisRequest, handleCommand, type CommandContext } from './handler.js'

export interface CatalogEntryInput {
  readonly name: string
  readonly description?: string | null
  readonly identificationType?: string | null
  readonly identificationNumber?: string | null
}

export interface CatalogWriteResult { readonly id: string, readonly position: number | null }

export async function defineCatalogEntry (
  deps: Commands, kind: CatalogKind, id: string, input: CatalogEntryInput & { system?: boolean }, ctx: CommandContext
): Promise<CatalogWriteResult> {
  const stream = catalogStream(kind, id)
  const replayed = await createdByThisRequest(deps.store, stream, ctx)
  if (replayed !== null) return { id, position: replayed }
  const handled = await handleCommand(deps, catalogDecider, stream,
    { type: 'DefineCatalogEntry', data: { kind, id, ...input } }, ctx, { idempotency: 'stable' })
  return { id, position: handled.position }
}

export async function updateCatalogEntry (
  deps: Commands, kind: CatalogKind, id: string, input: CatalogEntryInput & { status: 'active' | 'inactive' }, ctx: CommandContext
): Promise<CatalogWriteResult> {
  const handled = await handleCommand(deps, catalogDecider, catalogStream(kind, id),
    { type: 'UpdateCatalogEntry', data: { kind, id, ...input } }, ctx, { idempotency: 'stable' })
  return { id, position: handled.position }
}
