#!/usr/bin/env node
/**
 * `idm`, the operator's command line. Every command reads the same configuration as the server
 * (`loadConfig(process.env)`: IDM_DATA_DIR, IDM_EVENTSTORE, …) and exits 0 on success, 1 on an
 * error (bad configuration, a refused or failed operation), 2 when a hash chain is broken.
 *
 *   idm serve                        the server (what `npm start` runs)
 *   idm projections rebuild          rebuild the read model from the log (server stopped)
 *   idm audit verify                 check every stream's hash chain
 *   idm events export [--after N]    full NDJSON backup to stdout (holds password hashes!)
 *   idm events import                restore such a backup into an empty store
 *   idm users create-admin           register an identity-admin
 *   idm keys list|add|activate|retire   rotate the token signing key (docs/reliability.md)
 */
import { createReadStream, createWriteStream, existsSync, mkdirSync, readFileSync } from 'node:fs'
import { once } from 'node:events'
import { dirname, join } from 'node:path'
import { createInterface } from 'node:readline'
import type { Writable } from 'node:stream'
import { Command, InvalidArgumentError } from 'commander'
import type { VerifyResult } from './audit/verify.js'
import { ConfigError, loadConfig, type Config } from './config.js'
import type { EventStore } from './eventstore/port.js'

// Each command imports what it needs when it runs, so `idm --help` or `idm audit verify` do not
// load the HTTP stack.

/** A failure to report in one line, with its exit code. */
class CliError extends Error {
  constructor (message: string, readonly exitCode = 1) {
    super(message)
    this.name = 'CliError'
  }
}

const EXIT_BROKEN = 2

function config (): Config {
  try {
    return loadConfig(process.env)
  } catch (err) {
    if (err instanceof ConfigError) throw new CliError(err.message)
    throw err
  }
}

/** Where a SQLite event store lives (IDM_EVENTSTORE=sqlite or sqlite:<path>). */
const eventStorePath = (cfg: Config): string => cfg.eventStore.kind === 'sqlite' ? cfg.eventStore.path : join(cfg.dataDir, 'events.db')

/**
 * Opens the configured event store. `existing`: a SQLite store must already be there (reading
 * commands must not leave an empty database behind in a mistyped directory).
 */
async function withStore<T> (cfg: Config, mode: 'existing' | 'create', run: (store: EventStore) => Promise<T>): Promise<T> {
  if (cfg.eventStore.kind === 'sqlite') {
    const path = eventStorePath(cfg)
    if (mode === 'existing' && !existsSync(path)) {
      throw new CliError(`there is no event store at ${path} (check IDM_DATA_DIR and IDM_EVENTSTORE)`)
    }
    if (mode === 'create') {
      mkdirSync(cfg.dataDir, { recursive: true, mode: 0o700 })
      mkdirSync(dirname(path), { recursive: true, mode: 0o700 })
    }
  }
  const store: EventStore = cfg.eventStore.kind === 'sqlite'
    ? (await import('./eventstore/sqlite.js')).openSqliteEventStore({ path: eventStorePath(cfg) })
    : (await import('./eventstore/eventstoredb.js')).openEventStoreDbEventStore({ connectionString: cfg.eventStore.connectionString })
  try {
    return await run(store)
  } finally {
    await store.close()
  }
}

/** A progress bar on stderr (drawn only on a terminal): done, rate and ETA. */
async function progress (label: string): Promise<{ update: (done: number, total: number) => void, stop: () => void }> {
  const { Presets, SingleBar } = await import('cli-progress')
  const bar = new SingleBar({
    format: `${label} |{bar}| {value}/{total} events | {rate} events/s | ETA {eta_formatted}`,
    stream: process.stderr,
    hideCursor: true,
    etaBuffer: 50
  }, Presets.shades_classic)
  const started = Date.now()
  let running = false
  return {
    update (done, total) {
      const rate = Math.round(done / Math.max(0.001, (Date.now() - started) / 1000))
      if (!running) { bar.start(total, 0, { rate }); running = true }
      bar.setTotal(total)
      bar.update(done, { rate })
    },
    stop () { if (running) bar.stop() }
  }
}

