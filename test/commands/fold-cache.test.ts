/**
 * The command handler's in-memory fold cache (src/commands/fold-cache.ts, one per createCommands) with two stores on one
 * SQLite file, as two processes would have: each folds the other's appends in, concurrent
 * commands still conflict and retry on the append's expected revision, the hash chain continues
 * from the real last event, and the cached state always equals a fold of the whole stream.
 */
import t from 'tap'
import { join } from 'node:path'
import { bootstrap } from '../../src/commands/bootstrap.js'
import { foldRecorded } from '../../src/commands/fold-cache.js'
import { assignRole, registerUser, revokeRole, updateProfile } from '../../src/commands/users.js'
import { streams } from '../../src/domain/events.js'
import { userDecider } from '../../src/domain/user.js'
import { verifyChain } from '../../src/eventstore/hash-chain.js'
import { openSqliteEventStore } from '../../src/eventstore/sqlite.js'
import { ctx, newUser, sibling, testDeps } from '../helpers/commands.js'

t.test('two stores on one file: each sees the other\'s appends, conflicts still retry, the chain holds', async t => {
  const a = await testDeps(t)
  await bootstrap(a, { adminUsername: 'admin', adminPassword: 'a root passphrase that is long' }, ctx())
  const otherStore = openSqliteEventStore({ path: join(a.dir, 'events.db') })
  t.teardown(async () => await otherStore.close())
  const b = sibling(a, { store: otherStore })
  const user = newUser()
  const { userId } = await registerUser(a, user, ctx())
  const stream = streams.user(userId)
  const profile = (change: Record<string, string>) => ({
    email: user.email, firstName: user.firstName, lastName: user.lastName,
    identificationType: user.identificationType, identificationNumber: user.identificationNumber, phone: null, ...change
  })
  const fullFold = async () => foldRecorded(userDecider, await a.store.readStream(stream))

  await assignRole(a, userId, 'identity-auditor', ctx())
  t.same((await a.load(userDecider, stream)).state, await fullFold(), 'A caches the folded state')
  // B changes the user behind A's cache.
  await assignRole(b, userId, 'identity-admin', ctx())
  await updateProfile(b, userId, profile({ firstName: 'Changed' }), ctx())
  const seen = await a.load(userDecider, stream)
  t.same(seen.state, await fullFold(), 'A folds B\'s events in from its cached revision')
  t.match(seen.state, { roles: ['identity-admin', 'identity-auditor'], firstName: 'Changed' })

  // Concurrent commands through both stores: one wins each round, the other retries on the new revision.
  for (let round = 0; round < 10; round++) {
    await Promise.all([
      round % 2 === 0 ? revokeRole(a, userId, 'identity-auditor', ctx()) : assignRole(a, userId, 'identity-auditor', ctx()),
      updateProfile(b, userId, profile({ lastName: `Round${round}` }), ctx())
    ])
  }
  const recorded = await a.store.readStream(stream)
  t.equal(verifyChain(recorded), null, 'the hash chain continues from the real last event every time')
  t.same(recorded.map(e => e.revision), recorded.map((_, i) => i), 'revisions gap-free')
  const final = await fullFold()
  t.same((await a.load(userDecider, stream)).state, final, 'A agrees with a full fold')
  t.same((await b.load(userDecider, stream)).state, final, 'B agrees with a full fold')
  t.match(final, { lastName: 'Round9', roles: ['identity-admin', 'identity-auditor'] })
})

t.test('a stream that does not exist yet, then does', async t => {
  const deps = await testDeps(t)
  const missing = await deps.load(userDecider, streams.user('nobody'))
  t.same(missing, { state: { status: 'none' }, revision: -1, last: undefined })
  await bootstrap(deps, { adminUsername: 'admin', adminPassword: 'a root passphrase that is long' }, ctx())
  const { userId } = await registerUser(deps, newUser(), ctx())
  await deps.load(userDecider, streams.user(userId))
  const folded = await deps.load(userDecider, streams.user(userId))
  t.equal(folded.revision, 0)
  t.equal(folded.last?.type, 'UserRegistered')
})
