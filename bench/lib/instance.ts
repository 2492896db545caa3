/**
 * An instance of the real server for the bench: a fresh data directory, bootstrapped by a first
 * start (admin, system roles, identification types), stopped, seeded through the event store
 * (bench/lib/seed.ts), its read model rebuilt from the log with `idm projections rebuild` (the
 * projections, as an operator does after a restore: the server stopped), and started again.
 *
 * Why not let the starting server's projection catch up instead: it can, but a live read model
 * keeps its eleven secondary indexes up to date on every insert, in random order, and a full run
 * measured that catch-up at about 1,200 events/s for a million events on a loaded two-core
 * machine (14 minutes), where the rebuild builds the indexes once at the end. `catchUp: true`
 * measures the catch-up instead.
 */
import { mkdirSync } from 'node:fs'
import { join } from 'node:path'
import { createPasswordHasher, type ScryptCost } from '../../src/commands/password-hasher.js'
import { login } from './api.js'
import { startIdm, type Running } from './processes.js'
import { cliRebuild } from '../scenarios/rebuild.js'
import { benchProfile, seedUsers, type SeedUsersResult } from './seed.js'

export const ADMIN_PASSWORD = 'bench operator secret, long enough'
export const USER_PASSWORD = 'correct horse battery staple, bench'

export interface InstanceOptions {
  readonly name: string
  readonly root: string
  readonly users: number
  readonly cost: ScryptCost
  readonly nodeArgs?: readonly string[]
  /** The server's entry point (default dist/main.js); bench/tools/hot-path-ab.ts passes older builds. */
  readonly entry?: string
  /** Let the starting server's projection catch up with the seeded log instead of rebuilding first. */
  readonly catchUp?: boolean
  /** Extra server environment (experiments: `npm run bench -- --env IDM_LOG_LEVEL=warn`). */
  readonly env?: NodeJS.ProcessEnv
  readonly log: (line: string) => void
}

export interface Instance {
  readonly name: string
  readonly dataDir: string
  readonly server: Running
  readonly seed: SeedUsersResult
  /** Milliseconds the seeded start took (projection catch-up included, when there is one). */
  readonly catchUpMs: number
  /** Seconds `idm projections rebuild` took on the seeded log (null with catchUp). */
  readonly rebuildSeconds: number | null
  /** Milliseconds the first start (empty store, bootstrap) took: the start-up cost without catch-up. */
  readonly emptyStartMs: number
  readonly cost: ScryptCost
  adminToken(): Promise<string>
  /** Username of seeded user i (all share USER_PASSWORD). */
  username(i: number): string
  stop(): Promise<void>
}

/**
 * The server's configuration for the bench: the defaults, except the KDF cost (given), the data
 * directory and port, and the login rate limits, raised so that the load generator (one address,
 * few usernames) measures logins rather than 429s. Lockout never triggers: passwords are right.
 */
export const serverEnv = (cost: ScryptCost): NodeJS.ProcessEnv => ({
  IDM_ADMIN_PASSWORD: ADMIN_PASSWORD,
  IDM_SCRYPT_LOGN: String(cost.logN), IDM_MFA_REQUIRED_ROLES: '', IDM_STEP_UP_SECONDS: '0',
  IDM_SCRYPT_R: String(cost.r),
  IDM_SCRYPT_P: String(cost.p),
  IDM_LOGIN_RATE_LIMIT: '100000',
  IDM_LOGIN_RATE_LIMIT_PER_USERNAME: '100000',
  // The sse-flood line opens its 1,025 streams with one token.
  IDM_SSE_MAX_PER_PRINCIPAL: '5000'
})

export async function openInstance (options: InstanceOptions): Promise<Instance> {
  const dataDir = join(options.root, options.name)
  mkdirSync(dataDir, { recursive: true })
  const logFile = join(options.root, `${options.name}.log`)
  const env = { ...serverEnv(options.cost), ...options.env }

  const entry = options.entry === undefined ? {} : { entry: options.entry }
  const first = await startIdm({ dataDir, logFile, env, ...entry })
  await first.stop()

  const hasher = await createPasswordHasher(options.cost)
  const passwordHash = await hasher.hash(USER_PASSWORD)
  options.log(`  seeding ${options.users.toLocaleString('en-US')} users through the event store…`)
  // Every id is kept: the GET-by-id line draws its ids at random from all of them.
  const seed = await seedUsers(dataDir, { count: options.users, passwordHash, keepIds: options.users })
  options.log(`  seeded ${seed.events.toLocaleString('en-US')} events in ${seed.seconds.toFixed(1)} s`)
  let rebuildSeconds: number | null = null
  if (options.catchUp !== true) {
    const rebuilt = await cliRebuild(dataDir)
    rebuildSeconds = rebuilt.seconds
    options.log(`  idm projections rebuild: ${rebuilt.events.toLocaleString('en-US')} events in ${rebuilt.seconds.toFixed(1)} s`)
  }
  const server = await startIdm({ dataDir, logFile, env, ...entry, ...(options.nodeArgs === undefined ? {} : { nodeArgs: options.nodeArgs }) })
  options.log(`  ${options.name} listening on ${server.url} after ${(server.readyMs / 1000).toFixed(1)} s`)
  return {
    name: options.name,
    dataDir,
    server,
    seed,
    catchUpMs: server.readyMs,
    rebuildSeconds,
    emptyStartMs: first.readyMs,
    cost: options.cost,
    adminToken: async () => await login(server.url, 'admin', ADMIN_PASSWORD),
    username: (i) => benchProfile(i).username,
    stop: async () => await server.stop()
  }
}
