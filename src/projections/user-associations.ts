/**
 * User associations: the user_roles, user_companies and user_providers relations, and the sorted
 * JSON arrays on the users row recomputed from them inside the same statement batch. Relation rows
 * carry the (immutable) username so a filter on one role walks its users in username order.
 */
import type { RecordedEvent } from '../eventstore/port.js'
import type { EventOf } from '../domain/events.js'
import { dataOf, sql, sqlOnce, type Projection, type Statement } from './projection.js'

type Registered = EventOf<'UserRegistered'>['data']

// Recomputed once per user and batch, after the batch's relation changes (Statement.once).
const recomputeRoles = (userId: string): Statement => sqlOnce(`roles:${userId}`,
  `UPDATE users SET roles = (SELECT json_group_array(role_id ORDER BY role_id) FROM user_roles WHERE user_id = ?)
   WHERE id = ?`, userId, userId)

const recomputeCompanies = (userId: string): Statement => sqlOnce(`companies:${userId}`,
  `UPDATE users SET companies = (SELECT json_group_array(company_id ORDER BY company_id) FROM user_companies WHERE user_id = ?)
   WHERE id = ?`, userId, userId)

const recomputeProviders = (userId: string): Statement => sqlOnce(`providers:${userId}`,
  `UPDATE users SET providers = (
     SELECT json_group_array(json_object('providerId', provider_id, 'externalUserId', external_user_id) ORDER BY provider_id)
     FROM user_providers WHERE user_id = ?)
   WHERE id = ?`, userId, userId)

const recomputeCompanyRoles = (userId: string): Statement => sqlOnce(`company-roles:${userId}`,
  `UPDATE users SET company_roles = (
     SELECT json_group_array(json_object('companyId', company_id, 'roleId', role_id) ORDER BY company_id, role_id)
     FROM user_company_roles WHERE user_id = ?)
   WHERE id = ?`, userId, userId)

const upsertProvider = (userId: string, username: string, providerId: string, externalUserId: string | null): Statement => sql(
  `INSERT INTO user_providers (user_id, provider_id, username, external_user_id) VALUES (?, ?, ?, ?)
   ON CONFLICT (user_id, provider_id) DO UPDATE SET external_user_id = excluded.external_user_id`,
  userId, providerId, username, externalUserId)

/**
 * On registration the users projection writes the JSON arrays straight from the event, so this
 * projection only fills the relations and does not depend on running after it.
 */
function register (event: RecordedEvent): Statement[] {
  const d = dataOf<Registered>(event)
  return [
    ...d.roles.map(roleId => sql('INSERT OR IGNORE INTO user_roles (user_id, role_id, username) VALUES (?, ?, ?)', d.userId, roleId, d.username)),
    ...d.companies.map(companyId => sql('INSERT OR IGNORE INTO user_companies (user_id, company_id, username) VALUES (?, ?, ?)', d.userId, companyId, d.username)),
    ...d.providers.map(p => upsertProvider(d.userId, d.username, p.providerId, p.externalUserId))
  ]
}

export const userAssociationsProjection: Projection = {
  name: 'user-associations',
  handles: [
    'UserRegistered', 'UserRoleAssigned', 'UserRoleRevoked', 'UserCompanyLinked', 'UserCompanyUnlinked',
    'UserProviderLinked', 'UserProviderUnlinked', 'UserCompanyRoleAssigned', 'UserCompanyRoleRevoked'
  ],
  project (event) {
    switch (event.type) {
      case 'UserRegistered': return register(event)
      case 'UserRoleAssigned': {
        const d = dataOf<EventOf<'UserRoleAssigned'>['data']>(event)
        return [
          sql('INSERT OR IGNORE INTO user_roles (user_id, role_id, username) SELECT id, ?, username FROM users WHERE id = ?', d.roleId, d.userId),
          recomputeRoles(d.userId)
        ]
      }
      case 'UserRoleRevoked': {
        const d = dataOf<EventOf<'UserRoleRevoked'>['data']>(event)
        return [sql('DELETE FROM user_roles WHERE user_id = ? AND role_id = ?', d.userId, d.roleId), recomputeRoles(d.userId)]
      }
      case 'UserCompanyLinked': {
        const d = dataOf<EventOf<'UserCompanyLinked'>['data']>(event)
        return [
          sql('INSERT OR IGNORE INTO user_companies (user_id, company_id, username) SELECT id, ?, username FROM users WHERE id = ?', d.companyId, d.userId),
          recomputeCompanies(d.userId)
        ]
      }
      case 'UserCompanyUnlinked': {
        const d = dataOf<EventOf<'UserCompanyUnlinked'>['data']>(event)
        return [sql('DELETE FROM user_companies WHERE user_id = ? AND company_id = ?', d.userId, d.companyId), recomputeCompanies(d.userId)]
      }
      case 'UserProviderLinked': {
        const d = dataOf<EventOf<'UserProviderLinked'>['data']>(event)
        return [
          sql(`INSERT INTO user_providers (user_id, provider_id, username, external_user_id)
               SELECT id, ?, username, ? FROM users WHERE id = ?
               ON CONFLICT (user_id, provider_id) DO UPDATE SET external_user_id = excluded.external_user_id`,
          d.providerId, d.externalUserId ?? null, d.userId),
          recomputeProviders(d.userId)
        ]
      }
      case 'UserProviderUnlinked': {
        const d = dataOf<EventOf<'UserProviderUnlinked'>['data']>(event)
        return [sql('DELETE FROM user_providers WHERE user_id = ? AND provider_id = ?', d.userId, d.providerId), recomputeProviders(d.userId)]
      }
      case 'UserCompanyRoleAssigned': {
        const d = dataOf<EventOf<'UserCompanyRoleAssigned'>['data']>(event)
        return [
          sql('INSERT OR IGNORE INTO user_company_roles (user_id, company_id, role_id) SELECT id, ?, ? FROM users WHERE id = ?', d.companyId, d.roleId, d.userId),
          recomputeCompanyRoles(d.userId)
        ]
      }
      case 'UserCompanyRoleRevoked': {
        const d = dataOf<EventOf<'UserCompanyRoleRevoked'>['data']>(event)
        return [
          sql('DELETE FROM user_company_roles WHERE user_id = ? AND company_id = ? AND role_id = ?', d.userId, d.companyId, d.roleId),
          recomputeCompanyRoles(d.userId)
        ]
      }
      default: return []
    }
  }
}
