/**
 * Faults of a three-node deployment on one PostgreSQL, with real processes and the real server:
 *
 * 1. kill -9 of one node under write load: every write any node acknowledged is afterwards
 *    served by the two others and by the killed node once restarted on its own data dir;
 * 2. PostgreSQL stopped under load (pg_ctlcluster … stop -m fast, which ends every connection),
 *    kept down for a few seconds, started again: while it is down every write answers a clean
 *    503 problem+json with Retry-After (no 500, no hang) and reads keep being served from the
 *    read models; when it returns every node takes writes again by itself; nothing acknowledged
 *    is lost and no projection skipped an event: each node lists exactly the users the log has.
 *
 * It stops the machine's PostgreSQL cluster, so it lives with the torture suites, which run one
 * at a time after everything else (npm run test:torture).
 */
import { mkdtempSync, rmSync } from 'node:fs'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import pg from 'pg'
import t, { type Test } from 'tap'
import { userBody } from '../helpers/api.js'
import { adminToken, startNode, type Node } from '../helpers/nodes.js'
import { controlCluster, localCluster, requirePostgres, testDatabase } from '../helpers/postgres.js'

const server = await requirePostgres(t, 'fault suite')
const sleep = async (ms: number): Promise<void> => await new Promise((resolve) => setTimeout(resolve, ms))

interface Acked { readonly id: string, readonly position: number, readonly at: number }

/** Writers registering users through every node until stopped; only 201s count as acknowledged. */
function writeLoad (nodes: () => readonly Node[], token: string, concurrency: number) {
  const acked: Acked[] = []
  const statuses = new Map<number | string, number>()
  const unavailable: Array<{ status: number, retryAfter: string | null, type: string | null, at: number }> = []
  let stop = false
  let n = 0
  const workers = Array.from({ length: concurrency }, async (_, w) => {
    while (!stop) {
      const node = nodes()[(n++ + w) % nodes().length]!
      let status: number | string
      try {
        const res = await node.call('POST', '/v1/users', { token, body: userBody() })
        status = res.status
        if (res.status === 201) acked.push({ id: res.body.id as string, position: Number(res.headers.get('x-idm-position')), at: Date.now() })
        if (res.status === 503) unavailable.push({ status: res.status, retryAfter: res.headers.get('retry-after'), type: res.headers.get('content-type'), at: Date.now() })
      } catch (error) {
        status = 'connection refused'
        await sleep(20)
      }
      statuses.set(status, (statuses.get(status) ?? 0) + 1)
    }
  })
  return {
    acked,
    statuses,
    unavailable,
    stop: async () => { stop = true; await Promise.all(workers) }
  }
}

/** Every acknowledged user is served by `node` once it reached the last acknowledged position. */
async function assertServesAll (t: Test, node: Node, token: string, acked: readonly Acked[]): Promise<void> {
  const last = String(Math.max(0, ...acked.map((ack) => ack.position)))
  const first = await node.call('GET', '/v1/users?limit=1', { token, headers: { 'x-idm-min-position': last } })
  t.equal(first.status, 200, `${node.name} reached position ${last}`)
  let missing = 0
  for (const ack of acked) {
    if ((await node.call('GET', `/v1/users/${ack.id}`, { token })).status !== 200) missing++
  }
  t.equal(missing, 0, `${node.name} serves all ${acked.length} acknowledged users`)
}

/** Users in the log (registrations, straight from PostgreSQL) against each node's listing. */
async function assertNoEventSkipped (t: Test, url: string, nodes: readonly Node[], token: string): Promise<void> {
  const db = new pg.Client({ connectionString: url })
  await db.connect()
  const { rows } = await db.query<{ id: string, head: string }>(
    "SELECT data::json->>'userId' AS id, (SELECT max(position) FROM idm_events)::text AS head FROM idm_events WHERE type = 'UserRegistered'")
  await db.end()
  const inLog = new Set(rows.map((row) => row.id))
  const head = rows[0]?.head ?? '0'
  for (const node of nodes) {
    const listed = new Set<string>()
    let cursor: string | null = null
    do {
      const page = await node.call('GET', `/v1/users?limit=200${cursor === null ? '' : `&cursor=${encodeURIComponent(cursor)}`}`, { token, headers: { 'x-idm-min-position': head } })
      t.equal(page.status, 200)
      for (const user of page.body.items as Array<{ id: string }>) listed.add(user.id)
      cursor = page.body.nextCursor ?? null
    } while (cursor !== null)
    const notListed = [...inLog].filter((id) => !listed.has(id)).length
    const extra = [...listed].filter((id) => !inLog.has(id)).length
    t.equal(notListed + extra, 0, `${node.name}: its read model lists exactly the ${inLog.size} users of the log (${notListed} missing, ${extra} extra)`)
  }
}

