/**
 * The composition root: opens the event store and the read model, starts the projection,
 * bootstraps a fresh store, and builds the HTTP app on top. main.ts (and the tests) call
 * `openService`; nothing else wires adapters together.
 */
import { mkdirSync } from 'node:fs'
import { join } from 'node:path'
import { Counter, Gauge } from 'prom-client'
import { v7 as uuidv7 } from 'uuid'
import { bootstrap, type BootstrapResult } from './commands/bootstrap.js'
import { createCommands } from './commands/create.js'
import type { Commands } from './commands/deps.js'
import { createPasswordHasher, type PasswordHasher } from './commands/password-hasher.js'
import type { Config } from './config.js'
import { passwordPolicy } from './domain/password-policy.js'
import type { EventStore } from './eventstore/port.js'
import { openEventStore } from './eventstore/open.js'
import { SqliteEventStore } from './eventstore/sqlite.js'
import { buildApp, type App } from './http/app.js'
import { loadOrCreateSigningKeys, type SigningKeys } from './http/keys.js'
import { auditRoutes } from './http/routes/audit.js'
import { authenticationRoutes } from './http/routes/authentication.js'
import { catalogRoutes } from './http/routes/catalogs.js'
import type { RouteDeps } from './http/routes/context.js'
import { eventsRoutes } from './http/routes/events.js'
import { userAssociationsRoutes } from './http/routes/user-associations.js'
import { clientsRoutes } from './http/routes/clients.js'
import { sessionsRoutes } from './http/routes/sessions.js'
import { mfaRoutes } from './http/routes/mfa.js'
import { usersRoutes } from './http/routes/users.js'
import { interactionRoutes } from './oidc/interactions.js'
import { oidcRoutes } from './oidc/mount.js'
import { OAuthService } from './oidc/service.js'
import { InvalidCursorError } from './projections/cursor.js'
import { rebuildReadModel } from './projections/rebuild.js'
import { createProjectionRunner, type ProjectionRunner } from './projections/runner.js'
import { openReadModel, type ReadModel } from './projections/schema.js'
import { getCredentialState } from './projections/user-queries.js'
import { readSeedFile } from './seed-file.js'
import { loadOrCreateSecretBox } from './commands/secret-box.js'

export interface ServiceOptions {
  /** pino options, or false for silence (tests). */
  readonly logger?: boolean | Record<string, unknown>
  readonly clock?: () => Date
  /** Override the KDF (tests use a cheap cost through configuration instead, where they can). */
  readonly hasher?: PasswordHasher
  readonly keys?: SigningKeys
  /** SSE heartbeat interval in milliseconds, overriding IDM_SSE_HEARTBEAT_SECONDS (tests). */
  readonly sseHeartbeatMs?: number
  /**
   * false: /v1 does not check that a token's session (`sid`) is live, as before sessions existed.
   * Only for the benchmark's A/B line (bench/baselines/idm-without-session-check.mjs), which
   * measures what the check costs; no configuration or environment variable reaches it.
   */
  readonly sessionCheck?: boolean
}

export interface Service {
  readonly app: App
  readonly store: EventStore
  readonly readModel: ReadModel
  readonly runner: ProjectionRunner
  readonly commands: Commands
  readonly bootstrap: BootstrapResult
  /** Sessions, the OpenID provider and its token store. */
  readonly oauth: OAuthService
  close(): Promise<void>
}

