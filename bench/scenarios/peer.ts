/**
 * The peer: better-auth (admin plugin, SQLite) beside us, same machine, same run, same KDF cost
 * (better-auth's fixed crypto.scrypt N=2^14, r=16, p=1; ours configured to it with
 * IDM_SCRYPT_LOGN/R/P), same connections: sign-in at 16, and admin role changes at 64
 * (ours: assign/revoke alternating; theirs: set-role admin/user alternating).
 */
import { execFileSync } from 'node:child_process'
import { existsSync, mkdirSync } from 'node:fs'
import { join } from 'node:path'
import type { Client } from 'autocannon'
import type { BenchContext } from '../lib/context.js'
import type { Instance } from '../lib/instance.js'
import { USER_PASSWORD } from '../lib/instance.js'
import { assertClean, load } from '../lib/load.js'
import { benchFile, ROOT, startScriptServer, type Running } from '../lib/processes.js'
import { LOGIN_CONNECTIONS, loginAmount, loginLoad } from './login.js'
import { rolesLoad, WRITE_CONNECTIONS } from './writes.js'

export const PEER_COST = { logN: 14, r: 16, p: 1 }

export function installPeer (log: (line: string) => void): void {
  const peerDir = benchFile('peer')
  if (existsSync(join(peerDir, 'node_modules', 'better-auth', 'package.json'))) return
  log('  installing better-auth into bench/peer (npm install --prefix bench/peer)…')
  execFileSync('npm', ['install', '--prefix', peerDir, '--no-audit', '--no-fund'], { cwd: ROOT, stdio: ['ignore', 'ignore', 'inherit'] })
}

export async function startPeer (ctx: BenchContext): Promise<Running> {
  const dir = join(ctx.root, 'peer')
  mkdirSync(dir, { recursive: true })
  return await startScriptServer('peer/server.mjs', [dir, String(WRITE_CONNECTIONS), USER_PASSWORD], {}, { ts: false, cwd: benchFile('peer') })
}

export interface PeerFigures { oursSignIn: number[], theirsSignIn: number[], oursRoles: number[], theirsRoles: number[] }

export async function measurePeer (ctx: BenchContext, ours: Instance, peer: Running): Promise<PeerFigures> {
  const peerUsers = peer.info.users as Array<{ id: string, email: string }>
  const cookie = String(peer.info.cookie)
  const origin = peer.url
  const amount = loginAmount(ctx)
  const out: PeerFigures = { oursSignIn: [], theirsSignIn: [], oursRoles: [], theirsRoles: [] }
  const usernames = Array.from({ length: LOGIN_CONNECTIONS }, (_, i) => ours.username(i))
  for (let run = 0; run < ctx.runs; run++) {
    const o = await loginLoad(ours.server.url, usernames, amount)
    const t = await loginLoad(peer.url, peerUsers.map(u => u.email), amount, '/api/auth/sign-in/email',
      (email) => ({ email, password: USER_PASSWORD }), { origin })
    out.oursSignIn.push(o.rps)
    out.theirsSignIn.push(t.rps)
    ctx.log(`    sign-in run ${run + 1}: ours ${o.rps.toFixed(2)}/s (p99 ${o.p99} ms), better-auth ${t.rps.toFixed(2)}/s (p99 ${t.p99} ms)`)
  }
  const token = await ours.adminToken()
  for (let run = 0; run < ctx.runs; run++) {
    const o = await rolesLoad(ours.server.url, token, ours.seed.firstIds.slice(0, WRITE_CONNECTIONS), ctx.seconds)
    let next = 0
    const t = await load({
      url: peer.url,
      connections: WRITE_CONNECTIONS,
      duration: ctx.seconds,
      timeout: 30,
      setupClient: (client: Client) => {
        const user = peerUsers[next++ % peerUsers.length] as { id: string }
        const headers = { cookie, origin, 'content-type': 'application/json' }
        client.setRequests(['admin', 'user'].map(role => ({
          method: 'POST', path: '/api/auth/admin/set-role', headers, body: JSON.stringify({ userId: user.id, role })
        })))
      }
    })
    assertClean('better-auth set-role', t)
    out.oursRoles.push(o.rps)
    out.theirsRoles.push(t.rps)
    ctx.log(`    role change run ${run + 1}: ours ${Math.round(o.rps)} req/s (p99 ${o.p99} ms), better-auth ${Math.round(t.rps)} req/s (p99 ${t.p99} ms)`)
  }
  return out
}
