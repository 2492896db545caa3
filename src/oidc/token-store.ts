/**
 * oidc-provider's storage adapter, on a SQLite file of its own (<data dir>/oauth.db, WAL,
 * synchronous=FULL: an issued refresh token survives a power cut). It holds protocol state that
 * expires (refresh tokens, codes, grants, browser sessions, interactions), not facts: the facts
 * (sessions started, refreshed, ended) are events in the log. Deleting this file signs every
 * client out, and nothing else.
 *
 * - Every row is keyed by the SHA-256 of its id, and the id is taken out of the stored payload:
 *   an opaque token's id IS the token, so the file never holds a usable refresh token or code.
 * - `consume` is atomic (one UPDATE … WHERE consumed_at IS NULL): oidc-provider's own reuse
 *   check reads first and marks after, so without this two parallel refreshes of one token could
 *   both succeed. The loser is treated as a reuse (RFC 9700 §4.14.2: the server cannot tell a
 *   racing client from a racing thief): the whole grant is revoked and its session ended.
 * - Every revocation of a grant (reuse, code replay, revocation endpoint, logout) is reported to
 *   `onGrantRevoked` with the session it belonged to and the reason read from the request.
 */
import { createHash } from 'node:crypto'
import Database from 'better-sqlite3'
import { errors, Provider, type Adapter, type AdapterPayload } from 'oidc-provider'
import type { SessionEndReason } from '../domain/events.js'

export interface GrantSession { readonly sessionId: string, readonly userId: string }

export interface TokenStoreHooks {
  /** A grant was revoked; the session it belonged to (if any) must end for `reason`. */
  onGrantRevoked (grant: GrantSession, reason: SessionEndReason): Promise<void>
  /** Clients are not stored here: they come from the client registry (event-sourced). */
  findClient (clientId: string): AdapterPayload | undefined
}

const GRANTABLE = new Set(['AccessToken', 'AuthorizationCode', 'RefreshToken', 'DeviceCode', 'BackchannelAuthenticationRequest', 'ClientCredentials'])

const sha256 = (value: string): string => createHash('sha256').update(value).digest('base64url')
const epoch = (): number => Math.floor(Date.now() / 1000)

export class TokenStore {
  readonly db: Database.Database
  hooks: TokenStoreHooks | null = null
  readonly #revoking = new Map<string, Promise<void>>()

  constructor (readonly path: string) {
    this.db = new Database(path)
    this.db.pragma('journal_mode = WAL')
    // better-sqlite3 switches WAL files to NORMAL: an issued token must survive a power cut.
    this.db.pragma('synchronous = FULL')
    this.db.pragma('busy_timeout = 5000')
    this.db.exec(`
      CREATE TABLE IF NOT EXISTS oauth_store (
        model TEXT NOT NULL,
        key TEXT NOT NULL,
        grant_id TEXT,
        uid TEXT,
        user_code TEXT,
        payload TEXT NOT NULL,
        expires_at INTEGER,
        consumed_at INTEGER,
        PRIMARY KEY (model, key)
      ) WITHOUT ROWID;
      CREATE INDEX IF NOT EXISTS oauth_store_grant ON oauth_store (grant_id) WHERE grant_id IS NOT NULL;
      CREATE INDEX IF NOT EXISTS oauth_store_uid ON oauth_store (uid) WHERE uid IS NOT NULL;
      CREATE INDEX IF NOT EXISTS oauth_store_expiry ON oauth_store (expires_at) WHERE expires_at IS NOT NULL;
      CREATE TABLE IF NOT EXISTS grant_sessions (
        grant_id TEXT PRIMARY KEY NOT NULL,
        session_id TEXT NOT NULL,
        user_id TEXT NOT NULL,
        expires_at INTEGER
      ) WITHOUT ROWID;
      CREATE INDEX IF NOT EXISTS grant_sessions_session ON grant_sessions (session_id);
      CREATE TABLE IF NOT EXISTS browser_sessions (
        session_uid TEXT PRIMARY KEY NOT NULL,
        session_id TEXT NOT NULL,
        user_id TEXT NOT NULL,
        expires_at INTEGER
      ) WITHOUT ROWID;
    `)
  }

