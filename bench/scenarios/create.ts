/**
 * POST /v1/users at 16 requests in flight, each creating a new user (its password hashed at the
 * server's cost), beside raw crypto.scrypt at the same cost and concurrency in a child process:
 * a registration is one KDF hash plus three reservations and the user's event in one group
 * commit, so the machine's KDF rate is its ceiling.
 */
import type { Client, Request } from 'autocannon'
import type { BenchContext } from '../lib/context.js'
import { USER_PASSWORD, type Instance } from '../lib/instance.js'
import { assertClean, load } from '../lib/load.js'
import { LOGIN_CONNECTIONS, loginAmount, rawScrypt } from './login.js'

export const CREATE_CONNECTIONS = LOGIN_CONNECTIONS

/** A user nobody seeded: `run` and `n` keep usernames, emails and ID numbers unique across runs. */
const newUser = (run: number, n: number): string => JSON.stringify({
  username: `created.r${run}n${n}`,
  email: `created.r${run}n${n}@example.org`,
  firstName: 'Created',
  lastName: 'Bench',
  identificationType: 'CC',
  identificationNumber: `9${run}0${n}`,
  password: USER_PASSWORD
})

export async function measureCreateUser (ctx: BenchContext, instance: Instance): Promise<{ ours: number[], base: number[], p99: number[], cpu: number[] }> {
  const token = await instance.adminToken()
  const amount = loginAmount(ctx)
  const ours: number[] = []
  const base: number[] = []
  const p99: number[] = []
  const cpu: number[] = []
  let n = 0
  for (let run = 0; run < ctx.runs; run++) {
    base.push(await rawScrypt(instance.cost, amount))
    const request: Request = {
      method: 'POST',
      path: '/v1/users',
      headers: { authorization: `Bearer ${token}`, 'content-type': 'application/json' },
      setupRequest: (req) => ({ ...req, body: newUser(run, n++) })
    }
    const r = await load({
      url: instance.server.url,
      connections: CREATE_CONNECTIONS,
      amount,
      timeout: 600,
      setupClient: (client: Client) => { client.setRequests([request]) }
    }, instance.server.child)
    assertClean('POST /v1/users', r)
    ours.push(r.rps)
    p99.push(r.p99)
    cpu.push(r.cpuMicrosPerRequest)
    ctx.log(`    run ${run + 1}: raw scrypt ${base.at(-1)?.toFixed(2)} hashes/s, users created ${r.rps.toFixed(2)}/s (p99 ${r.p99} ms)`)
  }
  return { ours, base, p99, cpu }
}
