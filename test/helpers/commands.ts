/**
 * Real dependencies for command tests: a SQLite event store in a temp dir, scrypt at a low cost
 * (the real KDF, just cheaper), a clock the test moves, and a hasher that counts verifications.
 */
import { mkdtempSync, rmSync } from 'node:fs'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import type { Test } from 'tap'
import { v7 as uuidv7 } from 'uuid'
import { createCommands } from '../../src/commands/create.js'
import { createPasswordHasher, type PasswordHasher } from '../../src/commands/password-hasher.js'
import type { CommandDeps, Commands } from '../../src/commands/deps.js'
import type { CommandContext } from '../../src/commands/handler.js'
import { passwordPolicy } from '../../src/domain/password-policy.js'
import { openSqliteEventStore, type SqliteEventStore } from '../../src/eventstore/sqlite.js'

export const TEST_SCRYPT = Object.freeze({ logN: 10, r: 8, p: 1 })

/** The write side as the composition root builds it (createCommands), plus the test's handles. */
export interface TestDeps extends Commands {
  readonly store: SqliteEventStore
  readonly dir: string
  /** Moves the frozen clock forward. */
  advance(seconds: number): void
  /** How many times a real stored hash was verified (decoy verifications excluded). */
  readonly verifications: () => number
}

export async function testDeps (t: Test, overrides: Partial<Omit<CommandDeps, 'store'>> = {}): Promise<TestDeps> {
  const dir = mkdtempSync(join(tmpdir(), 'idm-cmd-'))
  const store = openSqliteEventStore({ path: join(dir, 'events.db') })
  t.teardown(async () => {
    await store.close()
    rmSync(dir, { recursive: true, force: true })
  })
  let now = Date.parse('2026-01-15T10:00:00.000Z')
  let verified = 0
  const real = await createPasswordHasher(TEST_SCRYPT)
  const hasher: PasswordHasher = {
    ...real,
    verify: async (hash, password) => { verified++; return real.verify(hash, password) }
  }
  const base = {
    store,
    clock: () => new Date(now),
    newId: () => uuidv7(),
    hasher,
    passwordPolicy: passwordPolicy(15),
    lockoutPolicy: { maxFailures: 5, baseLockoutSeconds: 60, maxLockoutSeconds: 3600 },
    ...overrides
  }
  return {
    ...createCommands(base),
    store,
    dir,
    advance: (seconds: number) => { now += seconds * 1000 },
    verifications: () => verified
  }
}

/**
 * Another composition root over the same clock and file: its own fold cache, queue and owed
 * releases, as a second process (a second store on the same file) or other settings would have.
 */
export function sibling (deps: TestDeps, overrides: Partial<Omit<CommandDeps, 'store'>> & { store?: SqliteEventStore } = {}): TestDeps {
  const { dir, advance, verifications } = deps
  const next = { ...deps, ...overrides }
  return { ...createCommands(next), store: next.store, dir, advance, verifications }
}

let requestCounter = 0
export const ctx = (actor: { id: string | null, username: string | null } = { id: null, username: 'test' }, extra: Partial<CommandContext> = {}): CommandContext => ({
  actor,
  correlationId: `req-${++requestCounter}`,
  commandId: uuidv7(),
  ...extra
})

export const STRONG = 'correct horse battery staple'

let userCounter = 0
/** A valid registration; every call a distinct user unless fields are overridden. */
export const newUser = (overrides: Record<string, unknown> = {}) => {
  const n = ++userCounter
  return {
    username: `user${n}`,
    email: `user${n}@example.com`,
    firstName: 'Ana',
    lastName: 'Pérez',
    identificationType: 'CC',
    identificationNumber: `10${n}`,
    phone: null,
    password: STRONG,
    ...overrides
  }
}
