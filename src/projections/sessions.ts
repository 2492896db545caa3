/**
 * Sessions: one row per session, ended ones kept (with why and when) so the user's page shows its
 * recent history. `position` is the log position of the row's last change: the in-memory session
 * index (src/oidc/session-index.ts) reads the rows changed since the last batch it saw.
 */
import type { EventOf } from '../domain/events.js'
import { canonicalInstant, dataOf, occurredAt, sql, type Projection } from './projection.js'
import { prepareCached } from './statements.js'
import type { Db } from './schema.js'

export const sessionsProjection: Projection = {
  name: 'sessions',
  handles: ['SessionStarted', 'SessionRefreshed', 'SessionRevoked'],
  project (event) {
    const at = occurredAt(event)
    switch (event.type) {
      case 'SessionStarted': {
        const d = dataOf<EventOf<'SessionStarted'>['data']>(event)
        return [sql(`INSERT INTO sessions (id, user_id, client_id, amr, client_address, user_agent, credential_version, status,
          started_at, idle_expires_at, expires_at, position) VALUES (?, ?, ?, ?, ?, ?, ?, 'active', ?, ?, ?, ?)
          ON CONFLICT (id) DO NOTHING`,
        d.sessionId, d.userId, d.clientId, JSON.stringify(d.amr), d.clientAddress, d.userAgent, d.credentialVersion,
        at, canonicalInstant(d.idleExpiresAt), canonicalInstant(d.expiresAt), event.position)]
      }
      case 'SessionRefreshed': {
        const d = dataOf<EventOf<'SessionRefreshed'>['data']>(event)
        return [sql('UPDATE sessions SET last_refreshed_at = ?, idle_expires_at = ?, position = ? WHERE id = ?',
          at, canonicalInstant(d.idleExpiresAt), event.position, d.sessionId)]
      }
      case 'SessionRevoked': {
        const d = dataOf<EventOf<'SessionRevoked'>['data']>(event)
        // An expired session ended when its deadline passed, not when the next sign-in noticed it.
        return [sql(`UPDATE sessions SET status = 'ended', end_reason = ?,
          ended_at = CASE WHEN ? = 'expired' THEN min(idle_expires_at, expires_at, ?) ELSE ? END, position = ? WHERE id = ?`,
          d.reason, d.reason, canonicalInstant(at), at, event.position, d.sessionId)]
      }
      default: return []
    }
  }
}

export interface SessionView {
  id: string
  userId: string
  clientId: string
  amr: string[]
  clientAddress: string | null
  userAgent: string | null
  status: 'active' | 'ended'
  endReason: string | null
  startedAt: string
  lastRefreshedAt: string | null
  idleExpiresAt: string
  expiresAt: string
  endedAt: string | null
}

interface SessionRow {
  id: string
  user_id: string
  client_id: string
  amr: string
  client_address: string | null
  user_agent: string | null
  credential_version: number
  status: 'active' | 'ended'
  end_reason: string | null
  started_at: string
  last_refreshed_at: string | null
  idle_expires_at: string
  expires_at: string
  ended_at: string | null
  position: number
}

/** What the per-request check needs, for every row changed after `position`. */
export interface SessionCheckRow {
  id: string
  userId: string
  clientId: string
  credentialVersion: number
  live: boolean
  idleExpiresAt: string
  expiresAt: string
  position: number
}

const toView = (r: SessionRow, now: string): SessionView => {
  const expired = r.status === 'active' && (r.idle_expires_at <= now || r.expires_at <= now)
  return {
    id: r.id,
    userId: r.user_id,
    clientId: r.client_id,
    amr: JSON.parse(r.amr) as string[],
    clientAddress: r.client_address,
    userAgent: r.user_agent,
    status: expired ? 'ended' : r.status,
    endReason: expired ? 'expired' : r.end_reason,
    startedAt: r.started_at,
    lastRefreshedAt: r.last_refreshed_at,
    idleExpiresAt: r.idle_expires_at,
    expiresAt: r.expires_at,
    endedAt: expired ? (r.idle_expires_at < r.expires_at ? r.idle_expires_at : r.expires_at) : r.ended_at
  }
}

