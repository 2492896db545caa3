/**
 * OAuth client use cases: register (with a generated id and, for a confidential client, a
 * generated secret shown once), change, and rotate the secret. Secrets are 256 random bits and are
 * stored only as their SHA-256 (src/domain/client.ts says why that is enough).
 */
import { createHash, randomBytes, timingSafeEqual } from 'node:crypto'
import { clientDecider, type ClientSettings, type ClientType } from '../domain/client.js'
import { streams } from '../domain/events.js'
import { loadCatalogSnapshot } from './catalog-snapshot.js'
import { handleCommand, type CommandContext, type HandlerDeps } from './handler.js'

export interface ClientDeps extends HandlerDeps {
  /** How long a rotated secret keeps working. */
  readonly secretOverlapSeconds: number
}

export interface ClientWrite { readonly clientId: string, readonly position: number | null }

/** A new client secret: 256 bits, base64url. */
export const newClientSecret = (): string => randomBytes(32).toString('base64url')

export const hashClientSecret = (secret: string): string => createHash('sha256').update(secret, 'utf8').digest('base64url')

/** Constant-time comparison of a presented secret with a stored hash. */
export function secretMatches (presented: string, hash: string | null): boolean {
  if (hash === null) return false
  const a = Buffer.from(hashClientSecret(presented))
  const b = Buffer.from(hash)
  return a.length === b.length && timingSafeEqual(a, b)
}

async function activeRoles (deps: HandlerDeps, roles: readonly string[]): Promise<string[]> {
  const snapshot = await loadCatalogSnapshot(deps, { roles })
  return Object.entries(snapshot.roles ?? {}).filter(([, status]) => status === 'active').map(([id]) => id)
}

export async function registerClient (
  deps: ClientDeps, input: { type: ClientType } & ClientSettings, ctx: CommandContext
): Promise<ClientWrite & { clientSecret: string | null }> {
  const clientId = deps.newId()
  const clientSecret = input.type === 'confidential' ? newClientSecret() : null
  const handled = await handleCommand(deps, clientDecider, streams.client(clientId), {
    type: 'RegisterClient',
    data: { ...input, clientId, secretHash: clientSecret === null ? null : hashClientSecret(clientSecret), activeRoles: await activeRoles(deps, input.roles) }
  }, ctx, { idempotency: 'stable' })
  return { clientId, clientSecret, position: handled.position }
}

export async function updateClient (
  deps: ClientDeps, clientId: string, input: ClientSettings & { status: 'active' | 'inactive' }, ctx: CommandContext
): Promise<ClientWrite> {
  const handled = await handleCommand(deps, clientDecider, streams.client(clientId), {
    type: 'UpdateClient', data: { ...input, clientId, activeRoles: await activeRoles(deps, input.roles) }
  }, ctx)
  return { clientId, position: handled.position }
}

export async function rotateClientSecret (deps: ClientDeps, clientId: string, ctx: CommandContext): Promise<ClientWrite & { clientSecret: string, previousExpiresAt: string }> {
  const clientSecret = newClientSecret()
  const handled = await handleCommand(deps, clientDecider, streams.client(clientId), {
    type: 'RotateClientSecret',
    data: { clientId, secretHash: hashClientSecret(clientSecret), now: deps.clock().toISOString(), overlapSeconds: deps.secretOverlapSeconds }
  }, ctx)
  const state = handled.state
  return { clientId, clientSecret, position: handled.position, previousExpiresAt: state.status === 'none' ? '' : state.previousExpiresAt ?? '' }
}
