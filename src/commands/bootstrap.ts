/**
 * First start: the system roles, Colombia's identification types, the optional seed file's
 * catalogs, and an identity-admin. Every step is idempotent, so a start that crashed half-way
 * finishes the job the next time instead of leaving a store without an administrator.
 */
import { randomBytes } from 'node:crypto'
import { adminSeatsDecider } from '../domain/admin-seats.js'
import { catalogDecider, catalogStream, type CatalogKind } from '../domain/catalog.js'
import { streams } from '../domain/events.js'
import { normalizeUsername } from '../domain/identity-values.js'
import { IDENTIFICATION_TYPES, SYSTEM_ROLES } from '../domain/seed.js'
import { ADMIN_ROLE } from '../domain/user.js'
import { claimSeat } from './admin-seats.js'
import { defineCatalogEntry, type CatalogEntryInput } from './catalogs.js'
import type { Commands } from './deps.js'
import { SYSTEM_ACTOR, type CommandContext } from './handler.js'
import { holderOf } from './reservations.js'
import { registerUser } from './users.js'

export interface SeedFile {
  readonly roles?: readonly ({ id: string } & CatalogEntryInput)[]
  readonly companies?: readonly ({ id: string } & CatalogEntryInput)[]
  readonly providers?: readonly ({ id: string } & CatalogEntryInput)[]
  readonly identificationTypes?: readonly ({ id: string } & CatalogEntryInput)[]
}

export interface BootstrapInput {
  readonly adminUsername: string
  /** When absent a password is generated and returned once. */
  readonly adminPassword?: string
  readonly seed?: SeedFile
}

export interface BootstrapResult {
  /** The admin user created now, if one was. */
  readonly adminCreated: { userId: string, username: string, generatedPassword: string | null } | null
}

export async function bootstrap (deps: Commands, input: BootstrapInput, ctx: CommandContext): Promise<BootstrapResult> {
  const system = { ...ctx, actor: SYSTEM_ACTOR }
  for (const role of SYSTEM_ROLES) await defineIfMissing(deps, 'role', role.id, { ...role, system: true }, system)
  for (const type of IDENTIFICATION_TYPES) await defineIfMissing(deps, 'identificationType', type.id, type, system)
  const seed = input.seed ?? {}
  const seeded: [CatalogKind, SeedFile[keyof SeedFile]][] = [
    ['role', seed.roles], ['company', seed.companies], ['provider', seed.providers], ['identificationType', seed.identificationTypes]
  ]
  for (const [kind, entries] of seeded) {
    for (const { id, ...entry } of entries ?? []) await defineIfMissing(deps, kind, id, entry, system)
  }
  return { adminCreated: await ensureAdmin(deps, input, system) }
}

async function defineIfMissing (
  deps: Commands, kind: CatalogKind, id: string, entry: CatalogEntryInput & { system?: boolean }, ctx: CommandContext
): Promise<void> {
  const { state } = await deps.load(catalogDecider, catalogStream(kind, id))
  if (state.status === 'none') await defineCatalogEntry(deps, kind, id, entry, ctx)
}

async function ensureAdmin (deps: Commands, input: BootstrapInput, ctx: CommandContext): Promise<BootstrapResult['adminCreated']> {
  const { state: seats } = await deps.load(adminSeatsDecider, streams.adminSeats)
  if (seats.seats.length > 0) return null
  const username = normalizeUsername(input.adminUsername)
  const existing = await holderOf(deps, 'username', username)
  if (existing !== null) {
    // A user of that name exists but holds no seat (an earlier start stopped half-way, or the
    // seat set was lost): make it an active identity-admin again rather than locking everyone out.
    await deps.execute({ type: 'ChangeStatus', data: { userId: existing, status: 'active', reason: 'bootstrap' } }, ctx)
    await deps.execute({ type: 'AssignRole', data: { userId: existing, roleId: ADMIN_ROLE, catalog: { roles: { [ADMIN_ROLE]: 'active' } } } }, ctx)
    await claimSeat(deps, existing, ctx)
    return null
  }
  const generatedPassword = input.adminPassword === undefined ? randomBytes(18).toString('base64url') : null
  const { userId } = await registerUser(deps, {
    username,
    password: input.adminPassword ?? generatedPassword!,
    email: `${username.replace(/@.*/, '')}@localhost.invalid`,
    firstName: 'Identity',
    lastName: 'Administrator',
    identificationType: 'CC',
    identificationNumber: `ADMIN-${username.replace(/[^A-Za-z0-9]/g, '').slice(0, 20) || 'X'}`,
    phone: null,
    roles: [ADMIN_ROLE]
  }, ctx)
  return { userId, username, generatedPassword }
}
