/**
 * OAuth clients: one row per client. The secret hashes are here for the in-memory client
 * directory (src/projections/client-directory.ts) that authenticates clients at the token
 * endpoint; no query that serves the API returns them.
 */
import type { EventOf } from '../domain/events.js'
import { dataOf, occurredAt, sql, type Projection } from './projection.js'
import { prepareCached } from './statements.js'
import type { Db } from './schema.js'

type Settings = EventOf<'ClientUpdated'>['data']
const settingsParams = (d: Settings) => [d.name, JSON.stringify(d.grantTypes), JSON.stringify(d.redirectUris),
  JSON.stringify(d.postLogoutRedirectUris), JSON.stringify(d.roles), d.thirdParty ? 1 : 0]

export const clientsProjection: Projection = {
  name: 'clients',
  handles: ['ClientRegistered', 'ClientUpdated', 'ClientDeactivated', 'ClientActivated', 'ClientSecretRotated'],
  project (event) {
    const at = occurredAt(event)
    const bump = 'updated_at = ?, version = ?, position = ?'
    const tail = [at, event.revision, event.position]
    switch (event.type) {
      case 'ClientRegistered': {
        const d = dataOf<EventOf<'ClientRegistered'>['data']>(event)
        return [sql(`INSERT INTO clients (id, name, grant_types, redirect_uris, post_logout_redirect_uris, roles, third_party, type, status,
          secret_hash, created_at, updated_at, version, position) VALUES (?, ?, ?, ?, ?, ?, ?, ?, 'active', ?, ?, ?, ?, ?) ON CONFLICT (id) DO NOTHING`,
        d.clientId, ...settingsParams(d), d.type, d.secretHash, at, ...tail)]
      }
      case 'ClientUpdated': {
        const d = dataOf<Settings>(event)
        return [sql(`UPDATE clients SET name = ?, grant_types = ?, redirect_uris = ?, post_logout_redirect_uris = ?, roles = ?, third_party = ?, ${bump} WHERE id = ?`,
          ...settingsParams(d), ...tail, d.clientId)]
      }
      case 'ClientDeactivated':
      case 'ClientActivated':
        return [sql(`UPDATE clients SET status = ?, ${bump} WHERE id = ?`, event.type === 'ClientDeactivated' ? 'inactive' : 'active',
          ...tail, dataOf<{ clientId: string }>(event).clientId)]
      case 'ClientSecretRotated': {
        const d = dataOf<EventOf<'ClientSecretRotated'>['data']>(event)
        return [sql(`UPDATE clients SET previous_secret_hash = secret_hash, previous_expires_at = ?, secret_hash = ?, ${bump} WHERE id = ?`,
          d.previousExpiresAt, d.secretHash, ...tail, d.clientId)]
      }
      default: return []
    }
  }
}

export interface ClientView {
  clientId: string
  name: string
  type: 'confidential' | 'public'
  status: 'active' | 'inactive'
  grantTypes: string[]
  redirectUris: string[]
  postLogoutRedirectUris: string[]
  roles: string[]
  thirdParty: boolean
  /** When the secret before the current one stops working (null: no rotation overlap). */
  previousSecretExpiresAt: string | null
  createdAt: string
  updatedAt: string
  version: number
}

interface ClientRow {
  id: string
  name: string
  type: 'confidential' | 'public'
  status: 'active' | 'inactive'
  grant_types: string
  redirect_uris: string
  post_logout_redirect_uris: string
  roles: string
  third_party: number
  secret_hash: string | null
  previous_secret_hash: string | null
  previous_expires_at: string | null
  created_at: string
  updated_at: string
  version: number
  position: number
}

/** What authenticating a client needs, besides its view. */
export interface ClientRecord extends ClientView {
  secretHash: string | null
  previousSecretHash: string | null
  position: number
}

const toRecord = (r: ClientRow): ClientRecord => ({
  clientId: r.id,
  name: r.name,
  type: r.type,
  status: r.status,
  grantTypes: JSON.parse(r.grant_types) as string[],
  redirectUris: JSON.parse(r.redirect_uris) as string[],
  postLogoutRedirectUris: JSON.parse(r.post_logout_redirect_uris) as string[],
  roles: JSON.parse(r.roles) as string[],
  thirdParty: r.third_party === 1,
  previousSecretExpiresAt: r.previous_expires_at,
  createdAt: r.created_at,
  updatedAt: r.updated_at,
  version: r.version,
  secretHash: r.secret_hash,
  previousSecretHash: r.previous_secret_hash,
  position: r.position
})

export function toView (r: ClientRecord): ClientView {
  const { secretHash: _s, previousSecretHash: _p, position: _q, ...view } = r
  return view
}

export function getClient (db: Db, clientId: string): ClientView | null {
  const row = prepareCached(db, 'SELECT * FROM clients WHERE id = ?').get(clientId) as ClientRow | undefined
  return row === undefined ? null : toView(toRecord(row))
}

/** Every client by name (a deployment has tens or hundreds, not millions). */
export function listClients (db: Db): ClientView[] {
  return (prepareCached(db, 'SELECT * FROM clients ORDER BY name, id').all() as ClientRow[]).map(r => toView(toRecord(r)))
}

export function clientChangesAfter (db: Db, position: number): ClientRecord[] {
  return (prepareCached(db, 'SELECT * FROM clients WHERE position > ? ORDER BY position').all(position) as ClientRow[]).map(toRecord)
}
