/**
 * WAL checkpoints off the commit path. SQLite's automatic checkpoint runs inside the commit that
 * crosses `wal_autocheckpoint` pages: with synchronous=FULL it copies the WAL back into the
 * database file and fsyncs it while that commit (and, better-sqlite3 being synchronous, every
 * request of the process) waits. The writing connection turns it off (`wal_autocheckpoint=0`) and
 * this worker thread, with a connection of its own, checkpoints instead:
 *
 * - PASSIVE every `intervalMs` (1 s) while the WAL holds frames not yet copied back. PASSIVE never takes
 *   the write lock and never waits, so appends go on meanwhile; a frame is copied only once it is
 *   committed, and the fsync of the database file comes before SQLite lets the WAL restart, so
 *   durability is what it was: every acknowledged append is in the fsynced WAL (FULL).
 * - TRUNCATE once the WAL has been idle for a whole interval, so a quiet store gives its disk
 *   back. It needs the write lock for a moment; with busy_timeout 0 it simply gives up when an
 *   append holds it, and is tried again the next idle interval.
 *
 * The WAL restarts from its start after every complete checkpoint, so between idle periods it
 * grows no further than the appends of a few intervals; `journal_size_limit` on the writer trims
 * the file back when a burst left it large.
 *
 * The worker's code is a string (eval) so the same file works from TypeScript sources and from
 * the build; it loads better-sqlite3 from the path this module resolves.
 */
import { createRequire } from 'node:module'
import { Worker } from 'node:worker_threads'

export interface Checkpointer {
  /** Closes the worker's connection and ends the thread. Idempotent. */
  stop(): Promise<void>
}

export interface CheckpointerOptions {
  readonly path: string
  readonly synchronous: 'FULL' | 'NORMAL'
  /**
   * Default 1 s. Each checkpoint ends with an fsync of the database file, which competes with the
   * commits' fsyncs of the WAL on the same disk: at 200 ms the appends were slower than with
   * SQLite's own checkpoints, at 1 s faster (see the bench notes).
   */
  readonly intervalMs?: number
  /** The worker failed (could not open the file, say): the writer should checkpoint by itself again. */
  readonly onFailure: (error: Error) => void
}

const WORKER = `
const { parentPort, workerData } = require('node:worker_threads')
const Database = require(workerData.driver)
const db = new Database(workerData.path)
db.pragma('busy_timeout = 0')
db.pragma('synchronous = ' + workerData.synchronous)
let lastLog = -1
function tick () {
  try {
    const [{ log, checkpointed }] = db.pragma('wal_checkpoint(PASSIVE)')
    // Nothing appended for a whole interval and everything copied back: give the file back.
    if (log > 0 && log === lastLog && checkpointed === log) db.pragma('wal_checkpoint(TRUNCATE)')
    lastLog = log
  } catch (error) {
    // SQLITE_BUSY and friends: another checkpointer or a writer; the next tick tries again.
  }
}
const timer = setInterval(tick, workerData.intervalMs)
parentPort.on('message', (message) => {
  if (message !== 'stop') return
  clearInterval(timer)
  try { db.close() } catch {}
  parentPort.close()
})
`

export function startCheckpointer (options: CheckpointerOptions): Checkpointer {
  const driver = createRequire(import.meta.url).resolve('better-sqlite3')
  const worker = new Worker(WORKER, {
    eval: true,
    workerData: { path: options.path, synchronous: options.synchronous, intervalMs: options.intervalMs ?? 1000, driver }
  })
  // A failed worker must not crash the process; the writer goes back to automatic checkpoints.
  worker.on('error', options.onFailure)
  // Checkpoints must never keep the process alive.
  worker.unref()
  const exited = new Promise<void>(resolve => worker.once('exit', () => resolve()))
  let stopping: Promise<void> | undefined
  return {
    async stop () {
      stopping ??= (async () => {
        worker.postMessage('stop')
        const timer = setTimeout(() => { void worker.terminate() }, 2000)
        await exited
        clearTimeout(timer)
      })()
      await stopping
    }
  }
}
