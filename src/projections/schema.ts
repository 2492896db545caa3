/**
 * The read model's SQLite file: schema, pragmas and the schema-version check.
 *
 * It is derived data (the event log is the truth), so it runs with `synchronous = NORMAL`: the
 * checkpoint commits in the same transaction as the rows it describes, and a tail lost to a power
 * cut is simply applied again from the log.
 */
import Database from 'better-sqlite3'

/** Bump on any change to the DDL below or to what a projection writes: old files get rebuilt. */
export const SCHEMA_VERSION = 4

export type Db = Database.Database

export interface ReadModel {
  readonly db: Db
  readonly path: string
  /** The file holds another schema version: rebuild it (rebuildReadModel) before projecting. */
  readonly needsRebuild: boolean
  /** The `user_version` found on open (0 for a new file). */
  readonly storedSchemaVersion: number
  close(): void
}

export interface OpenReadModelOptions {
  /** Page cache per connection in KiB (default 64 MiB): the user search walks indexes. */
  readonly cacheSizeKiB?: number
  /** Bytes of the file SQLite reads through a memory map (default 1 GiB); 0 reads with pread. */
  readonly mmapSizeBytes?: number
}

/**
 * GET by id and the token check read random rows of a table far larger than the page cache: each
 * page missing from it was a pread system call and a copy of the page. Through the map, a page the
 * operating system holds is read in place (measured at a million users, random ids, in-process
 * with bench/tools/read-model-ab.ts, warm, medians of 3: 25.9 → 22.4 µs of CPU per
 * credential-state + user-view pair, the `mar` search page 7.1 → 4.7 ms; over HTTP, search at 8
 * connections 4,448 → 4,140 µs of server CPU per request, bench/tools/hot-path-ab.ts). Mapped
 * pages are the kernel's page cache, shared and reclaimable, but they count in the process's RSS
 * (RssFile in /proc/<pid>/status, not RssAnon). Writes still go through write(), so a full disk
 * is still an error code, never a signal.
 */
export const READ_MODEL_MMAP_BYTES = 2 ** 30

/**
 * Tables: users (one row per user, with denormalized sorted JSON arrays of roles, companies and
 * providers for one-row reads), the three association tables (with the immutable username copied
 * in, so a filter on a role walks that role's users already in username order), the four
 * catalogs and the projection checkpoints.
 *
 * The `*_lower` columns hold search keys (NFKC, then lower-cased in JavaScript: SQLite's own
 * lower() only folds ASCII). `users_search` covers every column the `q` prefix search looks at, so
 * the search can walk it in username order without touching the table; the other search indexes
 * end with the username so that each distinct value is a run in username order.
 */
export const TABLES_DDL = `
CREATE TABLE users (
  id TEXT PRIMARY KEY NOT NULL,
  username TEXT NOT NULL,
  email TEXT NOT NULL,
  email_lower TEXT NOT NULL,
  first_name TEXT NOT NULL,
  first_name_lower TEXT NOT NULL,
  last_name TEXT NOT NULL,
  last_name_lower TEXT NOT NULL,
  identification_type TEXT NOT NULL,
  identification_number TEXT NOT NULL,
  phone TEXT,
  status TEXT NOT NULL CHECK (status IN ('active', 'inactive')),
  locked_until TEXT,
  credential_version INTEGER NOT NULL DEFAULT 0,
  last_login_at TEXT,
  created_at TEXT NOT NULL,
  updated_at TEXT NOT NULL,
  version INTEGER NOT NULL,
  roles TEXT NOT NULL DEFAULT '[]',
  companies TEXT NOT NULL DEFAULT '[]',
  providers TEXT NOT NULL DEFAULT '[]',
  company_roles TEXT NOT NULL DEFAULT '[]'
);

CREATE TABLE user_company_roles (
  user_id TEXT NOT NULL,
  company_id TEXT NOT NULL,
  role_id TEXT NOT NULL,
  PRIMARY KEY (user_id, company_id, role_id)
) WITHOUT ROWID;

CREATE TABLE user_roles (
  user_id TEXT NOT NULL,
  role_id TEXT NOT NULL,
  username TEXT NOT NULL,
  PRIMARY KEY (user_id, role_id)
) WITHOUT ROWID;

CREATE TABLE user_companies (
  user_id TEXT NOT NULL,
  company_id TEXT NOT NULL,
  username TEXT NOT NULL,
  PRIMARY KEY (user_id, company_id)
) WITHOUT ROWID;

CREATE TABLE user_providers (
  user_id TEXT NOT NULL,
  provider_id TEXT NOT NULL,
  username TEXT NOT NULL,
  external_user_id TEXT,
  PRIMARY KEY (user_id, provider_id)
) WITHOUT ROWID;

CREATE TABLE roles (
  id TEXT PRIMARY KEY NOT NULL,
  name TEXT NOT NULL,
  description TEXT NOT NULL,
  status TEXT NOT NULL CHECK (status IN ('active', 'inactive')),
  system INTEGER NOT NULL,
  created_at TEXT NOT NULL,
  updated_at TEXT NOT NULL,
  version INTEGER NOT NULL
) WITHOUT ROWID;

CREATE TABLE companies (
  id TEXT PRIMARY KEY NOT NULL,
  name TEXT NOT NULL,
  identification_type TEXT,
  identification_number TEXT,
  status TEXT NOT NULL CHECK (status IN ('active', 'inactive')),
  created_at TEXT NOT NULL,
  updated_at TEXT NOT NULL,
  version INTEGER NOT NULL
) WITHOUT ROWID;

CREATE TABLE providers (
  id TEXT PRIMARY KEY NOT NULL,
  name TEXT NOT NULL,
  identification_type TEXT,
  identification_number TEXT,
  status TEXT NOT NULL CHECK (status IN ('active', 'inactive')),
  created_at TEXT NOT NULL,
  updated_at TEXT NOT NULL,
  version INTEGER NOT NULL
) WITHOUT ROWID;

CREATE TABLE identification_types (
  id TEXT PRIMARY KEY NOT NULL,
  name TEXT NOT NULL,
  status TEXT NOT NULL CHECK (status IN ('active', 'inactive')),
  created_at TEXT NOT NULL,
  updated_at TEXT NOT NULL,
  version INTEGER NOT NULL
) WITHOUT ROWID;

CREATE TABLE sessions (
  id TEXT PRIMARY KEY NOT NULL,
  user_id TEXT NOT NULL,
  client_id TEXT NOT NULL,
  amr TEXT NOT NULL,
  client_address TEXT,
  user_agent TEXT,
  credential_version INTEGER NOT NULL,
  status TEXT NOT NULL CHECK (status IN ('active', 'ended')),
  end_reason TEXT,
  started_at TEXT NOT NULL,
  last_refreshed_at TEXT,
  idle_expires_at TEXT NOT NULL,
  expires_at TEXT NOT NULL,
  ended_at TEXT,
  position INTEGER NOT NULL
) WITHOUT ROWID;

CREATE TABLE clients (
  id TEXT PRIMARY KEY NOT NULL,
  name TEXT NOT NULL,
  type TEXT NOT NULL CHECK (type IN ('confidential', 'public')),
  status TEXT NOT NULL CHECK (status IN ('active', 'inactive')),
  grant_types TEXT NOT NULL,
  redirect_uris TEXT NOT NULL,
  post_logout_redirect_uris TEXT NOT NULL,
  roles TEXT NOT NULL,
  third_party INTEGER NOT NULL,
  secret_hash TEXT,
  previous_secret_hash TEXT,
  previous_expires_at TEXT,
  created_at TEXT NOT NULL,
  updated_at TEXT NOT NULL,
  version INTEGER NOT NULL,
  position INTEGER NOT NULL
) WITHOUT ROWID;

CREATE TABLE checkpoints (
  projection TEXT PRIMARY KEY NOT NULL,
  position INTEGER NOT NULL
) WITHOUT ROWID;
`

