/**
 * Seeding through the event store, never into read-model tables: events are decided by the real
 * deciders, stamped by the command layer's `stamp` (ids, audit metadata, hash chain) and appended
 * with the SQLite adapter's `append` (validation, expected revision, group commit, FULL). The
 * server must be stopped meanwhile (its projection then catches up when it starts again).
 *
 * What is left out compared with POST /v1/users, and why: the KDF (one pre-computed hash, of the
 * server's cost, is reused by every seeded user — hashing a million passwords would take a day at
 * N=2^17) and the catalog reads (the snapshot is built once). The first `reserveFor` users get
 * what the API stores: the three reservations (username, email, identification) and
 * UserRegistered, so they can log in; the others only UserRegistered (the read model is the
 * same; their reservations would only matter to a later registration of the same values, and
 * would quadruple the seeding time of a million users on a loaded two-core machine).
 */
import { join } from 'node:path'
import { v7 as uuidv7 } from 'uuid'
import { stamp, type CommandContext } from '../../src/commands/handler.js'
import { streams, type DomainEvent } from '../../src/domain/events.js'
import { emailKey, identificationKey } from '../../src/domain/identity-values.js'
import { reservationDecider, type ReservationKind } from '../../src/domain/reservation.js'
import { userDecider, type CatalogSnapshot } from '../../src/domain/user.js'
import { openSqliteEventStore } from '../../src/eventstore/sqlite.js'

const FIRST = ['maria', 'jose', 'luis', 'ana', 'carlos', 'juan', 'laura', 'andres', 'diana', 'jorge', 'paula', 'miguel',
  'sofia', 'david', 'camila', 'daniel', 'valentina', 'felipe', 'natalia', 'sebastian', 'marta', 'mario', 'marcela',
  'alejandro', 'carolina', 'ricardo', 'gloria', 'oscar', 'sandra', 'pedro', 'lucia', 'hector', 'isabel', 'fernando',
  'monica', 'alberto', 'patricia', 'javier', 'angela', 'manuel', 'claudia', 'ramon', 'teresa', 'raul', 'elena',
  'victor', 'rosa', 'ivan', 'beatriz', 'pablo', 'adriana', 'gabriel', 'liliana', 'hugo', 'silvia', 'martin', 'julia',
  'esteban', 'veronica', 'tomas', 'alicia', 'mauricio', 'nicolas', 'juliana']
const LAST = ['gonzalez', 'rodriguez', 'gomez', 'fernandez', 'lopez', 'diaz', 'martinez', 'perez', 'garcia', 'sanchez',
  'romero', 'sosa', 'torres', 'alvarez', 'ruiz', 'ramirez', 'flores', 'acosta', 'benitez', 'medina', 'suarez', 'herrera',
  'aguirre', 'pereyra', 'gutierrez', 'gimenez', 'molina', 'silva', 'castro', 'rojas', 'ortiz', 'nunez', 'luna', 'juarez',
  'cabrera', 'rios', 'ferreyra', 'godoy', 'morales', 'dominguez', 'moreno', 'peralta', 'vega', 'carrizo', 'quiroga',
  'castillo', 'ledesma', 'munoz', 'ojeda', 'ponce', 'vera', 'cardozo', 'velazquez', 'coronel', 'vargas', 'cruz',
  'mendoza', 'ramos', 'ortega', 'guzman', 'salazar', 'cortes', 'marin', 'ospina', 'restrepo', 'jaramillo', 'zapata',
  'arango', 'cardenas', 'mejia', 'valencia', 'londono', 'osorio', 'giraldo', 'munera', 'betancur', 'duque', 'henao',
  'escobar', 'uribe', 'toro', 'correa', 'velez', 'montoya', 'arias', 'quintero', 'bedoya', 'serna', 'agudelo', 'posada',
  'sierra', 'bermudez', 'ocampo', 'patino', 'villa', 'cano', 'tamayo', 'franco', 'hoyos', 'lozano', 'castano', 'pineda',
  'zuluaga', 'rendon', 'galeano', 'salazar', 'hincapie', 'palacio', 'tobon', 'angel', 'alzate', 'marulanda', 'loaiza',
  'botero', 'echeverri', 'vasquez', 'alvarado', 'beltran', 'caicedo', 'camacho', 'duarte', 'forero', 'hurtado', 'leon']

const capital = (s: string): string => s.charAt(0).toUpperCase() + s.slice(1)

/** The i-th bench user: deterministic, with names that make `q` prefixes hit like real ones. */
export function benchProfile (i: number) {
  const first = FIRST[i % FIRST.length] as string
  const last = LAST[Math.floor(i / FIRST.length) % LAST.length] as string
  const username = `${first}.${last}${i}`
  return {
    username,
    email: `${username}@example.com`,
    firstName: capital(first),
    lastName: capital(last),
    identificationType: 'CC',
    identificationNumber: String(1_000_000_000 + i),
    phone: null
  }
}