/** The user's sessions, newest first: live ones, then (up to `limit` in all) recently ended ones. */
export function listUserSessions (db: Db, userId: string, now: string, limit = 50): SessionView[] {
  const at = canonicalInstant(now)
  const rows = prepareCached(db, 'SELECT * FROM sessions WHERE user_id = ? ORDER BY started_at DESC, id DESC LIMIT ?').all(userId, limit) as SessionRow[]
  const views = rows.map(r => toView(r, at))
  return [...views.filter(v => v.status === 'active'), ...views.filter(v => v.status !== 'active')]
}

export function getSession (db: Db, sessionId: string, now: string): SessionView | null {
  const row = prepareCached(db, 'SELECT * FROM sessions WHERE id = ?').get(sessionId) as SessionRow | undefined
  return row === undefined ? null : toView(row, canonicalInstant(now))
}

/** Rows changed after `position` (all rows from 0), in log order. */
export function sessionChangesAfter (db: Db, position: number): SessionCheckRow[] {
  const rows = prepareCached(db, `SELECT id, user_id, client_id, credential_version, status, idle_expires_at, expires_at, position
    FROM sessions WHERE position > ? ORDER BY position`).all(position) as SessionRow[]
  return rows.map(r => ({
    id: r.id,
    userId: r.user_id,
    clientId: r.client_id,
    credentialVersion: r.credential_version,
    live: r.status === 'active',
    idleExpiresAt: r.idle_expires_at,
    expiresAt: r.expires_at,
    position: r.position
  }))
}

export interface AccountRow {
  userId: string
  username: string
  status: 'active' | 'inactive'
  lockedUntil: string | null
  credentialVersion: number
  roles: string[]
  companies: string[]
  companyRoles: { companyId: string, roleId: string }[]
  email: string
  firstName: string
  lastName: string
}

/** What the OpenID provider needs of a user: the credential state and the profile claims. */
export function getAccountState (db: Db, userId: string): AccountRow | null {
  const row = prepareCached(db, 'SELECT id, username, status, locked_until, credential_version, roles, companies, company_roles, email, first_name, last_name FROM users WHERE id = ?')
    .get(userId) as { id: string, username: string, status: 'active' | 'inactive', locked_until: string | null, credential_version: number, roles: string, companies: string, company_roles: string, email: string, first_name: string, last_name: string } | undefined
  if (row === undefined) return null
  return {
    userId: row.id,
    username: row.username,
    status: row.status,
    lockedUntil: row.locked_until,
    credentialVersion: row.credential_version,
    roles: JSON.parse(row.roles) as string[],
    companies: JSON.parse(row.companies) as string[],
    companyRoles: JSON.parse(row.company_roles) as { companyId: string, roleId: string }[],
    email: row.email,
    firstName: row.first_name,
    lastName: row.last_name
  }
}

/** Live sessions whose user's credentials moved on since they started (missed by a crash). */
export function staleSessions (db: Db): { id: string, userId: string, reason: 'user_deactivated' | 'credentials_changed' }[] {
  const rows = prepareCached(db, `SELECT s.id, s.user_id, u.status FROM sessions s JOIN users u ON u.id = s.user_id
    WHERE s.status = 'active' AND (s.credential_version <> u.credential_version OR u.status <> 'active')`).all() as { id: string, user_id: string, status: string }[]
  return rows.map(r => ({ id: r.id, userId: r.user_id, reason: r.status === 'active' ? 'credentials_changed' : 'user_deactivated' }))
}

export function liveSessionIds (db: Db, userId: string): string[] {
  const rows = prepareCached(db, "SELECT id FROM sessions WHERE user_id = ? AND status = 'active'").all(userId) as { id: string }[]
  return rows.map(r => r.id)
}