  /** Ties a grant to one of our sessions: revoking the grant ends it, ending it revokes the grant. */
  bindGrant (grantId: string, session: GrantSession, expiresAt: number | null): void {
    this.db.prepare(`INSERT INTO grant_sessions (grant_id, session_id, user_id, expires_at) VALUES (?, ?, ?, ?)
      ON CONFLICT (grant_id) DO UPDATE SET session_id = excluded.session_id, user_id = excluded.user_id, expires_at = excluded.expires_at`)
      .run(grantId, session.sessionId, session.userId, expiresAt)
  }

  /**
   * Ties oidc-provider's browser session (its `uid`, stable for the cookie's life) to the session
   * the sign-in page started: every client this browser signs in to gets that one `sid` (SSO).
   */
  bindBrowser (sessionUid: string, session: GrantSession, expiresAt: number | null): void {
    this.db.prepare(`INSERT INTO browser_sessions (session_uid, session_id, user_id, expires_at) VALUES (?, ?, ?, ?)
      ON CONFLICT (session_uid) DO UPDATE SET session_id = excluded.session_id, user_id = excluded.user_id, expires_at = excluded.expires_at`)
      .run(sessionUid, session.sessionId, session.userId, expiresAt)
  }

  sessionOfBrowser (sessionUid: string): GrantSession | undefined {
    const row = this.db.prepare('SELECT session_id, user_id FROM browser_sessions WHERE session_uid = ?').get(sessionUid) as { session_id: string, user_id: string } | undefined
    return row === undefined ? undefined : { sessionId: row.session_id, userId: row.user_id }
  }

  forgetBrowser (sessionUid: string): void {
    this.db.prepare('DELETE FROM browser_sessions WHERE session_uid = ?').run(sessionUid)
  }

  sessionOfGrant (grantId: string): GrantSession | undefined {
    const row = this.db.prepare('SELECT session_id, user_id FROM grant_sessions WHERE grant_id = ?').get(grantId) as { session_id: string, user_id: string } | undefined
    return row === undefined ? undefined : { sessionId: row.session_id, userId: row.user_id }
  }

  /** Deletes everything issued under the session's grants (after the session ended elsewhere). */
  revokeSession (sessionId: string): number {
    const grants = this.db.prepare('SELECT grant_id FROM grant_sessions WHERE session_id = ?').all(sessionId) as { grant_id: string }[]
    let removed = 0
    const remove = this.db.transaction(() => {
      for (const { grant_id: grantId } of grants) {
        removed += this.db.prepare('DELETE FROM oauth_store WHERE grant_id = ?').run(grantId).changes
        this.db.prepare("DELETE FROM oauth_store WHERE model = 'Grant' AND key = ?").run(sha256(grantId))
      }
    })
    remove()
    return removed
  }

  /** Drops expired rows (run now and then; reads ignore them anyway). */
  sweep (now = epoch()): number {
    const n = this.db.prepare('DELETE FROM oauth_store WHERE expires_at IS NOT NULL AND expires_at < ?').run(now).changes
    this.db.prepare('DELETE FROM grant_sessions WHERE expires_at IS NOT NULL AND expires_at < ?').run(now)
    this.db.prepare('DELETE FROM browser_sessions WHERE expires_at IS NOT NULL AND expires_at < ?').run(now)
    return n
  }

  close (): void { if (this.db.open) this.db.close() }

