/**
 * Crash during refresh grants under load: the real server (src/main.ts in its own process) serves
 * refresh chains over HTTP (each chain signs in with POST /v1/authentication, then refreshes at
 * /oauth2/token with the refresh token it last received, over and over; now and then it signs
 * its session out with DELETE /v1/users/{id}/sessions/{sid} and starts again), many chains at
 * once and two per user (so the refreshes of one user's sessions meet on one stream), and is
 * killed with SIGKILL at a random moment, then restarted on the same files, cycle after cycle.
 *
 * After every kill, on the files the dead process left:
 *   - events.db passes integrity_check, positions run 1…n, revisions run 0…n, chains verify;
 *   - every sign-in the client received has its SessionStarted; every refresh response it
 *     received has its SessionRefreshed (per session: at least as many as were acknowledged);
 *     every 204 of a sign-out has its SessionRevoked. No acknowledged event is lost.
 * After every restart, through the API, for every session the client holds a token of:
 *   - the user's sessions list has it, `active` exactly when the log holds no SessionRevoked;
 *   - a live session keeps working: its last access token on /v1, its last refresh token at the
 *     token endpoint. Only a chain whose refresh was in flight at the kill may find its last
 *     refresh token spent (the server rotated it but the answer never arrived): then presenting
 *     it is a reuse, which ends the session, and that end is an event in the log.
 * At the end a graceful SIGTERM exits 0.
 *
 * TORTURE_REFRESH_CYCLES (default 6), TORTURE_REFRESH_CHAINS (default 12) and TORTURE_SEED.
 */
import { join } from 'node:path'
import t from 'tap'
import type { RecordedEvent } from '../../src/eventstore/port.js'
import {
  checkLog, client, envInt, loginToken, prng, readLog, serverEnv, sleep, spawnServer, tempDir,
  TORTURE_ADMIN_PASSWORD, type Client, type Reply, type ServerProcess
} from '../helpers/torture.js'

const CYCLES = envInt('TORTURE_REFRESH_CYCLES', 6)
const CHAINS = envInt('TORTURE_REFRESH_CHAINS', 12)
const SEED = envInt('TORTURE_SEED', Math.floor(Math.random() * 2 ** 31))
const PASSWORD = 'correct horse battery staple'
const random = prng(SEED)
t.setTimeout(Math.max(300_000, CYCLES * 45_000))

interface Chain {
  readonly index: number
  readonly user: { id: string, username: string }
  /** The session the client holds tokens of, with the last ones it received. */
  session: { sid: string, access: string, refresh: string } | null
  /** What was in flight when the server died (its effect is unknown). */
  cut: 'sign-in' | 'refresh' | 'sign-out' | null
}

/** What the client was told happened, per session: the events the log must hold. */
interface Acked { started: boolean, refreshes: number, signedOut: boolean }

const figures = { cycles: 0, signIns: 0, refreshes: 0, signOuts: 0, cutAtKill: 0, spentAfterKill: 0, liveAfterRestart: 0, endedAfterRestart: 0, events: 0 }
t.comment(`refresh crash: ${CYCLES} cycles, ${CHAINS} refresh chains, seed ${SEED} (TORTURE_SEED to replay)`)

const sidOf = (jwt: string): string => String((JSON.parse(Buffer.from(jwt.split('.')[1]!, 'base64url').toString()) as { sid?: unknown }).sid)

async function tokenEndpoint (base: string, params: Record<string, string>): Promise<Reply> {
  const res = await fetch(`${base}/oauth2/token`, {
    method: 'POST',
    headers: { 'content-type': 'application/x-www-form-urlencoded' },
    body: new URLSearchParams(params).toString()
  })
  const text = await res.text()
  let body: any = null
  try { body = JSON.parse(text) } catch { body = text }
  return { status: res.status, headers: res.headers, text, body }
}

/** Per session id: what the log says (started, refreshes, ended with why). */
function sessionsInLog (events: readonly RecordedEvent[]): Map<string, { started: boolean, refreshes: number, ended: string | null }> {
  const out = new Map<string, { started: boolean, refreshes: number, ended: string | null }>()
  for (const e of events) {
    if (e.type !== 'SessionStarted' && e.type !== 'SessionRefreshed' && e.type !== 'SessionRevoked') continue
    const sid = String((e.data as { sessionId: unknown }).sessionId)
    const s = out.get(sid) ?? { started: false, refreshes: 0, ended: null }
    if (e.type === 'SessionStarted') s.started = true
    if (e.type === 'SessionRefreshed') s.refreshes++
    if (e.type === 'SessionRevoked') s.ended = String((e.data as { reason: unknown }).reason)
    out.set(sid, s)
  }
  return out
}

