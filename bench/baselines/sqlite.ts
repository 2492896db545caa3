/**
 * SQLite baselines on the disk the server uses, in a process of their own:
 *
 *   node … bench/baselines/sqlite.ts tx <dir> <seconds>
 *     one-row transactions (autocommit INSERTs), WAL, synchronous=FULL: the durable-write ceiling
 *     of the roles line;
 *   node … bench/baselines/sqlite.ts inserts <dir> <rows>
 *     inserts in 1,000-row transactions (WAL, synchronous=NORMAL, a text primary key and three
 *     more columns): the bulk-write ceiling of the rebuild line.
 */
import { rmSync } from 'node:fs'
import { join } from 'node:path'
import Database from 'better-sqlite3'

const [mode, dir, amount] = process.argv.slice(2) as [string, string, string]
const path = join(dir, `baseline-${process.pid}.db`)

function oneRowTransactions (seconds: number) {
  const db = new Database(path)
  db.pragma('journal_mode = WAL')
  db.pragma('synchronous = FULL') // better-sqlite3 drops to NORMAL on entering WAL
  db.exec('CREATE TABLE rows (id INTEGER PRIMARY KEY, body TEXT NOT NULL)')
  const insert = db.prepare('INSERT INTO rows (body) VALUES (?)')
  const body = JSON.stringify({ userId: '0190a0b0-0000-7000-8000-000000000000', roleId: 'identity-auditor', actorId: '0190a0b0-0000-7000-8000-000000000001' })
  for (let i = 0; i < 50; i++) insert.run(body) // warm-up
  let done = 0
  const started = performance.now()
  const until = started + seconds * 1000
  while (performance.now() < until) {
    for (let i = 0; i < 20; i++) insert.run(body)
    done += 20
  }
  const elapsed = (performance.now() - started) / 1000
  db.close()
  return { transactionsPerSecond: done / elapsed, transactions: done, seconds: elapsed }
}

function bulkInserts (rows: number) {
  const db = new Database(path)
  db.pragma('journal_mode = WAL')
  db.pragma('synchronous = NORMAL')
  db.exec('CREATE TABLE t (id TEXT PRIMARY KEY, a TEXT, b TEXT, c INTEGER)')
  const insert = db.prepare('INSERT INTO t VALUES (?, ?, ?, ?)')
  const tx = db.transaction((from: number, to: number) => {
    for (let i = from; i < to; i++) insert.run(`id-${i}`, `user${i}@example.com`, `Name ${i}`, i)
  })
  const started = performance.now()
  for (let from = 0; from < rows; from += 1000) tx(from, Math.min(rows, from + 1000))
  const elapsed = (performance.now() - started) / 1000
  db.close()
  return { rowsPerSecond: rows / elapsed, rows, seconds: elapsed }
}

try {
  const result = mode === 'tx' ? oneRowTransactions(Number(amount)) : bulkInserts(Number(amount))
  process.stdout.write(`${JSON.stringify(result)}\n`)
} finally {
  for (const f of [path, `${path}-wal`, `${path}-shm`]) rmSync(f, { force: true })
}
