/** `idm users …`: user operations through the same use cases (and rules) as the API. */
import type { Command } from 'commander'
import { CliError, config, withStore } from './shared.js'
import type { Commands } from '../commands/deps.js'
import type { Config } from '../config.js'
import type { EventStore } from '../eventstore/port.js'

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
  const [{ v7: uuidv7 }, { bootstrap }, { SYSTEM_ACTOR }, { registerUser, updateProfile }, { DomainError }, { ADMIN_ROLE }] = await Promise.all([
    import('uuid'), import('../commands/bootstrap.js'), import('../commands/handler.js'), import('../commands/users.js'),
    import('../domain/errors.js'), import('../domain/user.js')
  ])
  await withStore(cfg, 'create', async (store) => {
    const deps = await cliCommands(cfg, store)
    const ctx = cliContext(uuidv7)
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

/** Ends a lockout without a token: the operator's way back in when every admin is locked out. */
async function unlock (username: string): Promise<void> {
  const cfg = config()
  const [{ v7: uuidv7 }, { unlockAccount }, { holderOf }, { normalizeUsername }, { DomainError }] = await Promise.all([
    import('uuid'), import('../commands/authentication.js'), import('../commands/reservations.js'),
    import('../domain/identity-values.js'), import('../domain/errors.js')
  ])
  let normalized: string
  try {
    normalized = normalizeUsername(username)
  } catch (err) {
    if (err instanceof DomainError) throw new CliError(`not a username: ${username}`)
    throw err
  }
  await withStore(cfg, 'existing', async (store) => {
    const deps = await cliCommands(cfg, store)
    const userId = await holderOf(deps, 'username', normalized)
    if (userId === null) throw new CliError(`no user ${normalized}`)
    const ctx = cliContext(uuidv7)
    const position = await unlockAccount(deps, userId, ctx)
    process.stdout.write(position === null ? `${normalized} (${userId}) is not locked\n` : `unlocked ${normalized} (${userId})\n`)
  })
}

export function usersCommand (program: Command): void {
  const users = program.command('users')
    .description('Users.')
  users.command('create-admin')
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
  users.command('unlock')
    .argument('<username>', 'the account to unlock')
    .description('End the lockout of an account, without a token (run it where the server\'s event store is: IDM_DATA_DIR / IDM_EVENTSTORE). ' +
      'It is recorded as UserUnlocked by idm-cli; the server applies it at once.')
    .action(unlock)
}

/** The write side as the server builds it (same KDF, password and lockout policies), on the store the command opened. */
async function cliCommands (cfg: Config, store: EventStore): Promise<Commands> {
  const [{ v7: uuidv7 }, { createCommands }, { createPasswordHasher }, { passwordPolicy }] = await Promise.all([
    import('uuid'), import('../commands/create.js'), import('../commands/password-hasher.js'), import('../domain/password-policy.js')
  ])
  return createCommands({
    store,
    clock: () => new Date(),
    newId: uuidv7,
    hasher: await createPasswordHasher(cfg.scrypt),
    passwordPolicy: passwordPolicy(cfg.password.minLength),
    lockoutPolicy: { maxFailures: cfg.lockout.threshold, baseLockoutSeconds: cfg.lockout.baseSeconds, maxLockoutSeconds: cfg.lockout.maxSeconds }
  })
}

const cliContext = (newId: () => string) => ({ actor: { id: null, username: 'idm-cli' }, correlationId: `cli-${newId()}`, commandId: newId() })