/** True when another connection (a running server) has the SQLite file open. */
async function inUse (path: string): Promise<boolean> {
  if (!existsSync(path)) return false
  const { default: Database } = await import('better-sqlite3')
  const db = new Database(path, { timeout: 0 })
  try {
    // A WAL-mode connection holds a shared lock for as long as it is open: an exclusive lock
    // is only granted when nobody else has the file.
    db.pragma('locking_mode = EXCLUSIVE')
    db.exec('BEGIN EXCLUSIVE')
    db.exec('COMMIT')
    return false
  } catch (err) {
    if ((err as { code?: string }).code === 'SQLITE_BUSY') return true
    throw err
  } finally {
    db.close()
  }
}

async function writeTo (out: Writable, chunk: string): Promise<void> {
  if (!out.write(chunk)) await once(out, 'drain')
}

function printVerification (result: VerifyResult, json: boolean): void {
  if (json) {
    process.stdout.write(`${JSON.stringify(result)}\n`)
    return
  }
  if (result.ok) {
    process.stdout.write(`ok: ${result.events} events in ${result.streams} streams, every hash chain intact\n`)
    return
  }
  process.stdout.write(`BROKEN: ${result.brokenLinks.length}${result.truncated ? '+' : ''} broken links in ${result.events} events, ${result.streams} streams\n`)
  for (const link of result.brokenLinks) {
    process.stdout.write(`  stream ${link.stream} revision ${link.revision}: expected ${link.expected}, found ${link.found || '(nothing)'}\n`)
  }
}

function position (value: string): number {
  if (!/^(0|[1-9][0-9]{0,15})$/.test(value) || !Number.isSafeInteger(Number(value))) throw new InvalidArgumentError('must be a position (an integer ≥ 0)')
  return Number(value)
}

// ── commands ─────────────────────────────────────────────────────────────────────────────────

async function rebuild (): Promise<void> {
  const cfg = config()
  const readModelPath = join(cfg.dataDir, 'read-model.db')
  if (await inUse(readModelPath)) {
    throw new CliError(`the read model ${readModelPath} is in use (is the server running?); stop it first: a rebuild replaces the file`)
  }
  const { rebuildReadModel } = await import('./projections/rebuild.js')
  await withStore(cfg, 'existing', async (store) => {
    const bar = await progress('rebuild')
    const started = Date.now()
    let result
    try {
      result = await rebuildReadModel({ store, path: readModelPath, onProgress: bar.update })
    } finally {
      bar.stop()
    }
    const seconds = (Date.now() - started) / 1000
    process.stdout.write(`rebuilt ${readModelPath} from ${result.events} events in ${seconds.toFixed(1)} s\n`)
  })
}

async function verify (options: { json?: boolean }): Promise<void> {
  const cfg = config()
  const { verifyLog } = await import('./audit/verify.js')
  const result = await withStore(cfg, 'existing', async (store) => {
    const bar = await progress('verify')
    try {
      return await verifyLog(store, { onProgress: bar.update })
    } finally {
      bar.stop()
    }
  })
  printVerification(result, options.json === true)
  if (!result.ok) process.exitCode = EXIT_BROKEN
}

async function exportCommand (options: { after?: number, output?: string }): Promise<void> {
  const cfg = config()
  const { exportEvents } = await import('./audit/backup.js')
  const out: Writable = options.output === undefined ? process.stdout : createWriteStream(options.output, { flags: 'wx', mode: 0o600 })
  if (options.output !== undefined) await once(out, 'open').catch((err: NodeJS.ErrnoException) => { throw new CliError(`cannot create ${options.output}: ${err.code ?? err.message}`) })
  const { events } = await withStore(cfg, 'existing', async (store) =>
    await exportEvents(store, async chunk => await writeTo(out, chunk), { after: options.after ?? 0 }))
  if (out !== process.stdout) {
    out.end()
    await once(out, 'finish')
  }
  process.stderr.write(`exported ${events} events. The export holds password hashes: keep it as safe as the database.\n`)
}