t.test('every refresh the client received keeps its session record through kill -9', async (t) => {
  const dir = tempDir(t)
  const env = serverEnv(dir)
  const start = (): ServerProcess => spawnServer(t, env)
  let server = start()
  let base = await server.listening

  const chains: Chain[] = []
  const acked = new Map<string, Acked>()
  const ackOf = (sid: string): Acked => {
    const a = acked.get(sid) ?? { started: false, refreshes: 0, signedOut: false }
    acked.set(sid, a)
    return a
  }
  {
    const call = client(base)
    const admin = await loginToken(call, 'admin', TORTURE_ADMIN_PASSWORD)
    for (let u = 0; u < Math.ceil(CHAINS / 2); u++) {
      const username = `refresh-${SEED.toString(36)}-${u}`
      const res = await call('POST', '/v1/users', {
        token: admin,
        body: { username, email: `${username}@example.com`, firstName: 'Refresh', lastName: 'Chain', identificationType: 'CC', identificationNumber: `${SEED}${u}`.slice(-20), password: PASSWORD }
      })
      t.equal(res.status, 201, `user ${username}`)
      for (let c = 0; c < 2 && chains.length < CHAINS; c++) chains.push({ index: chains.length, user: { id: res.body.id, username }, session: null, cut: null })
    }
  }

  for (let cycle = 1; cycle <= CYCLES; cycle++) {
    await t.test(`cycle ${cycle}`, async (t) => {
      const call: Client = client(base)
      let stop = false
      const unexpected: string[] = []

      const step = async (chain: Chain): Promise<boolean> => {
        const s = chain.session
        if (s === null) {
          chain.cut = 'sign-in'
          const res = await call('POST', '/v1/authentication', { body: { username: chain.user.username, password: PASSWORD }, headers: { 'user-agent': `refresh-torture/${chain.index}` } })
          chain.cut = null
          if (res.status !== 200) { unexpected.push(`sign-in ${chain.user.username}: ${res.status} ${res.text.slice(0, 200)}`); return false }
          const sid = sidOf(res.body.access_token)
          chain.session = { sid, access: res.body.access_token, refresh: res.body.refresh_token }
          ackOf(sid).started = true
          figures.signIns++
          return true
        }
        if (random() < 0.05) {
          chain.cut = 'sign-out'
          const res = await call('DELETE', `/v1/users/${chain.user.id}/sessions/${s.sid}`, { token: s.access })
          chain.cut = null
          if (res.status !== 204) { unexpected.push(`sign-out ${s.sid}: ${res.status} ${res.text.slice(0, 200)}`); return false }
          ackOf(s.sid).signedOut = true
          chain.session = null
          figures.signOuts++
          return true
        }
        chain.cut = 'refresh'
        const res = await tokenEndpoint(base, { grant_type: 'refresh_token', refresh_token: s.refresh, client_id: 'idm-api' })
        chain.cut = null
        if (res.status !== 200) { unexpected.push(`refresh ${s.sid}: ${res.status} ${res.text.slice(0, 200)}`); return false }
        if (sidOf(res.body.access_token) !== s.sid) unexpected.push(`refresh ${s.sid}: an access token of session ${sidOf(res.body.access_token)}`)
        chain.session = { sid: s.sid, access: res.body.access_token, refresh: res.body.refresh_token }
        ackOf(s.sid).refreshes++
        figures.refreshes++
        return true
      }

      const run = async (chain: Chain): Promise<void> => {
        while (!stop) {
          try {
            if (!await step(chain)) return
          } catch {
            // The server died with this request in flight: it may or may not have happened.
            figures.cutAtKill++
            return
          }
        }
      }

      const killAfter = 300 + Math.floor(random() * 2200)
      const running = chains.map(async (chain) => await run(chain))
      await sleep(killAfter)
      stop = true
      const exit = await server.kill('SIGKILL')
      t.equal(exit.signal, 'SIGKILL', `killed after ${killAfter} ms`)
      await Promise.all(running)
      t.strictSame(unexpected, [], 'nothing was refused while the server was up')
      figures.cycles++

      // The files of the dead server.
      const log = readLog(join(dir, 'events.db'))
      t.equal(log.integrity, 'ok', 'events.db passes integrity_check')
      const problems = checkLog(log.events)
      t.strictSame(problems.positionGaps, [], `positions run 1…${log.head}`)
      t.strictSame(problems.tornStreams, [], 'revisions run 0…n')
      t.strictSame(problems.brokenChains, [], 'every hash chain verifies')
      const inLog = sessionsInLog(log.events)
      const lost: string[] = []
      for (const [sid, a] of acked) {
        const l = inLog.get(sid)
        if (a.started && l?.started !== true) lost.push(`${sid}: sign-in acknowledged, no SessionStarted`)
        if (a.refreshes > (l?.refreshes ?? 0)) lost.push(`${sid}: ${a.refreshes} refreshes acknowledged, ${l?.refreshes ?? 0} SessionRefreshed`)
        if (a.signedOut && l?.ended === null) lost.push(`${sid}: sign-out acknowledged, no SessionRevoked`)
      }
      t.strictSame(lost, [], `every acknowledged session event of ${acked.size} sessions is in the log`)
      figures.events = log.head

      // Restart on the same files; then every session the client holds must be live or ended by an event.
      server = start()
      base = await server.listening
      const again = client(base)
      const admin = await loginToken(again, 'admin', TORTURE_ADMIN_PASSWORD)
      const wrong: string[] = []
      for (const chain of chains) {
        const s = chain.session
        if (s === null) { chain.cut = null; continue }
        const listed = await again('GET', `/v1/users/${chain.user.id}/sessions`, { token: admin })
        const record = (listed.body?.items as { id: string, status: string }[] | undefined)?.find((x) => x.id === s.sid)
        if (record === undefined) { wrong.push(`${s.sid}: not in the user's sessions after restart`); continue }
        const ended = sessionsInLog(readLog(join(dir, 'events.db')).events).get(s.sid)?.ended ?? null
        if ((record.status === 'ended') !== (ended !== null)) wrong.push(`${s.sid}: listed ${record.status}, log says ${ended ?? 'live'}`)
        if (record.status === 'ended') {
          // Only a cut sign-out may have ended it.
          if (chain.cut !== 'sign-out') wrong.push(`${s.sid}: ended (${ended ?? '?'}) though no sign-out was in flight`)
          chain.session = null
          chain.cut = null
          figures.endedAfterRestart++
          continue
        }
        const me = await again('GET', '/v1/users/me', { token: s.access })
        if (me.status !== 200) wrong.push(`${s.sid}: live, but its last access token got ${me.status}`)
        const refreshed = await tokenEndpoint(base, { grant_type: 'refresh_token', refresh_token: s.refresh, client_id: 'idm-api' })
        if (refreshed.status === 200) {
          chain.session = { sid: s.sid, access: refreshed.body.access_token, refresh: refreshed.body.refresh_token }
          ackOf(s.sid).refreshes++
          figures.liveAfterRestart++
        } else {
          // Spent by a refresh whose answer was lost: a reuse, which must end the session by an event.
          const endedNow = sessionsInLog(readLog(join(dir, 'events.db')).events).get(s.sid)?.ended ?? null
          if (chain.cut !== 'refresh') wrong.push(`${s.sid}: its last refresh token got ${refreshed.status} ${refreshed.text.slice(0, 120)} though no refresh was in flight`)
          else if (endedNow === null) wrong.push(`${s.sid}: its spent refresh token was refused, but the session's end is not in the log`)
          else if ((await again('GET', '/v1/users/me', { token: s.access })).status !== 401) wrong.push(`${s.sid}: ended by reuse, but its access token still works`)
          chain.session = null
          figures.spentAfterKill++
        }
        chain.cut = null
      }
      t.strictSame(wrong, [], 'after the restart every session the client holds is live and working, or its end is an event')
      t.comment(`cycle ${cycle}: ${figures.refreshes} refreshes, ${figures.signIns} sign-ins, ${figures.signOuts} sign-outs acknowledged so far`)
    })
  }

  await t.test('a graceful stop exits 0', async (t) => {
    const exit = await server.kill('SIGTERM')
    t.same(exit, { code: 0, signal: null }, 'SIGTERM exits 0')
  })
  t.ok(figures.refreshes > CYCLES, `refresh grants were acknowledged under load (${figures.refreshes})`)
  t.comment(`refresh crash figures: ${JSON.stringify({ ...figures, sessions: acked.size, seed: SEED })}`)
})
