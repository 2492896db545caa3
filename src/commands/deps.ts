import type { LockoutPolicy } from '../domain/authentication.js'
import type { Authority } from '../domain/company-scope.js'
import type { PasswordPolicy } from '../domain/password-policy.js'
import type { UserCommand } from '../domain/user.js'
import type { EventStore } from '../eventstore/port.js'
import type { LoadStream } from './fold-cache.js'
import type { CommandContext } from './handler.js'
import type { KeyedLock } from './keyed-lock.js'
import type { PasswordHasher } from './password-hasher.js'
import type { OwedReleases } from './reservations.js'

/** What the composition root hands `createCommands` (no globals, no process.env). */
export interface CommandDeps {
  readonly store: EventStore
  readonly clock: () => Date
  readonly newId: () => string
  readonly hasher: PasswordHasher
  readonly passwordPolicy: PasswordPolicy
  readonly lockoutPolicy: LockoutPolicy
  /**
   * A reservation whose user never appeared (a registration that crashed half-way) is taken over
   * after this many seconds. Default 60.
   */
  readonly orphanReservationSeconds?: number
  /** Told when an identity-admin's account is locked (the composition root logs and counts it). */
  readonly onAdminLockout?: (lockout: { readonly userId: string, readonly username: string, readonly lockedUntil: string }) => void
}

/** What a write returns: the user it touched and how far the log got (for read-your-writes). */
export interface WriteResult {
  readonly userId: string
  /** Position of the last event appended; null when nothing was appended (a no-op). */
  readonly position: number | null
}

export interface ExecuteOptions {
  /** The version the client last saw (If-Match). A mismatch is 412, never retried. */
  readonly ifMatch?: number
  /**
   * Who may run the command on which users (src/domain/company-scope.ts), checked against the
   * user's stream at the revision the command is planned on. Default: global.
   */
  readonly authority?: Authority
}

/**
 * The write side, built once by `createCommands(deps)` (src/commands/create.ts) in the
 * composition root: every use case takes it as its first argument. It owns the state that
 * outlives a command: the fold cache behind `load`, the per-stream queue, the releases still owed.
 */
export interface Commands extends CommandDeps {
  /** The one way to load a stream (src/commands/fold-cache.ts). */
  readonly load: LoadStream
  /**
   * In-process queue per key: commands on one stream (the key is the stream name) run one after
   * another instead of racing to a revision conflict; `login:<username>` serialises sign-in
   * attempts, so parallel guesses cannot outrun the lockout.
   */
  readonly queue: KeyedLock
  /** Reservation releases the store refused when they were due, paid before the next reservation. */
  readonly owed: OwedReleases
  /** Decides a user command as a plan and carries it out (src/commands/executor.ts). */
  readonly execute: (command: UserCommand, ctx: CommandContext, options?: ExecuteOptions) => Promise<WriteResult>
}