async function importCommand (options: { input?: string }): Promise<void> {
  const cfg = config()
  const { importEvents, ImportError } = await import('./audit/backup.js')
  const input = options.input === undefined ? process.stdin : createReadStream(options.input)
  const reader = createInterface({ input, crlfDelay: Infinity })
  // Iterate from now on: readline's iterator buffers lines from its creation, while lines emitted
  // before it exists (during the awaits below) would be lost.
  const iterator = reader[Symbol.asyncIterator]()
  const lines: AsyncIterable<string> = { [Symbol.asyncIterator]: () => iterator }
  const result = await withStore(cfg, 'create', async (store) => {
    try {
      return await importEvents(store, lines)
    } catch (err) {
      if (!(err instanceof ImportError)) throw err
      const partial = (await store.headPosition()) > 0
        ? ` The store now holds part of the input: delete it (${cfg.eventStore.kind === 'sqlite' ? eventStorePath(cfg) : 'the EventStoreDB database'}) before trying again.`
        : ''
      throw new CliError(`import refused: ${err.message}.${partial}`)
    } finally {
      reader.close()
    }
  })
  process.stdout.write(`imported ${result.events} events in ${result.streams} streams\n`)
  if (!result.verification.ok) {
    printVerification(result.verification, false)
    process.exitCode = EXIT_BROKEN
  }
}

interface AdminOptions {
  username: string
  password: string
  email?: string
  firstName?: string
  lastName?: string
  identificationType?: string
  identificationNumber?: string
}

async function createAdmin (options: AdminOptions): Promise<void> {
  const cfg = config()
  const [{ v7: uuidv7 }, { bootstrap }, { SYSTEM_ACTOR }, { createKeyedLock }, { createPasswordHasher }, { registerUser, updateProfile },
    { DomainError }, { passwordPolicy }, { ADMIN_ROLE }] = await Promise.all([
    import('uuid'), import('./commands/bootstrap.js'), import('./commands/handler.js'), import('./commands/keyed-lock.js'),
    import('./commands/password-hasher.js'), import('./commands/users.js'), import('./domain/errors.js'),
    import('./domain/password-policy.js'), import('./domain/user.js')
  ])
  await withStore(cfg, 'create', async (store) => {
    const deps: import('./commands/deps.js').CommandDeps = {
      store,
      clock: () => new Date(),
      newId: uuidv7,
      hasher: await createPasswordHasher(cfg.scrypt),
      passwordPolicy: passwordPolicy(cfg.password.minLength),
      lockoutPolicy: { maxFailures: cfg.lockout.threshold, baseLockoutSeconds: cfg.lockout.baseSeconds, maxLockoutSeconds: cfg.lockout.maxSeconds },
      loginLock: createKeyedLock()
    }
    const ctx = { actor: { id: null, username: 'idm-cli' }, correlationId: `cli-${uuidv7()}`, commandId: uuidv7() }
    const profile = (username: string) => ({
      email: options.email ?? `${username.replace(/@.*/, '')}@localhost.invalid`,
      firstName: options.firstName ?? 'Identity',
      lastName: options.lastName ?? 'Administrator',
      identificationType: options.identificationType ?? 'CC',
      identificationNumber: options.identificationNumber ?? `ADMIN-${username.replace(/[^A-Za-z0-9]/g, '').slice(0, 20) || 'X'}`,
      phone: null
    })
    try {
      // A store that was never started gets its system roles and identification types first; if
      // it has no admin at all, bootstrap registers this one (as the server's first start would).
      const booted = await bootstrap(deps, { adminUsername: options.username, adminPassword: options.password }, { ...ctx, actor: SYSTEM_ACTOR })
      let userId: string
      if (booted.adminCreated === null) {
        userId = (await registerUser(deps, { username: options.username, password: options.password, ...profile(options.username), roles: [ADMIN_ROLE] }, ctx)).userId
      } else {
        userId = booted.adminCreated.userId
        const wanted = [options.email, options.firstName, options.lastName, options.identificationType, options.identificationNumber]
        if (wanted.some(v => v !== undefined)) await updateProfile(deps, userId, profile(booted.adminCreated.username), ctx)
      }
      process.stdout.write(`created identity-admin ${options.username.normalize('NFKC').toLowerCase()} (${userId})\n`)
    } catch (err) {
      if (err instanceof DomainError) throw new CliError(`cannot create the admin: ${err.code}: ${err.message}`)
      throw err
    }
  })
}

