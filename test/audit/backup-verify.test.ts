/**
 * Backup, restore and tamper evidence, through the real `idm` process: export → import into a
 * fresh data directory → export again is byte-equal, the read model rebuilt there equals the
 * original, the chains verify; an edited or deleted event is reported by GET /v1/audit/verify and
 * by `idm audit verify` (exit code 2); refusals exit 1.
 */
import { mkdtempSync, rmSync } from 'node:fs'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import Database from 'better-sqlite3'
import t, { type Test } from 'tap'
import { exportEvents, importEvents } from '../../src/audit/backup.js'
import { openSqliteEventStore, type SqliteEventStore } from '../../src/eventstore/sqlite.js'
import { dumpReadModel } from '../../src/projections/dump.js'
import { runCli } from './cli-helpers.js'
import { PASSWORD, openAuditService, type AuditService } from './helpers.js'

function tempDir (t: Test): string {
  const dir = mkdtempSync(join(tmpdir(), 'idm-cli-'))
  t.teardown(() => rmSync(dir, { recursive: true, force: true }))
  return dir
}

/** A store with a bit of everything: catalogs, users, logins (known and unknown), changes. */
async function populate (svc: AuditService): Promise<{ userIds: string[] }> {
  await svc.ok('POST', '/v1/companies', { token: svc.admin, body: { id: 'acme', name: 'ACME S.A.S.' } })
  await svc.ok('POST', '/v1/roles', { token: svc.admin, body: { id: 'dispatcher', name: 'Dispatcher' } })
  const userIds: string[] = []
  for (let i = 0; i < 4; i++) {
    const user = await svc.createUser({ roles: ['dispatcher'], companies: ['acme'], firstName: `Zoë ${i} “quoted” \u2028` })
    userIds.push(user.id)
    await svc.token(user.username, PASSWORD)
    svc.tick(1000)
  }
  await svc.call('POST', '/v1/authentication', { body: { username: 'nobody', password: 'wrong wrong wrong wrong' } })
  await svc.ok('PUT', `/v1/users/${userIds[0]}/status`, { token: svc.admin, body: { status: 'inactive', reason: 'left' } })
  await svc.ok('DELETE', `/v1/users/${userIds[1]}/roles/dispatcher`, { token: svc.admin })
  await svc.ok('PUT', `/v1/users/${userIds[2]}/password`, { token: svc.admin, body: { newPassword: 'another long passphrase here' } })
  await svc.runner.waitFor(await svc.store.headPosition(), 5000)
  return { userIds }
}

t.test('export → import → export is byte-equal; the rebuilt read model equals the original', async t => {
  const svc = await openAuditService(t)
  await populate(svc)
  const head = await svc.store.headPosition()
  const original = dumpReadModel(svc.readModel.db)

  const exported = await runCli(['events', 'export'], { IDM_DATA_DIR: svc.dir })
  t.equal(exported.code, 0, exported.stderr)
  t.match(exported.stderr, /password hashes/)
  const lines = exported.stdout.toString('utf8').trimEnd().split('\n')
  t.equal(lines.length, head + 1, 'a header and every event')
  t.same(JSON.parse(lines[0]!), { format: 'identity-manager-events', version: 1, after: 0 })
  const records = lines.slice(1).map(l => JSON.parse(l))
  t.same(records.map(r => r.position), Array.from({ length: head }, (_, i) => i + 1))
  t.ok(records.some(r => r.stream.startsWith('reservation-')) && records.some(r => r.stream === 'identity-admins') &&
    records.some(r => r.stream.startsWith('auth-unknown-')), 'internal streams included')
  t.ok(records.some(r => typeof r.data.passwordHash === 'string' && r.data.passwordHash !== '[redacted]'), 'unredacted: a full backup')
  t.match(records[0], { stream: String, revision: 0, id: String, type: String, data: Object, metadata: { hash: String, prevHash: String } })

  const restored = tempDir(t)
  const imported = await runCli(['events', 'import'], { IDM_DATA_DIR: restored }, exported.stdout)
  t.equal(imported.code, 0, imported.stderr)
  t.match(imported.stdout.toString(), new RegExp(`imported ${head} events`))

  const [again, rebuilt, verified, refused, inUse, missing] = await Promise.all([
    runCli(['events', 'export'], { IDM_DATA_DIR: restored }),
    runCli(['projections', 'rebuild'], { IDM_DATA_DIR: restored }),
    runCli(['audit', 'verify'], { IDM_DATA_DIR: restored }),
    runCli(['events', 'import'], { IDM_DATA_DIR: restored }, exported.stdout),
    runCli(['projections', 'rebuild'], { IDM_DATA_DIR: svc.dir }),
    runCli(['audit', 'verify'], { IDM_DATA_DIR: join(restored, 'nowhere') })
  ])
  t.equal(again.code, 0, again.stderr)
  t.ok(again.stdout.equals(exported.stdout), 'the second export is byte-equal to the first')

  t.equal(rebuilt.code, 0, rebuilt.stderr)
  t.match(rebuilt.stdout.toString(), new RegExp(`from ${head} events`))
  const db = new Database(join(restored, 'read-model.db'), { readonly: true })
  try {
    t.same(dumpReadModel(db), original, 'the rebuilt read model equals the original')
  } finally {
    db.close()
  }

  t.equal(verified.code, 0, verified.stderr)
  t.match(verified.stdout.toString(), /^ok: \d+ events in \d+ streams/)

  t.equal(refused.code, 1, 'import into a store that is not empty is refused')
  t.match(refused.stderr, /not empty/)
  t.equal(inUse.code, 1, 'rebuild while the server has the read model open is refused')
  t.match(inUse.stderr, /in use/)

  t.equal(missing.code, 1, 'a data directory without a store')
  t.match(missing.stderr, /no event store/)
})

