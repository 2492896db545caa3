import type { LockoutPolicy } from '../domain/authentication.js'
import type { PasswordPolicy } from '../domain/password-policy.js'
import type { HandlerDeps } from './handler.js'
import type { KeyedLock } from './keyed-lock.js'
import type { PasswordHasher } from './password-hasher.js'

/** Everything a use case needs, passed in (no globals, no process.env). */
export interface CommandDeps extends HandlerDeps {
  readonly hasher: PasswordHasher
  readonly passwordPolicy: PasswordPolicy
  readonly lockoutPolicy: LockoutPolicy
  /** Serialises authentication attempts per account in this process (atomic failure count). */
  readonly loginLock: KeyedLock
  /**
   * A reservation whose user never appeared (a registration that crashed half-way) is taken over
   * after this many seconds. Default 60.
   */
  readonly orphanReservationSeconds?: number
}
