/**
 * Event store throughput on this machine's disk, medians of RUNS runs, each on a fresh file in
 * the OS temp dir. Absolute numbers drift between runs and machines: compare the ratios.
 *
 * Run from the repository root (no build step; the TypeScript loader tap ships with):
 *   TS_NODE_TRANSPILE_ONLY=1 node --import @tapjs/typescript/import bench/eventstore.ts
 *
 * (a) sequential appends, synchronous=FULL, each awaited before the next (one fsync each);
 * (a') the same with synchronous=NORMAL, for the price of durability;
 * (b) 64 concurrent appenders, each to its own stream and awaiting its own appends, where
 *     group commit shares one fsync between everything queued in a tick;
 * (c) raw better-sqlite3 one-row transactions with synchronous=FULL: the disk's ceiling;
 * (d) reading one 50-event stream (with JSON.parse of data and metadata).
 */
import { randomUUID } from 'node:crypto'
import { mkdtempSync, rmSync } from 'node:fs'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import Database from 'better-sqlite3'
import type { EventToAppend } from '../src/eventstore/port.js'
import { openSqliteEventStore } from '../src/eventstore/sqlite.js'

const RUNS = 3
const SEQUENTIAL_APPENDS = 1000
const CONCURRENT_WRITERS = 64
const APPENDS_PER_WRITER = 50
const RAW_TRANSACTIONS = 2000
const STREAM_LENGTH = 50
const STREAM_READS = 5000

interface Figure {
  readonly label: string
  readonly unit: string
  /** One measurement; may return extra notes (e.g. the average batch size). */
  readonly measure: (path: string) => Promise<{ value: number, note?: string }>
}

const anEvent = (n: number): EventToAppend => ({
  id: randomUUID(),
  type: 'BenchAppended',
  data: { n, userId: randomUUID(), username: `user-${n}`, email: `user-${n}@example.org` },
  metadata: { actorId: randomUUID(), correlationId: randomUUID(), occurredAt: new Date().toISOString() }
})

const perSecond = (count: number, startedAt: number): number => count / ((performance.now() - startedAt) / 1000)

async function sequentialAppends (path: string, synchronous: 'FULL' | 'NORMAL') {
  const store = openSqliteEventStore({ path, synchronous })
  const startedAt = performance.now()
  for (let n = 0; n < SEQUENTIAL_APPENDS; n++) {
    await store.append('sequential', [anEvent(n)], { expectedRevision: n === 0 ? 'no_stream' : n - 1 })
  }
  const value = perSecond(SEQUENTIAL_APPENDS, startedAt)
  await store.close()
  return { value }
}

async function concurrentAppends (path: string) {
  const store = openSqliteEventStore({ path })
  const startedAt = performance.now()
  await Promise.all(Array.from({ length: CONCURRENT_WRITERS }, async (_, w) => {
    for (let n = 0; n < APPENDS_PER_WRITER; n++) {
      await store.append(`writer-${w}`, [anEvent(n)], { expectedRevision: n === 0 ? 'no_stream' : n - 1 })
    }
  }))
  const total = CONCURRENT_WRITERS * APPENDS_PER_WRITER
  const value = perSecond(total, startedAt)
  const { transactions } = store.stats()
  await store.close()
  return { value, note: `${(total / transactions).toFixed(1)} appends per transaction` }
}

async function rawTransactions (path: string) {
  const db = new Database(path)
  db.pragma('journal_mode = WAL')
  db.pragma('synchronous = FULL')
  db.exec('CREATE TABLE rows (id INTEGER PRIMARY KEY, body TEXT NOT NULL)')
  const insert = db.prepare('INSERT INTO rows (body) VALUES (?)')
  const body = JSON.stringify(anEvent(0))
  const startedAt = performance.now()
  // Each run() outside an explicit transaction is its own autocommit transaction.
  for (let n = 0; n < RAW_TRANSACTIONS; n++) insert.run(body)
  const value = perSecond(RAW_TRANSACTIONS, startedAt)
  db.close()
  return { value }
}

async function streamReads (path: string) {
  const store = openSqliteEventStore({ path })
  await store.append('profile', Array.from({ length: STREAM_LENGTH }, (_, n) => anEvent(n)), { expectedRevision: 'no_stream' })
  const startedAt = performance.now()
  for (let n = 0; n < STREAM_READS; n++) await store.readStream('profile')
  const value = (performance.now() - startedAt) * 1000 / STREAM_READS
  await store.close()
  return { value }
}

const FIGURES: Figure[] = [
  { label: '(a) sequential appends, FULL', unit: 'appends/s', measure: async (path) => await sequentialAppends(path, 'FULL') },
  { label: "(a') sequential appends, NORMAL", unit: 'appends/s', measure: async (path) => await sequentialAppends(path, 'NORMAL') },
  { label: `(b) ${CONCURRENT_WRITERS} concurrent appenders, FULL`, unit: 'appends/s', measure: concurrentAppends },
  { label: '(c) raw one-row transactions, FULL', unit: 'tx/s', measure: rawTransactions },
  { label: `(d) readStream of ${STREAM_LENGTH} events`, unit: 'µs/read', measure: streamReads }
]

const median = (values: readonly number[]): number => [...values].sort((x, y) => x - y)[Math.floor(values.length / 2)] ?? Number.NaN

async function runFigure (figure: Figure): Promise<string> {
  const values: number[] = []
  const notes: string[] = []
  for (let run = 0; run < RUNS; run++) {
    const dir = mkdtempSync(join(tmpdir(), 'idm-bench-eventstore-'))
    try {
      const { value, note } = await figure.measure(join(dir, 'events.db'))
      values.push(value)
      if (note !== undefined) notes.push(note)
    } finally {
      rmSync(dir, { recursive: true, force: true })
    }
  }
  const runs = values.map((value) => value.toFixed(value < 100 ? 1 : 0)).join(' / ')
  return `| ${figure.label} | ${median(values).toFixed(1)} ${figure.unit} | ${runs} | ${[...new Set(notes)].join('; ')} |`
}

console.log(`| what | median of ${RUNS} | runs | notes |`)
console.log('|---|---|---|---|')
for (const figure of FIGURES) console.log(await runFigure(figure))