t.test('import refuses what is not a full export, before writing anything', async t => {
  const source = openSqliteEventStore({ path: join(tempDir(t), 'events.db') })
  const target = openSqliteEventStore({ path: join(tempDir(t), 'events.db') })
  t.teardown(async () => { await source.close(); await target.close() })
  await source.append('role-x', [
    { id: '0190a6d2-7c1e-7b3a-9f00-000000000001', type: 'RoleDefined', data: { id: 'x' }, metadata: {} },
    { id: '0190a6d2-7c1e-7b3a-9f00-000000000002', type: 'RoleUpdated', data: { id: 'x' }, metadata: {} }
  ], { expectedRevision: 'no_stream' })
  let full = ''
  await exportEvents(source, chunk => { full += chunk })
  let partial = ''
  await exportEvents(source, chunk => { partial += chunk }, { after: 1 })
  const lines = (text: string) => (async function * () { yield * text.split('\n') })()
  const [header, first, second] = full.trimEnd().split('\n') as [string, string, string]

  const refusals: [string, string, RegExp][] = [
    ['empty input', '', /empty input/],
    ['garbage', 'hello', /line 1: not valid JSON/],
    ['another format', '{"format":"something-else"}', /line 1: not an export/],
    ['a newer version', header.replace('"version":1', '"version":2'), /version 2 is not supported/],
    ['a partial export', partial, /partial export/],
    ['a gap in a stream', `${header}\n${second}`, /line 2: stream role-x: revision 1, expected 0/],
    ['positions out of order', `${header}\n${first}\n${first.replace('"position":1', '"position":0')}`, /position/],
    ['a bad id', `${header}\n${first.replace(/"id":"[^"]+"/, '"id":"nope"')}`, /line 2: id must be a UUID/]
  ]
  for (const [what, text, message] of refusals) {
    await t.rejects(importEvents(target, lines(text)), { name: 'ImportError', message }, what)
  }
  t.equal(await target.headPosition(), 0, 'nothing was written')
  const result = await importEvents(target, lines(full))
  t.match(result, { events: 2, streams: 1 })
  t.equal(result.verification.ok, false, 'hashless events import, and the verification says their chain is broken')
  await t.rejects(importEvents(target, lines(full)), { message: /not empty/ }, 'and a second import is refused')
})

t.test('an edited or deleted event breaks the chain: the API and the CLI say where', async t => {
  const svc = await openAuditService(t)
  const { userIds } = await populate(svc)
  const auditor = await svc.caller(['identity-auditor'])
  await svc.ok('POST', `/v1/users/${userIds[1]}/roles`, { token: svc.admin, body: { roleId: 'dispatcher' } })
  const clean = await svc.ok('GET', '/v1/audit/verify', { token: auditor })
  const head = await svc.store.headPosition()
  const streams = new Set((await svc.store.readAll({ limit: 100_000 })).map(e => e.stream))
  t.same(clean, { ok: true, streams: streams.size, events: head })

  // Edit a user's first name in its registration, straight in the SQLite file.
  const db = (svc.store as SqliteEventStore).db
  const edited = db.prepare("UPDATE events SET data = json_set(data, '$.firstName', 'Mallory') WHERE stream = ? AND revision = 0")
    .run(`user-${userIds[3]}`)
  t.equal(edited.changes, 1)
  // Drop the middle event of another user's stream (registered, role revoked, role assigned).
  const removed = db.prepare('DELETE FROM events WHERE stream = ? AND revision = 1').run(`user-${userIds[1]}`)
  t.equal(removed.changes, 1)

  const report = await svc.ok('GET', '/v1/audit/verify', { token: auditor })
  t.equal(report.ok, false)
  t.equal(report.events, head - 1)
  t.equal(report.streams, streams.size)
  const byStream = Object.fromEntries(report.brokenLinks.map((l: any) => [l.stream, l]))
  t.equal(report.brokenLinks.length, 2, 'one link per edit, not every event after it')
  t.match(byStream[`user-${userIds[3]}`], { revision: 0, expected: /^[0-9a-f]{64}$/, found: /^[0-9a-f]{64}$/ }, 'the edited event')
  t.match(byStream[`user-${userIds[1]}`], { revision: 2, expected: /^[0-9a-f]{64}$/, found: /^[0-9a-f]{64}$/ }, 'the event after the deleted one')
  for (const link of report.brokenLinks) t.not(link.expected, link.found)
  const plain = await svc.caller([])
  t.equal((await svc.call('GET', '/v1/audit/verify', { token: plain })).statusCode, 403)

  const [cli, json] = await Promise.all([
    runCli(['audit', 'verify'], { IDM_DATA_DIR: svc.dir }),
    runCli(['audit', 'verify', '--json'], { IDM_DATA_DIR: svc.dir })
  ])
  t.equal(cli.code, 2, 'exit code 2: broken')
  t.match(cli.stdout.toString(), new RegExp(`stream user-${userIds[3]} revision 0: expected [0-9a-f]{64}, found [0-9a-f]{64}`))
  t.equal(json.code, 2)
  t.same(JSON.parse(json.stdout.toString()).brokenLinks, report.brokenLinks)
})