// Key rotation edits the key file only; every API node reads it at start, hence the reminder.
const RESTART = 'Restart every API node sharing this key file for the change to take effect.'

async function keyFileOf (mustExist: boolean): Promise<{ keyFile: string, keys: typeof import('./http/keys.js') }> {
  const keyFile = config().token.signingKeyFile
  if (mustExist && !existsSync(keyFile)) {
    throw new CliError(`there is no key file at ${keyFile} (the server creates it on its first start; check IDM_DATA_DIR and IDM_SIGNING_KEY_FILE)`)
  }
  return { keyFile, keys: await import('./http/keys.js') }
}

/** Runs a key-file edit, turning a refused one (unknown kid, the signing key retired) into exit 1. */
async function editKeys (run: (keyFile: string, keys: typeof import('./http/keys.js')) => string): Promise<void> {
  const { keyFile, keys } = await keyFileOf(true)
  let message: string
  try {
    message = run(keyFile, keys)
  } catch (err) {
    if (err instanceof keys.SigningKeyError) throw new CliError(err.message)
    throw err
  }
  process.stdout.write(`${message}\n${RESTART}\n`)
}

async function keysList (options: { json?: boolean }): Promise<void> {
  const { keyFile, keys } = await keyFileOf(true)
  const entries = keys.listKeyFile(keyFile)
  if (options.json === true) {
    process.stdout.write(`${JSON.stringify(entries)}\n`)
    return
  }
  for (const e of entries) process.stdout.write(`${e.kid}  ${e.active ? 'signs and verifies' : 'verifies'}${e.private ? '' : ' (public key only)'}\n`)
}

async function keysAdd (options: { activate?: boolean }): Promise<void> {
  await editKeys((keyFile, keys) => {
    const kid = keys.addSigningKey(keyFile, { activate: options.activate === true })
    return options.activate === true
      ? `added ${kid}: it signs new tokens; the other keys still verify`
      : `added ${kid}: it verifies (and is in the JWKS) but does not sign yet; once every node has restarted, run \`idm keys activate ${kid}\``
  })
}

async function keysActivate (kid: string): Promise<void> {
  await editKeys((keyFile, keys) => {
    keys.activateSigningKey(keyFile, kid)
    return `${kid} now signs new tokens; retire the previous key no sooner than IDM_TOKEN_TTL from now`
  })
}

async function keysRetire (kid: string): Promise<void> {
  await editKeys((keyFile, keys) => {
    keys.retireSigningKey(keyFile, kid)
    return `retired ${kid}: tokens it signed are refused (401) from the next start`
  })
}

async function serve (): Promise<void> {
  const cfg = config()
  const { start } = await import('./main.js')
  await start(cfg)
}

// ── the program ──────────────────────────────────────────────────────────────────────────────

function version (): string {
  try {
    // commander's .version(undefined) is the getter: a package.json without a version must not break the CLI.
    return (JSON.parse(readFileSync(new URL('../package.json', import.meta.url), 'utf8')) as { version?: string }).version ?? '0.0.0'
  } catch {
    return '0.0.0'
  }
}