export interface SeedUsersResult {
  readonly users: number
  readonly events: number
  /** Users seeded with their reservations (the first ones). */
  readonly reserved: number
  readonly seconds: number
  /** The first `keepIds` user ids (default 256), in seeding order (benchProfile(i) is user i). */
  readonly firstIds: string[]
}

const ctx: CommandContext = { actor: { id: null, username: 'bench-seed' }, correlationId: 'bench-seed', commandId: uuidv7() }
const deps = { clock: () => new Date(), newId: uuidv7 }
const CATALOG: CatalogSnapshot = { identificationTypes: { CC: 'active' }, roles: {}, companies: {}, providers: {} }

/** Appends `count` users (from index `from`) to the event store in `dataDir`, `batch` users per group commit. */
export async function seedUsers (dataDir: string, options: { count: number, from?: number, passwordHash: string, keepIds?: number, reserveFor?: number, batch?: number, onProgress?: (done: number) => void }): Promise<SeedUsersResult> {
  const store = openSqliteEventStore({ path: join(dataDir, 'events.db') })
  const batch = options.batch ?? 250
  const from = options.from ?? 0
  const firstIds: string[] = []
  let events = 0
  const started = performance.now()
  try {
    for (let base = from; base < from + options.count; base += batch) {
      const appends: Promise<unknown>[] = []
      for (let i = base; i < Math.min(from + options.count, base + batch); i++) {
        const profile = benchProfile(i)
        const userId = uuidv7()
        if (firstIds.length < (options.keepIds ?? 256)) firstIds.push(userId)
        const claims: Array<[ReservationKind, string]> = [
          ['username', profile.username], ['email', emailKey(profile.email)], ['identification', identificationKey(profile.identificationType, profile.identificationNumber)]
        ]
        for (const [kind, value] of i < (options.reserveFor ?? 256) ? claims : []) {
          const decided = reservationDecider.decide({ type: 'Reserve', data: { kind, value, userId } }, reservationDecider.initialState())
          appends.push(append(store, streams.reservation(kind, value), decided))
        }
        const registered = userDecider.decide({
          type: 'RegisterUser',
          data: { userId, passwordHash: options.passwordHash, roles: [], companies: [], providers: [], catalog: CATALOG, ...profile }
        }, userDecider.initialState())
        appends.push(append(store, streams.user(userId), registered))
        events += i < (options.reserveFor ?? 256) ? 4 : 1
      }
      await Promise.all(appends)
      options.onProgress?.(base + batch - from)
    }
  } finally {
    await store.close()
  }
  return { users: options.count, events, reserved: Math.min(options.count, options.reserveFor ?? 256), seconds: (performance.now() - started) / 1000, firstIds }
}

async function append (store: ReturnType<typeof openSqliteEventStore>, stream: string, events: readonly DomainEvent[]): Promise<void> {
  await store.append(stream, stamp(deps, stream, events, ctx, undefined, 'per-revision'), { expectedRevision: 'no_stream' })
}

/**
 * The rebuild line's log: identity traffic in which every event is projected — per user one
 * UserRegistered, a role assigned, a company linked, a profile update and a role revoked.
 */
export async function seedTraffic (dataDir: string, total: number): Promise<{ events: number, seconds: number }> {
  const store = openSqliteEventStore({ path: join(dataDir, 'events.db') })
  const PER_USER = 5
  const users = Math.ceil(total / PER_USER)
  const started = performance.now()
  try {
    for (let base = 0; base < users; base += 256) {
      const appends: Promise<unknown>[] = []
      for (let i = base; i < Math.min(users, base + 256); i++) {
        const userId = uuidv7()
        appends.push(append(store, streams.user(userId), trafficOf(i, userId)))
      }
      await Promise.all(appends)
    }
  } finally {
    await store.close()
  }
  return { events: users * PER_USER, seconds: (performance.now() - started) / 1000 }
}

function trafficOf (i: number, userId: string): DomainEvent[] {
  const { username, ...profile } = benchProfile(i)
  return [
    { type: 'UserRegistered', data: { userId, username, ...profile, passwordHash: 'x'.repeat(128), roles: ['dispatcher'], companies: [], providers: [] } },
    { type: 'UserRoleAssigned', data: { userId, roleId: 'identity-auditor' } },
    { type: 'UserCompanyLinked', data: { userId, companyId: `company-${i % 50}` } },
    { type: 'UserProfileUpdated', data: { userId, ...profile, phone: '+573001234567' } },
    { type: 'UserRoleRevoked', data: { userId, roleId: 'dispatcher' } }
  ]
}
