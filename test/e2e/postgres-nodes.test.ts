/**
 * Three real server processes on one PostgreSQL database, reached the way an operator gets
 * there: a SQLite deployment's log exported (`idm events export`), imported into PostgreSQL
 * (`idm events import`), its hash chains verified there (`idm audit verify`), and three nodes
 * started on it that each build their own read model from it. Then the cross-node guarantees:
 * 50 concurrent registrations of one username spread over the three make one user; five wrong
 * passwords spread over the three lock the account on all; a write on one node is read on
 * another through x-idm-position / x-idm-min-position.
 */
import { mkdtempSync, rmSync } from 'node:fs'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import t from 'tap'
import { runCli } from '../audit/cli-helpers.js'
import { userBody } from '../helpers/api.js'
import { adminToken, startNode, stopNode, type Node } from '../helpers/nodes.js'
import { requirePostgres, testDatabase } from '../helpers/postgres.js'

const server = await requirePostgres(t, 'three-node suite')

if (server !== undefined) {
  t.test('SQLite → PostgreSQL migration, then three nodes on one database behave as one service', { timeout: 300_000 }, async (t) => {
    const root = mkdtempSync(join(tmpdir(), 'idm-pg-nodes-'))
    t.teardown(() => rmSync(root, { recursive: true, force: true }))
    const url = await testDatabase(t, server)
    const sqlite = `sqlite:${join(root, 'events.db')}`

    // A deployment on SQLite with some history.
    const solo = await startNode(t, root, 'solo', sqlite)
    const soloAdmin = await adminToken(solo)
    const migrated = []
    for (let i = 0; i < 3; i++) {
      const created = await solo.call('POST', '/v1/users', { token: soloAdmin, body: userBody() })
      t.equal(created.status, 201)
      migrated.push(created.body)
    }
    await solo.call('POST', `/v1/users/${migrated[0].id}/roles`, { token: soloAdmin, body: { roleId: 'identity-auditor' } })
    t.equal(await stopNode(solo), 0)

    const cli = (args: string[], store: string) => runCli(args, { IDM_DATA_DIR: join(root, 'cli'), IDM_EVENTSTORE: store })
    const exported = await cli(['events', 'export', '--output', join(root, 'events.ndjson')], sqlite)
    t.equal(exported.code, 0, exported.stderr)
    const imported = await cli(['events', 'import', '--input', join(root, 'events.ndjson')], url)
    t.equal(imported.code, 0, imported.stderr)
    t.match(imported.stdout.toString(), /^imported \d+ events/)
    const verified = await cli(['audit', 'verify'], url)
    t.equal(verified.code, 0, verified.stderr)
    t.match(verified.stdout.toString(), /every hash chain intact/, 'the chains verify in PostgreSQL')
    const again = await cli(['events', 'import', '--input', join(root, 'events.ndjson')], url)
    t.not(again.code, 0, 'importing into a store that is not empty is refused')

    // Three nodes on the database, started one after the other (the first finds the admin there).
    const nodes: Node[] = []
    for (const name of ['a', 'b', 'c']) nodes.push(await startNode(t, root, name, url))
    for (const node of nodes) t.notMatch(node.proc.stdout(), /admin user/, `${node.name} finds the store bootstrapped`)
    const tokens = await Promise.all(nodes.map(adminToken))
    for (const [i, node] of nodes.entries()) {
      const read = await node.call('GET', `/v1/users/${migrated[0].id}`, { token: tokens[i]! })
      t.equal(read.status, 200, `${node.name} built its read model from the imported log`)
      t.strictSame(read.body.roles, migrated[0].roles.concat('identity-auditor').sort(), `${node.name}: the migrated role is there`)
    }
    const [a, b, c] = nodes as [Node, Node, Node]
    const admin = tokens[0]!

    // A write on A read on B: B waits until its projection reached the write's position.
    const created = await a.call('POST', '/v1/users', { token: admin, body: userBody() })
    t.equal(created.status, 201)
    const position = created.headers.get('x-idm-position')
    t.match(position, /^\d+$/, 'writes report their log position')
    const onB = await b.call('GET', `/v1/users/${created.body.id}`, { token: admin, headers: { 'x-idm-min-position': position! } })
    t.equal(onB.status, 200, 'a token of A works on B (shared signing key)')
    t.same(onB.body, created.body, 'B shows the write once it reached that position')
    const roleOnC = await c.call('POST', `/v1/users/${created.body.id}/roles`, { token: admin, body: { roleId: 'identity-auditor' } })
    t.equal(roleOnC.status, 200)
    const onA = await a.call('GET', `/v1/users/${created.body.id}`, { token: admin, headers: { 'x-idm-min-position': roleOnC.headers.get('x-idm-position')! } })
    t.ok(onA.body.roles.includes('identity-auditor'), 'a write on C is read on A the same way')

    // 50 concurrent registrations of one username over the three nodes: exactly one user.
    const contested = userBody()
    const attempts = await Promise.all(Array.from({ length: 50 }, async (_, i) =>
      await nodes[i % 3]!.call('POST', '/v1/users', { token: admin, body: { ...userBody(), username: contested.username } })))
    const statuses = attempts.map((r) => r.status)
    t.equal(statuses.filter((s) => s === 201).length, 1, `exactly one registration wins (${[...new Set(statuses)].join(',')})`)
    t.equal(statuses.filter((s) => s === 409).length, 49, 'the other 49 are conflicts')
    const winner = attempts.find((r) => r.status === 201)!
    const lastPosition = String(Math.max(...attempts.map((r) => Number(r.headers.get('x-idm-position') ?? 0))))
    for (const node of nodes) {
      const list = await node.call('GET', `/v1/users?username=${contested.username}`, { token: admin, headers: { 'x-idm-min-position': lastPosition } })
      const matching = (list.body.items as Array<{ id: string, username: string }>).filter((u) => u.username === contested.username)
      t.equal(matching.length, 1, `${node.name} lists one user named ${contested.username}`)
      t.equal(matching[0]?.id, winner.body.id)
    }

    // Five wrong passwords spread over the three nodes lock the account on all of them.
    const victim = userBody()
    const made = await a.call('POST', '/v1/users', { token: admin, body: victim })
    for (let i = 0; i < 5; i++) {
      const wrong = await nodes[i % 3]!.call('POST', '/v1/authentication', { body: { username: victim.username, password: 'not the right one at all' } })
      t.equal(wrong.status, 401, `wrong password ${i + 1} on ${nodes[i % 3]!.name}`)
    }
    for (const node of nodes) {
      const right = await node.call('POST', '/v1/authentication', { body: { username: victim.username, password: victim.password } })
      t.equal(right.status, 401, `${node.name} refuses the right password while locked`)
      let status = ''
      for (let i = 0; i < 100 && status !== 'locked'; i++) {
        status = (await node.call('GET', `/v1/users/${made.body.id}`, { token: admin })).body.status
        if (status !== 'locked') await new Promise((resolve) => setTimeout(resolve, 50))
      }
      t.equal(status, 'locked', `${node.name} shows the account locked`)
    }

    for (const node of nodes) t.equal(await stopNode(node), 0, `${node.name} stops cleanly`)
  })
}
