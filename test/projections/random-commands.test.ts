/**
 * Thousands of random commands through the real use cases, projected live by the runner; then a
 * rebuild from position zero must give the live read model row for row.
 */
import { join } from 'node:path'
import fc from 'fast-check'
import t from 'tap'
import { authenticate, changeOwnPassword, resetPassword } from '../../src/commands/authentication.js'
import { bootstrap } from '../../src/commands/bootstrap.js'
import { defineCatalogEntry, updateCatalogEntry } from '../../src/commands/catalogs.js'
import {
  assignRole, changeStatus, linkCompany, linkProvider, registerUser, revokeRole, unlinkCompany, unlinkProvider, updateProfile
} from '../../src/commands/users.js'
import { dumpReadModel } from '../../src/projections/dump.js'
import { rebuildReadModel } from '../../src/projections/rebuild.js'
import { createProjectionRunner } from '../../src/projections/runner.js'
import { openReadModel } from '../../src/projections/schema.js'
import { ctx, newUser, STRONG, testDeps } from '../helpers/commands.js'

const COMMANDS = Number(process.env.RANDOM_COMMANDS ?? 3000)
const SEED = Number(process.env.RANDOM_SEED ?? Date.now() % 100_000)

t.test(`${COMMANDS} random commands, then rebuild equals live (seed ${SEED})`, async t => {
  const deps = await testDeps(t)
  const live = openReadModel(join(deps.dir, 'live.db'))
  const runner = createProjectionRunner({ store: deps.store, readModel: live })
  await runner.start()
  t.teardown(async () => { await runner.stop(); live.close() })

  await bootstrap(deps, { adminUsername: 'chief', adminPassword: 'a root passphrase that is long' }, ctx())
  const roles = ['dispatcher', 'driver', 'billing']
  const companies = ['acme', 'globex', 'initech']
  const providers = ['carrier-x', 'carrier-y']
  for (const id of roles) await defineCatalogEntry(deps, 'role', id, { name: id, description: '' }, ctx())
  for (const id of companies) await defineCatalogEntry(deps, 'company', id, { name: id }, ctx())
  for (const id of providers) await defineCatalogEntry(deps, 'provider', id, { name: id }, ctx())

  const users: { id: string, username: string, password: string }[] = []
  const rng = fc.sample(fc.integer({ min: 0, max: 1_000_000 }), { numRuns: COMMANDS * 4, seed: SEED })
  let r = 0
  const pick = <T>(xs: readonly T[]): T => xs[rng[r++ % rng.length]! % xs.length]!
  const outcomes: Record<string, number> = {}
  const count = (name: string) => { outcomes[name] = (outcomes[name] ?? 0) + 1 }

  for (let i = 0; i < COMMANDS; i++) {
    const kind = users.length < 5 ? 0 : pick([0, 1, 2, 3, 4, 5, 6, 7, 8, 9, 10, 11, 12, 13])
    const user = users.length === 0 ? undefined : pick(users)
    const c = ctx()
    try {
      if (kind === 0 || user === undefined) {
        const body = newUser({ roles: [pick(roles)], companies: [pick(companies)] })
        users.push({ id: (await registerUser(deps, body, c)).userId, username: body.username, password: STRONG })
      } else if (kind === 1) await assignRole(deps, user.id, pick(roles), c)
      else if (kind === 2) await revokeRole(deps, user.id, pick(roles), c)
      else if (kind === 3) await linkCompany(deps, user.id, pick(companies), c)
      else if (kind === 4) await unlinkCompany(deps, user.id, pick(companies), c)
      else if (kind === 5) await linkProvider(deps, user.id, pick(providers), pick([null, 'ext-1', 'ext-2']), c)
      else if (kind === 6) await unlinkProvider(deps, user.id, pick(providers), c)
      else if (kind === 7) await changeStatus(deps, user.id, pick(['active', 'inactive'] as const), null, c)
      else if (kind === 8) await updateProfile(deps, user.id, { ...newUser(), phone: pick([null, '+573001234567']) }, c)
      else if (kind === 9) await authenticate(deps, { username: user.username, password: pick([user.password, 'wrong password!!']) }, c)
      else if (kind === 10) { await resetPassword(deps, user.id, `reset passphrase number ${i}`, c); user.password = `reset passphrase number ${i}` }
      else if (kind === 11) { await changeOwnPassword(deps, user.id, { currentPassword: user.password, newPassword: `own passphrase number ${i}` }, c); user.password = `own passphrase number ${i}` }
      else if (kind === 12) await updateCatalogEntry(deps, 'role', pick(roles), { name: `renamed ${i}`, description: '', status: pick(['active', 'inactive'] as const) }, c)
      else { deps.advance(pick([1, 30, 120, 3600])) }
      count(`ok:${kind}`)
    } catch (err) {
      count(`${(err as { code?: string }).code ?? 'error'}:${kind}`)
      if ((err as { code?: string }).code === undefined) throw err
    }
  }
  t.ok(await runner.waitFor(await deps.store.headPosition(), 10_000), 'the live projection caught up')
  t.comment(`events in the log: ${await deps.store.headPosition()}; outcomes ${JSON.stringify(outcomes)}`)

  await rebuildReadModel({ store: deps.store, path: join(deps.dir, 'rebuilt.db') })
  const rebuilt = openReadModel(join(deps.dir, 'rebuilt.db'))
  t.teardown(() => rebuilt.close())
  const a = dumpReadModel(live.db)
  const b = dumpReadModel(rebuilt.db)
  t.ok((a.users?.length ?? 0) > 5, `users projected: ${a.users?.length}`)
  t.same(Object.keys(b).sort(), Object.keys(a).sort(), 'same tables')
  for (const table of Object.keys(a)) t.same(b[table], a[table], `table ${table} is equal row for row`)
})
