/**
 * The PostgreSQL the tests run against, and a fresh database per test so that parallel test
 * files never see each other's events. IDM_TEST_POSTGRES_URL names a server (any database on it:
 * the tests create their own); without it a local server on the default socket is tried. When
 * none answers the suites skip with the reason, except under CI=true, where they fail: CI starts
 * PostgreSQL (.ci/run), so a missing server there is a broken build, not a reason to skip.
 */
import { execFileSync } from 'node:child_process'
import { randomBytes } from 'node:crypto'
import pg from 'pg'
import type { Test } from 'tap'

const LOCAL_SOCKET = 'postgresql://root@/postgres?host=/var/run/postgresql'

export interface PostgresServer {
  /** A connection string for the server's maintenance database. */
  readonly adminUrl: string
}

let probed: Promise<PostgresServer | string> | undefined

/** The server, or the reason there is none. */
export async function findPostgres (): Promise<PostgresServer | string> {
  probed ??= (async () => {
    const configured = process.env.IDM_TEST_POSTGRES_URL?.trim() ?? ''
    const adminUrl = configured === '' ? LOCAL_SOCKET : configured
    const client = new pg.Client({ connectionString: adminUrl, connectionTimeoutMillis: 3000 })
    try {
      await client.connect()
      await client.query('SELECT 1')
      return { adminUrl }
    } catch (error) {
      const source = configured === '' ? `no IDM_TEST_POSTGRES_URL and no local server at ${LOCAL_SOCKET}` : `IDM_TEST_POSTGRES_URL=${configured} does not answer`
      return `${source} (${error instanceof Error ? error.message : String(error)}); start one: pg_ctlcluster 15 main start && su postgres -c "createuser -s root"`
    } finally {
      await client.end().catch(() => {})
    }
  })()
  return await probed
}

/**
 * Runs `body` with a server, or: fails (CI=true) / skips with the reason (locally). Use at the
 * top of a test file: `const server = await requirePostgres(t, 'contract suite'); if (!server) …`.
 */
export async function requirePostgres (t: Test, what: string): Promise<PostgresServer | undefined> {
  const found = await findPostgres()
  if (typeof found !== 'string') return found
  if (process.env.CI === 'true') {
    t.fail(`PostgreSQL ${what}: no server under CI=true: ${found}`)
  } else {
    t.comment(`PostgreSQL ${what} skipped: ${found}`)
    t.test(`PostgreSQL ${what}`, { skip: found }, async () => {})
  }
  return undefined
}

/** Replaces the database of a connection string. */
export function withDatabase (url: string, database: string): string {
  const match = /^([a-z]+:\/\/[^/?]*)(?:\/[^?]*)?(\?.*)?$/i.exec(url)
  if (match === null) throw new Error(`not a connection string: ${url}`)
  return `${match[1]}/${database}${match[2] ?? ''}`
}

async function admin<T> (server: PostgresServer, run: (client: pg.Client) => Promise<T>): Promise<T> {
  const client = new pg.Client({ connectionString: server.adminUrl, connectionTimeoutMillis: 5000 })
  await client.connect()
  try {
    return await run(client)
  } finally {
    await client.end().catch(() => {})
  }
}

/** A new, empty database (random name); `drop` removes it, connections and all. */
export async function createDatabase (server: PostgresServer, prefix = 'idm_test'): Promise<{ name: string, url: string, drop: () => Promise<void> }> {
  const name = `${prefix}_${randomBytes(6).toString('hex')}`
  await admin(server, async (client) => await client.query(`CREATE DATABASE ${name}`))
  return {
    name,
    url: withDatabase(server.adminUrl, name),
    drop: async () => {
      await admin(server, async (client) => await client.query(`DROP DATABASE IF EXISTS ${name} WITH (FORCE)`))
    }
  }
}

/** A database for one test, dropped when the test ends. */
export async function testDatabase (t: Test, server: PostgresServer, prefix?: string): Promise<string> {
  const db = await createDatabase(server, prefix)
  t.teardown(db.drop)
  return db.url
}

/**
 * The local cluster behind the test server, for the fault suite that stops and starts it
 * (Debian's pg_ctlcluster). A reason string when there is none to control.
 */
export function localCluster (): { version: string, name: string } | string {
  try {
    const lines = execFileSync('pg_lsclusters', ['-h'], { encoding: 'utf8' }).trim().split('\n')
    const online = lines.map((line) => line.split(/\s+/)).find((fields) => fields[3]?.startsWith('online') === true)
    if (online === undefined) return 'pg_lsclusters shows no online cluster'
    return { version: online[0]!, name: online[1]! }
  } catch (error) {
    return `no pg_ctlcluster here to stop and start PostgreSQL (${error instanceof Error ? error.message : String(error)})`
  }
}

export function controlCluster (cluster: { version: string, name: string }, action: 'stop' | 'start'): void {
  const args = action === 'stop' ? [cluster.version, cluster.name, 'stop', '-m', 'fast'] : [cluster.version, cluster.name, 'start']
  execFileSync('pg_ctlcluster', args, { stdio: 'ignore' })
}
