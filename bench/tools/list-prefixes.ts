/**
 * The list line prefix by prefix: seeds an instance of <users> users like the suite does, then
 * measures GET /v1/users?q=<prefix>&limit=50 at one connection for each prefix alone (p50, p99,
 * server CPU per request), to see which kind of prefix makes the tail.
 *
 *   npm run build && TS_NODE_TRANSPILE_ONLY=1 node --import @tapjs/typescript/import bench/tools/list-prefixes.ts <users> [seconds]
 */
import { mkdtempSync, rmSync } from 'node:fs'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import { loadConfig } from '../../src/config.js'
import { openInstance } from '../lib/instance.js'
import { load } from '../lib/load.js'
import { LIST_PREFIXES } from '../scenarios/reads.js'

const [usersText, secondsText] = process.argv.slice(2)
const root = mkdtempSync(join(tmpdir(), 'idm-bench-prefixes-'))
const log = (line: string): void => { process.stderr.write(`${line}\n`) }
const instance = await openInstance({ name: 'main', root, users: Number(usersText ?? 100_000), cost: { ...loadConfig({}).scrypt }, log })
try {
  const token = await instance.adminToken()
  for (const q of [...LIST_PREFIXES, 'm', 'maria.gonzalez1']) {
    const r = await load({
      url: `${instance.server.url}/v1/users?q=${encodeURIComponent(q)}&limit=50`,
      connections: 1,
      duration: Number(secondsText ?? 5),
      headers: { authorization: `Bearer ${token}` }
    }, instance.server.child)
    process.stdout.write(`q=${q}: ${Math.round(r.rps)} req/s, p50 ${r.p50} ms, p99 ${r.p99} ms, ${Math.round(r.cpuMicrosPerRequest)} µs CPU/request, ${r.non2xx} non-2xx\n`)
  }
} finally {
  await instance.stop()
  rmSync(root, { recursive: true, force: true })
}