  /** Revokes the whole grant once, however many models report it at the same time. */
  async revokeGrant (grantId: string, reason: SessionEndReason): Promise<void> {
    const running = this.#revoking.get(grantId)
    if (running !== undefined) return await running
    const work = (async () => {
      this.db.prepare('DELETE FROM oauth_store WHERE grant_id = ?').run(grantId)
      this.db.prepare("DELETE FROM oauth_store WHERE model = 'Grant' AND key = ?").run(sha256(grantId))
      const session = this.sessionOfGrant(grantId)
      if (session !== undefined && this.hooks !== null) await this.hooks.onGrantRevoked(session, reason)
    })()
    this.#revoking.set(grantId, work)
    try { await work } finally { this.#revoking.delete(grantId) }
  }

  /** The adapter class oidc-provider instantiates once per model name. */
  adapterClass (): new (name: string) => Adapter {
    // eslint-disable-next-line @typescript-eslint/no-this-alias
    const store = this
    return class SqliteAdapter implements Adapter {
      constructor (readonly name: string) {}

      async upsert (id: string, payload: AdapterPayload, expiresIn: number): Promise<void> {
        const { jti: _jti, ...rest } = payload
        const expiresAt = typeof expiresIn === 'number' && expiresIn > 0 ? epoch() + expiresIn : null
        const grantId = GRANTABLE.has(this.name) && typeof payload.grantId === 'string' ? payload.grantId : null
        store.db.prepare(`INSERT INTO oauth_store (model, key, grant_id, uid, user_code, payload, expires_at, consumed_at)
          VALUES (?, ?, ?, ?, ?, ?, ?, NULL)
          ON CONFLICT (model, key) DO UPDATE SET grant_id = excluded.grant_id, uid = excluded.uid, user_code = excluded.user_code,
            payload = excluded.payload, expires_at = excluded.expires_at`)
          .run(this.name, sha256(id), grantId, typeof payload.uid === 'string' ? payload.uid : null,
            typeof payload.userCode === 'string' ? payload.userCode : null, JSON.stringify(rest), expiresAt)
      }

      async find (id: string): Promise<AdapterPayload | undefined> {
        if (this.name === 'Client') return store.hooks?.findClient(id)
        return this.#row('key = ?', sha256(id), id)
      }

      async findByUid (uid: string): Promise<AdapterPayload | undefined> {
        return this.#row('uid = ?', uid)
      }

      async findByUserCode (userCode: string): Promise<AdapterPayload | undefined> {
        return this.#row('user_code = ?', userCode)
      }

      async consume (id: string): Promise<void> {
        const changed = store.db.prepare('UPDATE oauth_store SET consumed_at = ? WHERE model = ? AND key = ? AND consumed_at IS NULL')
          .run(epoch(), this.name, sha256(id)).changes
        if (changed === 1) return
        // Lost the race to a parallel use of the same token or code: a reuse.
        const row = store.db.prepare('SELECT grant_id FROM oauth_store WHERE model = ? AND key = ?').get(this.name, sha256(id)) as { grant_id: string | null } | undefined
        const grantId = row?.grant_id ?? null
        if (grantId !== null) await store.revokeGrant(grantId, this.name === 'AuthorizationCode' ? 'authorization_code_reuse' : 'refresh_token_reuse')
        throw new errors.InvalidGrant(`${this.name === 'AuthorizationCode' ? 'authorization code' : 'refresh token'} already used`)
      }

      async destroy (id: string): Promise<void> {
        store.db.prepare('DELETE FROM oauth_store WHERE model = ? AND key = ?').run(this.name, sha256(id))
      }

      async revokeByGrantId (grantId: string): Promise<void> {
        await store.revokeGrant(grantId, reasonOfRequest())
      }

      #row (where: string, value: string, id?: string): AdapterPayload | undefined {
        const row = store.db.prepare(`SELECT payload, expires_at, consumed_at FROM oauth_store WHERE model = ? AND ${where}`)
          .get(this.name, value) as { payload: string, expires_at: number | null, consumed_at: number | null } | undefined
        if (row === undefined) return undefined
        if (row.expires_at !== null && row.expires_at < epoch()) return undefined
        const payload = JSON.parse(row.payload) as AdapterPayload
        if (id !== undefined) payload.jti = id
        if (row.consumed_at !== null) payload.consumed = row.consumed_at
        return payload
      }
    }
  }
}

/** Why the current request revokes a grant (oidc-provider's request context, if any). */
function reasonOfRequest (): SessionEndReason {
  const ctx = Provider.ctx
  const route = ctx?.oidc?.route
  if (route === 'token') {
    const grantType = ctx?.oidc?.params?.grant_type
    return grantType === 'authorization_code' ? 'authorization_code_reuse' : 'refresh_token_reuse'
  }
  if (route === 'end_session' || route === 'end_session_confirm') return 'sign_out'
  return 'token_revoked'
}
