/**
 * GET /v1/users/{id} at 50 connections, several builds of the server interleaved on one seeded
 * data directory: per round, every build is started, loaded and stopped in turn, so each sees the
 * same machine load on average. Prints per build the median req/s and server CPU µs per request,
 * and the bare Fastify route measured in the same rounds. This is how bench/analysis.md's "what
 * each optimization bought" figures for the read path were taken.
 *
 *   npm run build && cp -r dist bench/results/dist-a   # one copy per variant
 *   TS_NODE_TRANSPILE_ONLY=1 node --import @tapjs/typescript/import bench/tools/hot-path-ab.ts \
 *     [--rounds 3] [--seconds 5] [--profile] [--env K=V] [--data-dir DIR [--ids FILE]] [--search] name=bench/results/dist-a/main.js name2=dist/main.js
 *
 * A build copied inside the repository finds node_modules as dist does. --profile runs the servers
 * with --cpu-prof into bench/results/profiles/ab-<name>/ (see bench/profile-summary.mjs).
 */
import { mkdirSync, mkdtempSync, readFileSync, rmSync } from 'node:fs'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import type { Request } from 'autocannon'
import { loadConfig } from '../../src/config.js'
import { login } from '../lib/api.js'
import { ADMIN_PASSWORD, openInstance, serverEnv } from '../lib/instance.js'
import { assertClean, load } from '../lib/load.js'
import { benchFile, startIdm } from '../lib/processes.js'
import { median } from '../lib/stats.js'
import { LIST_PREFIXES, READ_CONNECTIONS, bareRouteResult, startBareFastify } from '../scenarios/reads.js'

const argv = process.argv.slice(2)
const option = (name: string, fallback: string): string => {
  const i = argv.indexOf(`--${name}`)
  return i === -1 ? fallback : argv[i + 1] as string
}
const rounds = Number(option('rounds', '3'))
const seconds = Number(option('seconds', '5'))
const profile = argv.includes('--profile')
const extraEnv = Object.fromEntries(argv.flatMap((a, i) => a === '--env' ? [argv[i + 1] as string] : [])
  .map(kv => [kv.slice(0, kv.indexOf('=')), kv.slice(kv.indexOf('=') + 1)]))
const variants = argv.filter((a, i) => a.includes('=') && !a.startsWith('--') && argv[i - 1] !== '--env')
  .map(a => ({ name: a.slice(0, a.indexOf('=')), entry: a.slice(a.indexOf('=') + 1) }))
if (variants.length === 0) throw new Error('name every build to compare as name=path/to/main.js')

const log = (line: string): void => { process.stderr.write(`${line}\n`) }
const root = mkdtempSync(join(tmpdir(), 'idm-bench-ab-'))
const cost = { ...loadConfig({}).scrypt }
// --data-dir DIR --ids FILE: an existing seeded data directory (bench/tools/serve-seeded.ts writes
// both), every request for a user drawn at random from FILE's ids; otherwise 1,000 fresh users and
// one hot id.
const givenDir = option('data-dir', '')
const ids: string[] = givenDir === ''
  ? []
  : readFileSync(option('ids', join(givenDir, '..', 'ids.txt')), 'utf8').split('\n').filter(id => id !== '')
const seeded = givenDir === '' ? await openInstance({ name: 'ab', root, users: 1000, cost, log, entry: variants[0]!.entry }) : null
const dataDir = seeded?.dataDir ?? givenDir
const userId = seeded?.seed.firstIds[0] as string
await seeded?.stop()
// --search: the list line instead (GET /v1/users?q= with the bench's prefixes rotated, 8 connections).
const search = argv.includes('--search')
const searchRequests: Request[] = LIST_PREFIXES.map(q => ({ method: 'GET', path: `/v1/users?q=${encodeURIComponent(q)}&limit=50` }))
const randomUser: Request = { method: 'GET', setupRequest: (req) => ({ ...req, path: `/v1/users/${ids[Math.floor(Math.random() * ids.length)] as string}` }) }
const bare = await startBareFastify()
const results = new Map(variants.map(v => [v.name, { rps: [] as number[], cpu: [] as number[], p99: [] as number[] }]))
const bareRps: number[] = []
const bareCpu: number[] = []
try {
  for (let round = 0; round < rounds; round++) {
    const b = await bareRouteResult({ quick: false, runs: 1, seconds, root, log }, bare)
    bareRps.push(b.rps)
    bareCpu.push(b.cpuMicrosPerRequest)
    log(`round ${round + 1}: bare ${Math.round(b.rps)} req/s, ${Math.round(b.cpuMicrosPerRequest)} µs CPU/req`)
    for (const variant of variants) {
      const profileDir = join(benchFile('results'), 'profiles', `ab-${variant.name}`)
      if (profile) mkdirSync(profileDir, { recursive: true })
      const server = await startIdm({
        dataDir,
        logFile: join(root, `${variant.name}.log`),
        env: { ...serverEnv(cost), ...extraEnv },
        entry: variant.entry,
        nodeArgs: profile ? ['--cpu-prof', `--cpu-prof-dir=${profileDir}`] : []
      })
      try {
        const token = await login(server.url, 'admin', ADMIN_PASSWORD)
        const r = await load(search
          ? { url: server.url, connections: 8, duration: seconds, headers: { authorization: `Bearer ${token}` }, requests: searchRequests }
          : {
              url: ids.length === 0 ? `${server.url}/v1/users/${userId}` : server.url,
              connections: READ_CONNECTIONS,
              duration: seconds,
              headers: { authorization: `Bearer ${token}` },
              ...(ids.length === 0 ? {} : { requests: [randomUser] })
            }, server.child)
        assertClean(variant.name, r)
        const into = results.get(variant.name)!
        into.rps.push(r.rps)
        into.cpu.push(r.cpuMicrosPerRequest)
        into.p99.push(r.p99)
        log(`  ${variant.name}: ${Math.round(r.rps)} req/s, ${Math.round(r.cpuMicrosPerRequest)} µs CPU/req, p99 ${r.p99} ms`)
      } finally {
        await server.stop()
      }
    }
  }
} finally {
  await bare.stop()
  rmSync(root, { recursive: true, force: true })
}
const bareMedian = median(bareRps)
process.stdout.write(`bare: ${Math.round(bareMedian)} req/s, ${Math.round(median(bareCpu))} µs CPU/req\n`)
for (const [name, r] of results) {
  process.stdout.write(`${name}: ${Math.round(median(r.rps))} req/s (ratio ${(median(r.rps) / bareMedian).toFixed(3)}), ${Math.round(median(r.cpu))} µs CPU/req, p99 ${median(r.p99)} ms; runs ${r.rps.map(Math.round).join(' / ')}\n`)
}
