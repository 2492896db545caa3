/**
 * Sustained mixed load against the real server process: for TORTURE_LOAD_SECONDS (default 60),
 * TORTURE_LOAD_CONNECTIONS (default 16) clients keep up a mix of reads (lists with a search, single
 * users, /me), logins (right passwords, and wrong ones for unknown names) and writes
 * (registrations, role assignments and revocations). Zero 5xx; every answer is the one the request
 * calls for; the server's RSS is printed at the start, every 10 s and at the end, and may not grow
 * past 3× plus 200 MiB; afterwards every acknowledged write is visible through the API, and after a
 * graceful stop the log is intact and holds every acknowledged write.
 */
import { join } from 'node:path'
import t from 'tap'
import {
  checkLog, client, correlationIds, envInt, foldUsers, listAllUsers, loginToken, mib, readLog, rssOf, serverEnv, spawnServer,
  tempDir, TORTURE_ADMIN_PASSWORD
} from '../helpers/torture.js'

const SECONDS = envInt('TORTURE_LOAD_SECONDS', 60)
const CONNECTIONS = envInt('TORTURE_LOAD_CONNECTIONS', 16)
const PASSWORD = 'correct horse battery staple'
const ROLES = ['load-a', 'load-b']
t.setTimeout(SECONDS * 1000 + 240_000)

