/**
 * The read model's queries in-process, without HTTP: CPU µs per GET-by-id lookup (random ids over every
 * user) and per `q` search page, on an existing read model, with SQLite settings compared in
 * interleaved rounds (each variant opens its own connection).
 *
 *   TS_NODE_TRANSPILE_ONLY=1 node --import @tapjs/typescript/import bench/tools/read-model-ab.ts \
 *     <read-model.db> [--rounds 5] [--lookups 100000] [--searches 200] name='PRAGMA…;PRAGMA…' name2=''
 */
import Database from 'better-sqlite3'
import { listUsers } from '../../src/projections/list-users.js'
import { getCredentialState, getUserById } from '../../src/projections/user-queries.js'
import { LIST_PREFIXES } from '../scenarios/reads.js'
import { median } from '../lib/stats.js'

const argv = process.argv.slice(2)
const option = (name: string, fallback: string): string => {
  const i = argv.indexOf(`--${name}`)
  return i === -1 ? fallback : argv[i + 1] as string
}
const path = argv[0] as string
const rounds = Number(option('rounds', '5'))
const lookups = Number(option('lookups', '100000'))
const searches = Number(option('searches', '200'))
const variants = argv.slice(1).filter((a, i, all) => a.includes('=') && !all[i - 1]?.startsWith('--'))
  .map(a => ({ name: a.slice(0, a.indexOf('=')), pragmas: a.slice(a.indexOf('=') + 1) }))

const ids = (new Database(path, { readonly: true }).prepare('SELECT id FROM users').pluck().all()) as string[]
const now = new Date().toISOString()
const results = new Map(variants.map(v => [v.name, { lookup: [] as number[], search: new Map<string, number[]>() }]))
for (let round = 0; round < rounds; round++) {
  for (const v of variants) {
    const db = new Database(path)
    db.pragma('cache_size = -65536')
    for (const p of v.pragmas.split(';').filter(s => s.trim() !== '')) db.pragma(p)
    const r = results.get(v.name)!
    const lookupPairs = (): void => {
      for (let i = 0; i < lookups; i++) {
        const id = ids[Math.floor(Math.random() * ids.length)] as string
        getCredentialState(db, id)
        getUserById(db, id, now)
      }
    }
    // CPU time of this thread (user + system), which a loaded machine inflates far less than wall time.
    const cpuMicros = (): number => { const u = process.cpuUsage(); return u.user + u.system }
    lookupPairs() // warm: the connection's page cache (and mapping) as a long-running server has it
    let started = cpuMicros()
    lookupPairs()
    r.lookup.push((cpuMicros() - started) / lookups)
    for (const q of LIST_PREFIXES) {
      listUsers(db, { q }, { limit: 50 }, now)
      started = cpuMicros()
      for (let i = 0; i < searches; i++) listUsers(db, { q }, { limit: 50 }, now)
      const list = r.search.get(q) ?? []
      list.push((cpuMicros() - started) / searches)
      r.search.set(q, list)
    }
    db.close()
    process.stderr.write(`round ${round + 1} ${v.name}: credential state + user view ${r.lookup.at(-1)?.toFixed(1)} µs; search ${[...r.search].map(([q, l]) => `${q} ${l.at(-1)?.toFixed(0)}`).join(', ')} µs\n`)
  }
}
for (const [name, r] of results) {
  process.stdout.write(`${name}: lookup pair ${median(r.lookup).toFixed(1)} µs (median of ${rounds}); search µs/page ${[...r.search].map(([q, l]) => `${q} ${median(l).toFixed(0)}`).join(', ')}\n`)
}