export function buildCli (): Command {
  const program = new Command('idm')
    .description('Identity Manager operations. Configuration comes from the environment, as for the server (IDM_DATA_DIR, IDM_EVENTSTORE, …).')
    .version(version())
    .showHelpAfterError()
  program.addHelpText('after', '\nExit codes: 0 success, 1 error, 2 a broken hash chain (audit verify, events import).')

  program.command('serve')
    .description('Run the HTTP server (the same as npm start).')
    .action(serve)

  program.command('projections')
    .description('Read models.')
    .command('rebuild')
    .description('Rebuild the read model (<data dir>/read-model.db) from the event log. Stop the server first: the file is replaced.')
    .action(rebuild)

  program.command('audit')
    .description('Tamper evidence.')
    .command('verify')
    .description('Check the hash chain of every stream over the whole log; prints each broken link (exit code 2).')
    .option('--json', 'print the result as JSON')
    .action(verify)

  const events = program.command('events').description('Backup and restore of the event log.')
  events.command('export')
    .description('Write every event (all streams, data and metadata unredacted) as NDJSON, for `idm events import`. ' +
      'THE OUTPUT HOLDS PASSWORD HASHES: protect it like the database.')
    .option('--after <position>', 'only events after this position (such a partial export cannot be imported)', position)
    .option('-o, --output <file>', 'write to a new file (mode 0600) instead of stdout')
    .action(exportCommand)
  events.command('import')
    .description('Restore an export into an EMPTY event store (refused otherwise), keeping ids, streams, revisions and metadata, ' +
      'so every hash chain still verifies. Then start the server: it builds its read model from the log.')
    .option('-i, --input <file>', 'read from a file instead of stdin')
    .action(importCommand)

  program.command('users')
    .description('Users.')
    .command('create-admin')
    .description('Register an identity-admin through the same rules as the API (password policy, unique username, email and identification). ' +
      'On a store that was never started it also creates the system roles and identification types.')
    .requiredOption('--username <username>', 'the username (NFKC-normalized, lower-cased)')
    .requiredOption('--password <password>', 'the password (visible to other local users in the process list; set it again through the API if that matters)')
    .option('--email <email>', 'default <username>@localhost.invalid')
    .option('--first-name <name>', 'default Identity')
    .option('--last-name <name>', 'default Administrator')
    .option('--identification-type <code>', 'default CC')
    .option('--identification-number <number>', 'default ADMIN-<username>')
    .action(createAdmin)

  const keys = program.command('keys')
    .description('Token signing keys (IDM_SIGNING_KEY_FILE): rotation without invalidating live tokens. ' +
      'Each change rewrites the key file atomically (mode 0600) and takes effect when the server restarts.')
  keys.command('list')
    .description('Every key of the key file by kid (RFC 7638 thumbprint), the signing one first.')
    .option('--json', 'print the list as JSON')
    .action(keysList)
  keys.command('add')
    .description('Generate a new P-256 key. Without --activate it only verifies (step 1 with several nodes); with it, it signs from the next start.')
    .option('--activate', 'make the new key the signing key at once (one node, or all nodes restarted together)')
    .action(keysAdd)
  keys.command('activate')
    .description('Make a key already in the file the signing key; the others keep verifying.')
    .argument('<kid>', 'the key id, as `idm keys list` prints it')
    .action(keysActivate)
  keys.command('retire')
    .description('Remove a key: tokens it signed are refused from the next start. Wait IDM_TOKEN_TTL after activating its successor.')
    .argument('<kid>', 'the key id, as `idm keys list` prints it')
    .action(keysRetire)

  return program
}

export async function runCli (argv: readonly string[]): Promise<void> {
  try {
    await buildCli().parseAsync([...argv])
  } catch (err) {
    if (err instanceof CliError) {
      process.stderr.write(`idm: ${err.message}\n`)
      process.exitCode = err.exitCode
      return
    }
    process.stderr.write(`idm: ${err instanceof Error ? err.stack ?? err.message : String(err)}\n`)
    process.exitCode = 1
  }
}

await runCli(process.argv)