t.test(`${SECONDS} s of mixed load on ${CONNECTIONS} connections`, async (t) => {
  const dir = tempDir(t)
  const server = spawnServer(t, serverEnv(dir))
  const call = client(await server.listening)
  const admin = await loginToken(call, 'admin', TORTURE_ADMIN_PASSWORD)
  for (const id of ROLES) t.equal((await call('POST', '/v1/roles', { token: admin, body: { id, name: id } })).status, 201)

  interface Mine { id: string, username: string, roles: Set<string> }
  const users: Mine[] = []
  const acked: string[] = []
  const statuses = new Map<string, number>()
  const unexpected: string[] = []
  const latencies: number[] = []
  let seq = 0
  let fiveHundreds = 0

  const register = async (w: number): Promise<void> => {
    const username = `load-${w}-${++seq}`
    const requestId = `load-reg-${seq}`
    const res = await call('POST', '/v1/users', {
      token: admin,
      headers: { 'x-request-id': requestId },
      body: { username, email: `${username}@example.com`, firstName: 'Load', lastName: `W${w}`, identificationType: 'CC', identificationNumber: `L${seq}`, password: PASSWORD }
    })
    expect('register', res.status, 201, res.text)
    if (res.status === 201) { users.push({ id: res.body.id, username, roles: new Set() }); acked.push(requestId) }
  }
  const expect = (kind: string, status: number, wanted: number, text: string): void => {
    const key = `${kind} ${status}`
    statuses.set(key, (statuses.get(key) ?? 0) + 1)
    if (status >= 500) fiveHundreds++
    if (status !== wanted && unexpected.length < 20) unexpected.push(`${key} (wanted ${wanted}): ${text.slice(0, 200)}`)
  }

  const started = Date.now()
  const deadline = started + SECONDS * 1000
  const rss: Array<[number, number | null]> = [[0, rssOf(server.pid)]]
  const sampler = setInterval(() => rss.push([Math.round((Date.now() - started) / 1000), rssOf(server.pid)]), 10_000)
  t.teardown(() => clearInterval(sampler))

  const worker = async (w: number): Promise<void> => {
    const mine: Mine[] = []
    while (Date.now() < deadline) {
      const roll = Math.random()
      const t0 = performance.now()
      if (mine.length === 0 || roll < 0.1) {
        const before = users.length
        await register(w)
        if (users.length > before) mine.push(users.at(-1)!)
      } else if (roll < 0.2) {
        const user = mine[Math.floor(Math.random() * mine.length)]!
        const roleId = ROLES[Math.floor(Math.random() * ROLES.length)]!
        const requestId = `load-role-${++seq}`
        const headers = { 'x-request-id': requestId }
        if (user.roles.has(roleId)) {
          const res = await call('DELETE', `/v1/users/${user.id}/roles/${roleId}`, { token: admin, headers })
          expect('revoke', res.status, 204, res.text)
          if (res.status === 204) { user.roles.delete(roleId); acked.push(requestId) }
        } else {
          const res = await call('POST', `/v1/users/${user.id}/roles`, { token: admin, headers, body: { roleId } })
          expect('assign', res.status, 200, res.text)
          if (res.status === 200) { user.roles.add(roleId); acked.push(requestId) }
        }
      } else if (roll < 0.3) {
        const user = mine[Math.floor(Math.random() * mine.length)]!
        const res = await call('POST', '/v1/authentication', { body: { username: user.username, password: PASSWORD } })
        expect('login', res.status, 200, res.text)
      } else if (roll < 0.35) {
        const res = await call('POST', '/v1/authentication', { body: { username: `nobody-${w}-${seq}`, password: 'a wrong guess for nobody' } })
        expect('failed login', res.status, 401, res.text)
      } else if (roll < 0.7) {
        const res = await call('GET', `/v1/users?limit=20&q=load-${w}`, { token: admin })
        expect('list', res.status, 200, res.text)
      } else if (roll < 0.9) {
        const user = users[Math.floor(Math.random() * users.length)]!
        const res = await call('GET', `/v1/users/${user.id}`, { token: admin })
        expect('read', res.status, 200, res.text)
      } else {
        const res = await call('GET', '/v1/users/me', { token: admin })
        expect('me', res.status, 200, res.text)
      }
      latencies.push(performance.now() - t0)
    }
  }
  await Promise.all(Array.from({ length: CONNECTIONS }, async (_, w) => await worker(w)))
  clearInterval(sampler)
  const elapsed = (Date.now() - started) / 1000
  rss.push([Math.round(elapsed), rssOf(server.pid)])

  const total = latencies.length
  const sorted = [...latencies].sort((a, b) => a - b)
  const pct = (p: number): string => `${sorted[Math.min(sorted.length - 1, Math.floor(p * sorted.length))]!.toFixed(0)} ms`
  t.comment(`sustained load: ${total} requests in ${elapsed.toFixed(1)} s (${(total / elapsed).toFixed(0)}/s) on ${CONNECTIONS} connections; p50 ${pct(0.5)}, p99 ${pct(0.99)}`)
  t.comment(`sustained load statuses: ${JSON.stringify(Object.fromEntries([...statuses].sort()))}`)
  t.comment(`sustained load RSS: ${rss.map(([s, bytes]) => `${s}s ${mib(bytes)}`).join(', ')}`)
  t.equal(fiveHundreds, 0, 'zero 5xx')
  t.strictSame(unexpected, [], 'every answer is the one the request calls for')
  const [, first] = rss[0]!
  const [, last] = rss.at(-1)!
  if (first !== null && last !== null) {
    t.ok(last < 3 * first + 200 * 2 ** 20, `RSS bounded: ${mib(first)} at the start, ${mib(last)} at the end (limit 3× + 200 MiB)`)
  }

  // Every acknowledged write, through the API and then in the log of the stopped server.
  const listed = new Map((await listAllUsers(call, admin)).map((u) => [u.id as string, u]))
  const wrong = users.filter((u) => {
    const view = listed.get(u.id)
    return view === undefined || [...(view.roles as string[])].sort().join() !== [...u.roles].sort().join()
  })
  t.strictSame(wrong.map((u) => u.username), [], `all ${users.length} registered users show exactly their acknowledged roles`)
  t.same(await server.kill('SIGTERM'), { code: 0, signal: null }, 'a graceful stop under no load exits 0')
  const log = readLog(join(dir, 'events.db'))
  t.equal(log.integrity, 'ok')
  const problems = checkLog(log.events)
  t.strictSame([problems.positionGaps, problems.tornStreams, problems.brokenChains], [[], [], []], `the log of ${log.head} events is intact`)
  const byRequest = correlationIds(log.events)
  t.strictSame(acked.filter((id) => !byRequest.has(id)), [], `all ${acked.length} acknowledged writes are in the log`)
  const folded = foldUsers(log.events)
  t.ok(users.every((u) => folded.get(u.id)?.roles.slice().sort().join() === [...u.roles].sort().join()), 'and fold to the acknowledged roles')
  t.comment(`sustained load: ${acked.length} acknowledged writes checked in the log, ${users.length} users checked through the API and the fold; ${fiveHundreds} 5xx`)
})