if (server !== undefined) {
  const cluster = localCluster()
  t.test('three nodes on one PostgreSQL survive kill -9 of a node and a database restart under load', {
    timeout: 600_000,
    ...(typeof cluster === 'string' && process.env.CI !== 'true' ? { skip: cluster } : {})
  }, async (t) => {
    const outer = t
    if (typeof cluster === 'string') throw new Error(`CI=true and ${cluster}`)
    const root = mkdtempSync(join(tmpdir(), 'idm-pg-faults-'))
    t.teardown(() => rmSync(root, { recursive: true, force: true }))
    // Whatever happens, the cluster is running when this file ends.
    t.teardown(() => { try { controlCluster(cluster, 'start') } catch {} })
    const url = await testDatabase(t, server)
    const nodes: Node[] = []
    for (const name of ['a', 'b', 'c']) nodes.push(await startNode(t, root, name, url))
    const token = await adminToken(nodes[0]!)

    await t.test('kill -9 of one node under load loses no acknowledged write', async (t) => {
      const load = writeLoad(() => nodes, token, 6)
      await sleep(2000)
      const victim = nodes[1]!
      victim.proc.child.kill('SIGKILL')
      await victim.proc.exited
      await sleep(1500)
      await load.stop()
      t.ok(load.acked.length > 20, `${load.acked.length} writes acknowledged (${JSON.stringify(Object.fromEntries(load.statuses))})`)
      for (const node of [nodes[0]!, nodes[2]!]) await assertServesAll(t, node, token, load.acked)
      // Registered on the outer test: this node must outlive this subtest.
      nodes[1] = await startNode(outer, root, 'b', url)
      await assertServesAll(t, nodes[1], token, load.acked)
    })

    await t.test('PostgreSQL stopped and started under load: clean 503s, reads served, every node recovers, nothing lost or skipped', async (t) => {
      const reader = await nodes[0]!.call('POST', '/v1/users', { token, body: userBody() })
      const readId = reader.body.id as string
      const load = writeLoad(() => nodes, token, 6)
      const reads = { ok: 0, other: new Map<number, number>() }
      let reading = true
      const readers = nodes.map(async (node) => {
        while (reading) {
          const res = await node.call('GET', `/v1/users/${readId}`, { token })
          if (res.status === 200) reads.ok++
          else reads.other.set(res.status, (reads.other.get(res.status) ?? 0) + 1)
          await sleep(10)
        }
      })
      await sleep(1500)
      controlCluster(cluster, 'stop')
      const downAt = Date.now()
      const readsBeforeDown = reads.ok
      await sleep(3000)
      const readsWhileDown = reads.ok - readsBeforeDown
      const unavailableWhileDown = load.unavailable.filter((reply) => reply.at >= downAt).length
      const startingAt = Date.now()
      controlCluster(cluster, 'start')
      const upAt = Date.now()
      // A reply already on its way when the server stopped may arrive a moment later.
      const ackedWhileDown = load.acked.filter((ack) => ack.at > downAt + 250 && ack.at < startingAt).length

      // Every node takes writes again on its own.
      const recovered = await Promise.all(nodes.map(async (node) => {
        for (;;) {
          const res = await node.call('POST', '/v1/users', { token, body: userBody() })
          if (res.status === 201) {
            load.acked.push({ id: res.body.id as string, position: Number(res.headers.get('x-idm-position')), at: Date.now() })
            return Date.now() - upAt
          }
          if (Date.now() - upAt > 60_000) return Number.POSITIVE_INFINITY
          await sleep(100)
        }
      }))
      await sleep(1000)
      await load.stop()
      reading = false
      await Promise.all(readers)

      t.ok(unavailableWhileDown > 0, `${unavailableWhileDown} writes answered 503 while PostgreSQL was down`)
      t.equal(ackedWhileDown, 0, 'no write was acknowledged while it was down')
      t.ok(load.unavailable.every((reply) => reply.retryAfter !== null && /^\d+$/.test(reply.retryAfter)), 'every 503 carries Retry-After')
      t.ok(load.unavailable.every((reply) => reply.type?.startsWith('application/problem+json') === true), 'every 503 is problem+json')
      const unexpected = [...load.statuses.keys()].filter((status) => status !== 201 && status !== 503)
      t.strictSame(unexpected, [], `writes only ever answered 201 or 503 (${JSON.stringify(Object.fromEntries(load.statuses))})`)
      t.ok(readsWhileDown > 0, `${readsWhileDown} reads served while PostgreSQL was down`)
      t.strictSame(Object.fromEntries(reads.other), {}, 'no read failed')
      t.ok(recovered.every((ms) => Number.isFinite(ms)), `every node took a write again, ${recovered.map((ms) => `${(ms / 1000).toFixed(1)} s`).join(', ')} after the start`)
      t.comment(`PostgreSQL down for ${((startingAt - downAt) / 1000).toFixed(1)} s (its start took ${((upAt - startingAt) / 1000).toFixed(1)} s); ${load.acked.length} writes acknowledged in all`)

      for (const node of nodes) await assertServesAll(t, node, token, load.acked)
      await assertNoEventSkipped(t, url, nodes, token)
    })

    for (const node of nodes) {
      node.proc.child.kill('SIGTERM')
      t.equal((await node.proc.exited).code, 0, `${node.name} stops cleanly`)
    }
  })
}
