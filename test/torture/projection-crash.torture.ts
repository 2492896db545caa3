/**
 * Projection crash: the real server is killed (SIGKILL) while its read model catches up with a
 * large backlog, again and again, and then while it rebuilds a deleted read model from scratch.
 *
 * The backlog: users registered through the API, then TORTURE_BACKLOG (default 60,000) role
 * assignments and revocations appended to their streams while the server is stopped (stamped and
 * hash-chained exactly as the command handler does), so that the read model is that far behind
 * when the server starts. After each kill, on the files left behind: one checkpoint for every
 * projection, never behind the previous kill's (catch-up resumes, it does not start over), and
 * the read model equals a fresh rebuild of the log up to that checkpoint — an event skipped or
 * applied twice would differ. At the end the server starts, has applied every event, equals a
 * full rebuild, and the API shows every user with the roles its stream folds to.
 * (test/projections/runner.test.ts counts applications with a projection of its own.)
 */
import { rmSync } from 'node:fs'
import { join } from 'node:path'
import Database from 'better-sqlite3'
import t, { type Test } from 'tap'
import { stamp } from '../../src/commands/handler.js'
import type { DomainEvent } from '../../src/domain/events.js'
import { openSqliteEventStore } from '../../src/eventstore/sqlite.js'
import {
  checkLog, client, compareWithRebuild, envInt, foldUsers, listAllUsers, loginToken, readLog, serverEnv, sleep, spawnServer, tempDir,
  TORTURE_ADMIN_PASSWORD, type ServerProcess
} from '../helpers/torture.js'

const BACKLOG = envInt('TORTURE_BACKLOG', 60_000)
const KILLS = envInt('TORTURE_CATCHUP_KILLS', 4)
const USERS = 20
const ROLES = ['pc-a', 'pc-b', 'pc-c']
t.setTimeout(600_000)

/** The read model's checkpoints (one per projection), read-only; [] while the file is not there yet. */
function checkpoints (path: string): number[] {
  try {
    const db = new Database(path, { readonly: true, fileMustExist: true })
    try {
      return (db.prepare('SELECT position FROM checkpoints').all() as Array<{ position: number }>).map((r) => r.position)
    } finally {
      db.close()
    }
  } catch {
    return []
  }
}