export async function openService (config: Config, options: ServiceOptions = {}): Promise<Service> {
  mkdirSync(config.dataDir, { recursive: true, mode: 0o700 })
  const clock = options.clock ?? (() => new Date())
  // Connection losses of a networked store are survived; they are logged once the app's logger exists.
  let reportStoreError = (_error: unknown): void => {}
  /** Set once the app (its logger and metrics) exists; a lockout during bootstrap goes unreported. */
  let reportAdminLockout: NonNullable<import('./commands/deps.js').CommandDeps['onAdminLockout']> = () => {}
  const store = await openEventStore(config.eventStore, { onError: (error) => reportStoreError(error) })
  const readModelPath = join(config.dataDir, 'read-model.db')
  let readModel = openReadModel(readModelPath)
  if (readModel.needsRebuild) {
    readModel.close()
    await rebuildReadModel({ store, path: readModelPath })
    readModel = openReadModel(readModelPath)
  }
  const runner = createProjectionRunner({ store, readModel })
  await runner.start()

  const commands = createCommands({
    store,
    clock,
    newId: uuidv7,
    hasher: options.hasher ?? await createPasswordHasher(config.scrypt),
    passwordPolicy: passwordPolicy(config.password.minLength),
    lockoutPolicy: {
      maxFailures: config.lockout.threshold,
      baseLockoutSeconds: config.lockout.baseSeconds,
      maxLockoutSeconds: config.lockout.maxSeconds
    },
    onAdminLockout: (lockout) => reportAdminLockout(lockout)
  })
  const booted = await bootstrap(commands, {
    adminUsername: config.admin.username,
    ...(config.admin.password === null ? {} : { adminPassword: config.admin.password }),
    ...(config.seedFile === null ? {} : { seed: readSeedFile(config.seedFile) })
  }, { actor: { id: null, username: 'system' }, correlationId: `bootstrap-${uuidv7()}`, commandId: uuidv7() })
  await runner.waitFor(await store.headPosition(), config.projectionWaitMs)

  const keys = options.keys ?? loadOrCreateSigningKeys({ keyFile: config.token.signingKeyFile })
  const oauth = new OAuthService({
    config,
    keys,
    store,
    db: readModel.db,
    runner,
    sessionDeps: { ...commands, sessionLifetimes: { idleSeconds: config.sessions.idleSeconds, absoluteSeconds: config.sessions.absoluteSeconds } },
    tokenStorePath: join(config.dataDir, 'oauth.db'),
    clock
  })
  await oauth.start()
  const secretBox = loadOrCreateSecretBox(config.mfa.keyFile)
  const routeDeps: RouteDeps = {
    commands,
    mfa: { ...commands, secretBox, totpIssuer: config.mfa.totpIssuer },
    db: readModel.db,
    waitFor: (position, timeoutMs) => runner.waitFor(position, timeoutMs),
    projectionWaitMs: config.projectionWaitMs,
    oauth
  }
  const app = await buildApp({
    config,
    keys,
    credentials: { lookup: userId => getCredentialState(readModel.db, userId) },
    ...(options.sessionCheck === false ? {} : { sessions: oauth.sessions }),
    clients: oauth.clients,
    plugins: [
      { plugin: oidcRoutes, options: { provider: oauth.provider, issuer: oauth.issuer } },
      { plugin: interactionRoutes, options: { ...routeDeps, provider: oauth.provider, issuer: oauth.issuer, stylesheet: oauth.stylesheet } }
    ],
    ...(options.logger === undefined ? {} : { logger: options.logger }),
    clock,
    ready: () => runner.state === 'running' && runner.caughtUp,
    waitForPosition: (position, timeoutMs) => runner.waitFor(position, timeoutMs),
    headPosition: async () => await store.headPosition(),
    routes: [
      { plugin: authenticationRoutes, options: routeDeps },
      { plugin: usersRoutes, options: routeDeps },
      { plugin: userAssociationsRoutes, options: routeDeps },
      { plugin: sessionsRoutes, options: routeDeps },
      { plugin: mfaRoutes, options: routeDeps },
      { plugin: clientsRoutes, options: { ...routeDeps, clientDeps: { ...commands, secretOverlapSeconds: config.oauth.secretOverlapSeconds } } },
      { plugin: catalogRoutes, options: routeDeps },
      { plugin: auditRoutes, options: routeDeps },
      { plugin: eventsRoutes, options: { ...routeDeps, ...(options.sseHeartbeatMs === undefined ? {} : { sseHeartbeatMs: options.sseHeartbeatMs }) } }
    ],
    errorMappers: [err => err instanceof InvalidCursorError
      ? { status: 400, slug: 'invalid-cursor', title: 'Invalid cursor', detail: 'The cursor is not one this list handed out.', extensions: { errors: [{ path: '/query/cursor', message: 'is not a valid cursor' }] } }
      : undefined]
  })
  registerServiceMetrics(app, store, runner)
  const adminLockouts = new Counter({
    name: 'idm_admin_lockouts_total',
    help: 'Lockouts of identity-admin accounts (failed sign-ins from clients that are not a trusted device of the account)',
    registers: [app.metrics.registry]
  })
  reportAdminLockout = (lockout) => {
    adminLockouts.inc()
    app.log.warn({ userId: lockout.userId, username: lockout.username, lockedUntil: lockout.lockedUntil },
      'an identity-admin account is locked out (sign-ins from its trusted devices still work; `idm users unlock` ends it)')
  }
  for (const warning of secretBox.warnings) app.log.warn(warning)
  reportStoreError = (err) => app.log.warn({ err }, 'event store connection lost; retrying')

  let closed = false
  return {
    app,
    store,
    readModel,
    runner,
    commands,
    bootstrap: booted,
    oauth,
    async close () {
      if (closed) return
      closed = true
      await app.close()
      await oauth.close()
      await runner.stop()
      await store.close()
      readModel.close()
    }
  }
}

function registerServiceMetrics (app: App, store: EventStore, runner: ProjectionRunner): void {
  const registry = app.metrics.registry
  const applied = new Gauge({ name: 'idm_projection_position', help: 'Global position the local read model has applied', registers: [registry] })
  runner.on('batch', batch => applied.set(batch.to))
  applied.set(runner.position)
  new Gauge({ // eslint-disable-line no-new
    name: 'idm_projection_lag_events',
    help: 'Events committed to the event store that the local read model has not applied yet',
    registers: [registry],
    async collect () { this.set(Math.max(0, (await store.headPosition()) - runner.position)) }
  })
  if (store instanceof SqliteEventStore) {
    // Appends per group commit = appends ÷ commits: how many commands share one fsync.
    new Gauge({ // eslint-disable-line no-new
      name: 'idm_eventstore_group_commits',
      help: 'Group commits (one transaction and one fsync each) this process made since it started',
      registers: [registry],
      collect () { this.set(store.stats().transactions) }
    })
    new Gauge({ // eslint-disable-line no-new
      name: 'idm_eventstore_group_commit_appends',
      help: 'Append calls (one per stream written by a command) committed through group commits since start',
      registers: [registry],
      collect () { this.set(store.stats().appends) }
    })
  }
}
