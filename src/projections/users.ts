/**
 * The users projection: one row per user with its profile and status. `version` and `updated_at`
 * follow the user's own stream (user-<id>) only, so `version` is the stream revision an `If-Match`
 * compares with. Every update is guarded by `version < revision`, which makes a replayed event a
 * no-op.
 */
import type { RecordedEvent } from '../eventstore/port.js'
import { streams, type EventOf, type UserEvent } from '../domain/events.js'
import { dataOf, occurredAt, searchKey, sql, type Projection, type Statement } from './projection.js'

const USER_EVENT_TYPES = [
  'UserRegistered', 'UserProfileUpdated', 'UserRoleAssigned', 'UserRoleRevoked',
  'UserPasswordChanged', 'UserPasswordReset', 'UserPasswordRehashed',
  'UserDeactivated', 'UserActivated', 'UserCompanyLinked', 'UserCompanyUnlinked',
  'UserProviderLinked', 'UserProviderUnlinked', 'UserCompanyRoleAssigned', 'UserCompanyRoleRevoked'
] as const satisfies ReadonlyArray<UserEvent['type']>

type Registered = EventOf<'UserRegistered'>['data']
type Profile = EventOf<'UserProfileUpdated'>['data']

/** Sorted, duplicate-free, in the exact shape the association projection recomputes. */
export function sortedIds (ids: readonly string[]): string[] {
  return [...new Set(ids)].sort((a, b) => (a < b ? -1 : a > b ? 1 : 0))
}

export function sortedProviders (links: Registered['providers']): Array<{ providerId: string, externalUserId: string | null }> {
  const byId = new Map<string, string | null>()
  for (const link of links) byId.set(link.providerId, link.externalUserId)
  return sortedIds([...byId.keys()]).map(providerId => ({ providerId, externalUserId: byId.get(providerId) ?? null }))
}

function register (event: RecordedEvent): Statement {
  const d = dataOf<Registered>(event)
  const at = occurredAt(event)
  return sql(
    `INSERT INTO users (id, username, email, email_lower, first_name, first_name_lower, last_name, last_name_lower,
       identification_type, identification_number, phone, status, created_at, updated_at, version, roles, companies, providers)
     VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, 'active', ?, ?, ?, ?, ?, ?)
     ON CONFLICT (id) DO NOTHING`,
    d.userId, d.username, d.email, searchKey(d.email), d.firstName, searchKey(d.firstName), d.lastName, searchKey(d.lastName),
    d.identificationType, d.identificationNumber, d.phone ?? null, at, at, event.revision,
    JSON.stringify(sortedIds(d.roles)), JSON.stringify(sortedIds(d.companies)), JSON.stringify(sortedProviders(d.providers))
  )
}

function updateProfile (event: RecordedEvent): Statement {
  const d = dataOf<Profile>(event)
  return sql(
    `UPDATE users SET email = ?, email_lower = ?, first_name = ?, first_name_lower = ?, last_name = ?, last_name_lower = ?,
       identification_type = ?, identification_number = ?, phone = ?, updated_at = ?, version = ?
     WHERE id = ? AND version < ?`,
    d.email, searchKey(d.email), d.firstName, searchKey(d.firstName), d.lastName, searchKey(d.lastName),
    d.identificationType, d.identificationNumber, d.phone ?? null, occurredAt(event), event.revision,
    d.userId, event.revision
  )
}

const setStatus = (event: RecordedEvent, userId: string, status: 'active' | 'inactive'): Statement => sql(
  'UPDATE users SET status = ?, updated_at = ?, version = ? WHERE id = ? AND version < ?',
  status, occurredAt(event), event.revision, userId, event.revision
)

const touch = (event: RecordedEvent, userId: string): Statement => sql(
  'UPDATE users SET updated_at = ?, version = ? WHERE id = ? AND version < ?',
  occurredAt(event), event.revision, userId, event.revision
)

export const usersProjection: Projection = {
  name: 'users',
  handles: USER_EVENT_TYPES,
  project (event) {
    const userId = dataOf<{ userId: string }>(event).userId
    // User events only ever live in the user's own stream; anything else is not ours to version.
    if (event.stream !== streams.user(userId)) return []
    switch (event.type) {
      case 'UserRegistered': return [register(event)]
      case 'UserProfileUpdated': return [updateProfile(event)]
      case 'UserDeactivated': return [setStatus(event, userId, 'inactive')]
      case 'UserActivated': return [setStatus(event, userId, 'active')]
      default: return [touch(event, userId)]
    }
  }
}