t.test(`kill -9 during catch-up of ${BACKLOG} events and during a rebuild`, async (t) => {
  const dir = tempDir(t)
  const scratch = tempDir(t, 'idm-torture-rebuild-')
  const env = serverEnv(dir)
  const eventsPath = join(dir, 'events.db')
  const readModelPath = join(dir, 'read-model.db')

  // Users and roles through the API, then a clean stop: the read model is up to date.
  let server: ServerProcess = spawnServer(t, env)
  const call = client(await server.listening)
  const admin = await loginToken(call, 'admin', TORTURE_ADMIN_PASSWORD)
  for (const id of ROLES) t.equal((await call('POST', '/v1/roles', { token: admin, body: { id, name: id } })).status, 201)
  const userIds: string[] = []
  for (let i = 0; i < USERS; i++) {
    const username = `pc-user-${i}`
    const res = await call('POST', '/v1/users', {
      token: admin,
      body: { username, email: `${username}@example.com`, firstName: 'Pc', lastName: 'User', identificationType: 'CC', identificationNumber: `PC${i}`, password: 'correct horse battery staple' }
    })
    t.equal(res.status, 201)
    userIds.push(res.body.id)
  }
  t.same(await server.kill('SIGTERM'), { code: 0, signal: null })
  const caughtUpAt = Math.max(...checkpoints(readModelPath))

  // The backlog, appended behind the stopped server's back, 500 events per append.
  const store = openSqliteEventStore({ path: eventsPath })
  const held = new Map(userIds.map((id) => [id, new Set<string>()]))
  let appended = 0
  for (let batch = 0; appended < BACKLOG; batch++) {
    const userId = userIds[batch % USERS]!
    const stream = `user-${userId}`
    const [previous] = await store.readStream(stream, { direction: 'backwards', maxCount: 1 })
    const roles = held.get(userId)!
    const events: DomainEvent[] = []
    for (let i = 0; i < Math.min(500, BACKLOG - appended); i++) {
      const roleId = ROLES[(batch + i) % ROLES.length]!
      events.push({ type: roles.has(roleId) ? 'UserRoleRevoked' : 'UserRoleAssigned', data: { userId, roleId } } as DomainEvent)
      if (roles.has(roleId)) roles.delete(roleId)
      else roles.add(roleId)
    }
    const ctx = { actor: { id: null, username: 'backlog' }, correlationId: `backlog-${batch}`, commandId: `backlog-${batch}` }
    const stamped = stamp({ clock: () => new Date(), newId: () => crypto.randomUUID() }, stream, events, ctx, previous, 'per-revision')
    await store.append(stream, stamped, { expectedRevision: previous!.revision })
    appended += events.length
  }
  const head = await store.headPosition()
  await store.close()
  t.comment(`projection crash: read model at ${caughtUpAt}, log head ${head} (${appended} events appended behind it)`)

  const figures = { killsDuringCatchUp: 0, killsDuringRebuild: 0, rebuildsFinishedBeforeKill: 0, checkpointsSeen: [] as number[], missed: 0 }

  /** After a kill: one checkpoint, not behind `floor`, and the read model equals a rebuild to it. */
  const checkAfterKill = async (t: Test, label: string, floor: number): Promise<number> => {
    const log = readLog(eventsPath)
    const problems = checkLog(log.events)
    t.strictSame([problems.positionGaps, problems.tornStreams, problems.brokenChains], [[], [], []], `${label}: the log is intact`)
    const rm = await compareWithRebuild(readModelPath, log.events, scratch)
    t.equal(rm.integrity, 'ok', `${label}: read-model.db passes integrity_check`)
    t.equal(rm.checkpoints.length, 1, `${label}: one checkpoint for every projection (${rm.checkpoints.join(', ')})`)
    t.ok(rm.checkpoint >= floor, `${label}: checkpoint ${rm.checkpoint} ≥ ${floor} (resumed, not restarted)`)
    t.strictSame(rm.differingTables, [], `${label}: the read model (${rm.rows} rows at ${rm.checkpoint}) equals a rebuild to its checkpoint`)
    figures.checkpointsSeen.push(rm.checkpoint)
    return rm.checkpoint
  }

  await t.test(`${KILLS} kills during catch-up`, async (t) => {
    let floor = caughtUpAt
    for (let kill = 1; kill <= KILLS; kill++) {
      server = spawnServer(t, env)
      let listening = false
      server.listening.then(() => { listening = true }, () => undefined)
      // Kill at a random point of what is left, once the catch-up has committed past it.
      const target = floor + 1 + Math.floor(Math.random() * (head - floor) * 0.6)
      while (!listening && server.alive()) {
        const now = Math.max(0, ...checkpoints(readModelPath))
        if (now >= target && now < head) break
        await sleep(5)
      }
      if (listening) figures.missed++
      t.equal((await server.kill('SIGKILL')).signal, 'SIGKILL', `kill ${kill}`)
      floor = await checkAfterKill(t, `kill ${kill}`, floor)
      if (floor < head) figures.killsDuringCatchUp++
    }
    t.ok(figures.killsDuringCatchUp >= 1, `at least one kill landed mid catch-up (${figures.killsDuringCatchUp} of ${KILLS})`)
  })

  await t.test('kills during a rebuild of a deleted read model', async (t) => {
    for (let kill = 1; kill <= 2; kill++) {
      for (const suffix of ['', '-wal', '-shm']) rmSync(`${readModelPath}${suffix}`, { force: true })
      server = spawnServer(t, env)
      await sleep(100 + Math.floor(Math.random() * 400))
      await server.kill('SIGKILL')
      figures.killsDuringRebuild++
      // A rebuild is written aside and renamed into place: either no read model yet, or a whole one.
      if (checkpoints(readModelPath).length > 0) {
        figures.rebuildsFinishedBeforeKill++
        await checkAfterKill(t, `rebuild kill ${kill}`, 0)
      } else {
        t.pass(`rebuild kill ${kill}: no read model left half-built`)
      }
    }
  })

  await t.test('the last start applies everything, exactly', async (t) => {
    server = spawnServer(t, env)
    const again = client(await server.listening)
    const token = await loginToken(again, 'admin', TORTURE_ADMIN_PASSWORD)
    const log = readLog(eventsPath)
    const folded = foldUsers(log.events)
    const listed = new Map((await listAllUsers(again, token)).map((u) => [u.id as string, u]))
    const wrong = userIds.filter((id) => [...(listed.get(id)?.roles ?? [])].sort().join() !== [...(folded.get(id)?.roles ?? ['missing'])].sort().join())
    t.strictSame(wrong, [], `the API shows all ${USERS} users with the roles their streams fold to`)
    t.ok(userIds.every((id) => [...held.get(id)!].sort().join() === [...(folded.get(id)?.roles ?? [])].sort().join()), 'which are the roles the backlog left')
    t.same(await server.kill('SIGTERM'), { code: 0, signal: null })
    const rm = await compareWithRebuild(readModelPath, readLog(eventsPath).events, scratch)
    t.equal(rm.checkpoint, readLog(eventsPath).head, 'every event applied')
    t.strictSame(rm.differingTables, [], 'the read model equals a full rebuild')
  })
  t.comment(`projection crash figures: ${JSON.stringify({ backlog: appended, head, ...figures })}`)
})