/** Secondary indexes: every filter of GET /v1/users. Projections need only the primary keys, so a rebuild creates these last. */
export const INDEXES_DDL = `
CREATE INDEX users_search ON users (username, email_lower, first_name_lower, last_name_lower);
CREATE INDEX users_email ON users (email_lower, username);
CREATE INDEX users_first_name ON users (first_name_lower, username);
CREATE INDEX users_last_name ON users (last_name_lower, username);
CREATE INDEX users_status ON users (status, username);
CREATE INDEX users_locked ON users (username) WHERE locked_until IS NOT NULL;
CREATE INDEX users_identification ON users (identification_number, identification_type);
CREATE INDEX users_identification_type ON users (identification_type, username);
CREATE INDEX user_roles_by_role ON user_roles (role_id, username);
CREATE INDEX user_companies_by_company ON user_companies (company_id, username);
CREATE INDEX user_providers_by_provider ON user_providers (provider_id, username);
CREATE INDEX sessions_by_user ON sessions (user_id, started_at, id);
CREATE INDEX sessions_by_position ON sessions (position);
CREATE INDEX clients_by_position ON clients (position);
CREATE INDEX clients_by_name ON clients (name, id);
`

export const DDL = TABLES_DDL + INDEXES_DDL

/** Creates the schema in an empty database and stamps its version. */
export function createSchema (db: Db, options: { indexes?: boolean } = {}): void {
  db.transaction(() => {
    db.exec(options.indexes === false ? TABLES_DDL : DDL)
    db.pragma(`user_version = ${SCHEMA_VERSION}`)
  })()
}

function isEmpty (db: Db): boolean {
  const row = db.prepare("SELECT count(*) AS n FROM sqlite_master WHERE type = 'table' AND name NOT LIKE 'sqlite_%'").get() as { n: number }
  return row.n === 0
}

/**
 * Opens (creating if needed) the read model at `path` — never the event store's file. A file
 * stamped with another schema version is left untouched and reported through `needsRebuild`.
 */
export function openReadModel (path: string, options: OpenReadModelOptions = {}): ReadModel {
  const db = new Database(path)
  try {
    db.pragma('journal_mode = WAL')
    // better-sqlite3 already switches WAL databases to NORMAL; say it so the choice is visible.
    db.pragma('synchronous = NORMAL')
    db.pragma('busy_timeout = 5000')
    db.pragma('temp_store = MEMORY')
    db.pragma(`cache_size = ${-Math.max(1024, Math.floor(options.cacheSizeKiB ?? 65536))}`)
    db.pragma(`mmap_size = ${Math.max(0, Math.floor(options.mmapSizeBytes ?? READ_MODEL_MMAP_BYTES))}`)
    const stored = db.pragma('user_version', { simple: true }) as number
    let needsRebuild = false
    if (stored === 0 && isEmpty(db)) createSchema(db)
    else if (stored !== SCHEMA_VERSION) needsRebuild = true
    return {
      db,
      path,
      needsRebuild,
      storedSchemaVersion: stored,
      close: () => { if (db.open) db.close() }
    }
  } catch (err) {
    db.close()
    throw err
  }
}
