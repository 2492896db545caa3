/**
 * Login timing, measured and printed (never asserted: CI machines are shared and noisy).
 * TIMING_TRIES (default 200) interleaved attempts of each kind — unknown username, wrong
 * password, locked account, deactivated account — at a realistic KDF cost (TIMING_LOGN, default
 * 14: N = 2^14, r = 8), sequentially through the real service. Prints the median and p90 of
 * each kind and the ratio of the largest median to the smallest; an attacker who could tell the
 * kinds apart by time would see it there. (Every kind costs one scrypt: src/commands/authentication.ts.)
 */
import t from 'tap'
import { expectProblem, openApiService, PASSWORD, type UserView } from '../helpers/api.js'
import { envInt, median } from '../helpers/torture.js'

const TRIES = envInt('TIMING_TRIES', 200)
const LOGN = envInt('TIMING_LOGN', 14)
t.setTimeout(Math.max(300_000, TRIES * 4 * 1500))

t.test(`login timing: ${TRIES} interleaved tries of each kind at scrypt logN ${LOGN}`, async (t) => {
  const svc = await openApiService(t, {
    IDM_SCRYPT_LOGN: String(LOGN), IDM_MFA_REQUIRED_ROLES: '', IDM_STEP_UP_SECONDS: '0',
    IDM_LOCKOUT_THRESHOLD: '100',
    IDM_LOCKOUT_BASE_SECONDS: '86400',
    IDM_LOCKOUT_MAX_SECONDS: '86400',
    IDM_LOGIN_RATE_LIMIT: '100000',
    IDM_LOGIN_RATE_LIMIT_PER_USERNAME: '100000'
  })
  // Spread over several accounts so that no wrong-password or deactivated account locks (threshold 100).
  const accounts = Math.max(1, Math.ceil(TRIES / 40))
  const wrong: UserView[] = []
  const inactive: UserView[] = []
  for (let i = 0; i < accounts; i++) {
    wrong.push(await svc.createUser())
    const off = await svc.createUser()
    t.equal((await svc.call('PUT', `/v1/users/${off.id}/status`, { token: svc.admin, body: { status: 'inactive' } })).statusCode, 200)
    inactive.push(off)
  }
  const locked = await svc.createUser()
  for (let i = 0; i < 100; i++) await svc.call('POST', '/v1/authentication', { body: { username: locked.username, password: `lock it with wrong guess ${i}` } })
  t.equal((await svc.call('GET', `/v1/users/${locked.id}`, { token: svc.admin })).json().status, 'locked', 'the locked account is locked')

  const kinds = {
    'unknown username': (i: number) => ({ username: `nobody-timing-${i}`, password: PASSWORD }),
    'wrong password': (i: number) => ({ username: wrong[i % accounts]!.username, password: `a wrong password number ${i}` }),
    'locked account': (_i: number) => ({ username: locked.username, password: PASSWORD }),
    'deactivated account': (i: number) => ({ username: inactive[i % accounts]!.username, password: PASSWORD })
  }
  const names = Object.keys(kinds) as Array<keyof typeof kinds>
  const times = new Map<string, number[]>(names.map((n) => [n, []]))
  // Warm up every path once.
  for (const name of names) await svc.call('POST', '/v1/authentication', { body: kinds[name](TRIES) })
  for (let i = 0; i < TRIES; i++) {
    const order = [...names].sort(() => Math.random() - 0.5)
    for (const name of order) {
      const started = process.hrtime.bigint()
      const res = await svc.call('POST', '/v1/authentication', { body: kinds[name](i) })
      times.get(name)!.push(Number(process.hrtime.bigint() - started) / 1e6)
      if (res.statusCode !== 401) expectProblem(t, res, 401, {}, `${name} ${i}`)
    }
  }
  const medians = names.map((n) => median(times.get(n)!))
  for (const [i, name] of names.entries()) {
    const sorted = [...times.get(name)!].sort((a, b) => a - b)
    t.comment(`login timing: ${name.padEnd(20)} median ${medians[i]!.toFixed(1)} ms, p90 ${sorted[Math.floor(sorted.length * 0.9)]!.toFixed(1)} ms (${sorted.length} tries)`)
  }
  const ratio = Math.max(...medians) / Math.min(...medians)
  t.comment(`login timing: largest median / smallest median = ${ratio.toFixed(3)} (scrypt logN ${LOGN}, r 8, p 1; ${TRIES} interleaved tries each; printed, not asserted)`)
  t.pass('measured')
})
