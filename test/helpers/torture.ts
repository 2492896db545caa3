/**
 * Shared machinery of the torture suites (test/torture): the real server as a child process,
 * a small fetch client, read-only inspection of the SQLite files a (killed) server left behind,
 * and the invariants every suite checks on them.
 *
 * The child runs the project's own src/ transpiled once per test process (TypeScript's
 * transpileModule, no type check) into a temp dir: starting src/main.ts through tap's TypeScript
 * loader costs 10–20 s per start on a loaded CI machine, which a suite that restarts the server
 * dozens of times cannot afford. The output is the same code `npm run build` emits, minus
 * declarations and type checking (which `npm run typecheck` does).
 */
import { spawn, type ChildProcess } from 'node:child_process'
import { mkdirSync, mkdtempSync, readdirSync, readFileSync, rmSync, symlinkSync, writeFileSync } from 'node:fs'
import { tmpdir } from 'node:os'
import { dirname, join, relative } from 'node:path'
import { fileURLToPath } from 'node:url'
import Database from 'better-sqlite3'
import type { Test } from 'tap'
import ts from 'typescript'
import { streams } from '../../src/domain/events.js'
import { userDecider, type UserState } from '../../src/domain/user.js'
import { verifyChain, type BrokenLink } from '../../src/eventstore/hash-chain.js'
import type { EventStore, RecordedEvent } from '../../src/eventstore/port.js'
import { toRecordedEvent, type EventRow } from '../../src/eventstore/sqlite-schema.js'
import { dumpReadModel } from '../../src/projections/dump.js'
import { rebuildReadModel } from '../../src/projections/rebuild.js'

const ROOT = fileURLToPath(new URL('../../', import.meta.url))

export const TORTURE_ADMIN_PASSWORD = 'torture bootstrap passphrase 2026'

/** An integer from the environment (figures a longer run raises), or the CI default. */
export function envInt (name: string, fallback: number): number {
  const raw = process.env[name]
  if (raw === undefined || raw.trim() === '') return fallback
  const n = Number(raw)
  if (!Number.isSafeInteger(n) || n < 0) throw new Error(`${name} must be a non-negative integer, got ${raw}`)
  return n
}

export function tempDir (t: Test, prefix = 'idm-torture-'): string {
  const dir = mkdtempSync(join(tmpdir(), prefix))
  t.teardown(() => rmSync(dir, { recursive: true, force: true }))
  return dir
}

// ── the server as a child process ───────────────────────────────────────────────────────────

let built: string | undefined

/** src/ transpiled to ESM JavaScript in a temp dir (once per process); returns main.js's path. */
export function compiledMain (): string {
  if (built !== undefined) return built
  const out = mkdtempSync(join(tmpdir(), 'idm-torture-build-'))
  process.once('exit', () => rmSync(out, { recursive: true, force: true }))
  const walk = (dir: string): string[] => readdirSync(dir, { withFileTypes: true }).flatMap((entry) =>
    entry.isDirectory() ? walk(join(dir, entry.name)) : entry.name.endsWith('.ts') ? [join(dir, entry.name)] : [])
  for (const file of walk(join(ROOT, 'src'))) {
    const { outputText } = ts.transpileModule(readFileSync(file, 'utf8'), {
      fileName: file,
      compilerOptions: {
        module: ts.ModuleKind.ESNext,
        target: ts.ScriptTarget.ES2022,
        esModuleInterop: true,
        verbatimModuleSyntax: false,
        sourceMap: false
      }
    })
    const target = join(out, relative(ROOT, file)).replace(/\.ts$/, '.js')
    mkdirSync(dirname(target), { recursive: true })
    writeFileSync(target, outputText)
  }
  // Bare imports resolve through a symlink to the project's node_modules; .js files are ESM.
  symlinkSync(join(ROOT, 'node_modules'), join(out, 'node_modules'), 'dir')
  const { version } = JSON.parse(readFileSync(join(ROOT, 'package.json'), 'utf8')) as { version: string }
  writeFileSync(join(out, 'package.json'), JSON.stringify({ type: 'module', version }))
  built = join(out, 'src', 'main.js')
  return built
}

/** The `idm` CLI (src/cli.ts) from the same compiled copy. */
export function compiledCli (): string {
  return join(dirname(compiledMain()), 'cli.js')
}

/** The environment of a child: this process's, minus tap's and any IDM_ setting, plus `env`. */
function childEnv (env: Record<string, string>): NodeJS.ProcessEnv {
  const base: NodeJS.ProcessEnv = { ...process.env }
  delete base.NODE_OPTIONS
  for (const key of Object.keys(base)) {
    if (key.startsWith('_TAPJS') || key.startsWith('TAP') || key.startsWith('IDM_') || key === 'PORT' || key === 'HOST') delete base[key]
  }
  return { ...base, ...env }
}

/** Runs the compiled `idm` with exactly `env` as its configuration; resolves when it exits. */
export async function runIdm (args: readonly string[], env: Record<string, string>): Promise<{ code: number | null, stdout: string, stderr: string }> {
  const child = spawn(process.execPath, [compiledCli(), ...args], { stdio: ['ignore', 'pipe', 'pipe'], env: childEnv(env) })
  let stdout = ''
  let stderr = ''
  child.stdout.setEncoding('utf8').on('data', (chunk: string) => { stdout += chunk })
  child.stderr.setEncoding('utf8').on('data', (chunk: string) => { stderr += chunk })
  const code = await new Promise<number | null>((resolve, reject) => {
    child.on('error', reject)
    child.on('close', resolve)
  })
  return { code, stdout, stderr }
}

export interface ServerProcess {
  readonly child: ChildProcess
  readonly pid: number
  stdout(): string
  stderr(): string
  readonly exited: Promise<{ code: number | null, signal: NodeJS.Signals | null }>
  /** Resolves with the base URL once listening; rejects if the process exits first. */
  readonly listening: Promise<string>
  /** kill -9 (or another signal) and wait for the exit. */
  kill(signal?: NodeJS.Signals): Promise<{ code: number | null, signal: NodeJS.Signals | null }>
  alive(): boolean
}

/** Environment of a torture server: low KDF cost, quiet logs, login limits out of the way. */
export function serverEnv (dataDir: string, env: Record<string, string> = {}): Record<string, string> {
  return {
    HOST: '127.0.0.1',
    PORT: '0',
    IDM_DATA_DIR: dataDir,
    IDM_SCRYPT_LOGN: '10', IDM_MFA_REQUIRED_ROLES: '', IDM_STEP_UP_SECONDS: '0',
    IDM_ADMIN_PASSWORD: TORTURE_ADMIN_PASSWORD,
    IDM_LOG_LEVEL: 'warn',
    IDM_LOGIN_RATE_LIMIT: '100000',
    IDM_LOGIN_RATE_LIMIT_PER_USERNAME: '100000',
    // A shared CI machine can stall the projection for seconds; a write still waits for it.
    IDM_PROJECTION_WAIT_MS: '30000',
    ...env
  }
}

const live = new Set<ChildProcess>()
let reaperInstalled = false

/** Starts the real server (src/main.ts, compiled) with exactly `env` as its configuration. */
export function spawnServer (t: Test, env: Record<string, string>): ServerProcess {
  const child = spawn(process.execPath, [compiledMain()], { stdio: ['ignore', 'pipe', 'pipe'], env: childEnv(env) })
  // A test process that ends abnormally (tap's timeout) must not leave servers running.
  live.add(child)
  child.on('exit', () => live.delete(child))
  if (!reaperInstalled) {
    reaperInstalled = true
    process.once('exit', () => { for (const c of live) c.kill('SIGKILL') })
  }
  let out = ''
  let err = ''
  const exited = new Promise<{ code: number | null, signal: NodeJS.Signals | null }>((resolve) => {
    child.on('exit', (code, signal) => resolve({ code, signal }))
  })
  const listening = new Promise<string>((resolve, reject) => {
    child.stdout?.setEncoding('utf8').on('data', (chunk: string) => {
      out += chunk
      const match = /listening on (http:\/\/\S+)/.exec(out)
      if (match !== null) resolve(match[1]!.replace('localhost', '127.0.0.1'))
    })
    child.on('exit', (code, signal) => reject(new Error(`server exited (${code ?? signal}) before listening; stderr: ${err.slice(-2000)}`)))
  })
  listening.catch(() => undefined)
  child.stderr?.setEncoding('utf8').on('data', (chunk: string) => { err += chunk })
  const alive = (): boolean => child.exitCode === null && child.signalCode === null
  t.teardown(async () => { if (alive()) { child.kill('SIGKILL'); await exited } })
  return {
    child,
    pid: child.pid as number,
    stdout: () => out,
    stderr: () => err,
    exited,
    listening,
    alive,
    async kill (signal = 'SIGKILL') {
      if (alive()) child.kill(signal)
      return await exited
    }
  }
}

/** Resident set size of a process in bytes (Linux /proc), or null where unavailable. */
export function rssOf (pid: number): number | null {
  try {
    const status = readFileSync(`/proc/${pid}/status`, 'utf8')
    const match = /^VmRSS:\s+(\d+)\s+kB/m.exec(status)
    return match === null ? null : Number(match[1]) * 1024
  } catch {
    return null
  }
}

export const mib = (bytes: number | null): string => bytes === null ? 'n/a' : `${(bytes / 2 ** 20).toFixed(1)} MiB`

// ── HTTP over a real socket ─────────────────────────────────────────────────────────────────

export interface Reply {
  readonly status: number
  readonly headers: Headers
  readonly text: string
  readonly body: any
}

export interface CallOptions {
  readonly token?: string
  readonly body?: unknown
  readonly headers?: Record<string, string>
  readonly signal?: AbortSignal
}

export type Client = (method: string, path: string, options?: CallOptions) => Promise<Reply>

/** fetch with a JSON body and a bearer token; network errors throw (a killed server). */
export function client (base: string): Client {
  return async (method, path, { token, body, headers = {}, signal } = {}) => {
    const res = await fetch(`${base}${path}`, {
      method,
      headers: {
        ...(token === undefined ? {} : { authorization: `Bearer ${token}` }),
        ...(body === undefined ? {} : { 'content-type': 'application/json' }),
        ...headers
      },
      ...(body === undefined ? {} : { body: JSON.stringify(body) }),
      ...(signal === undefined ? {} : { signal })
    })
    const text = await res.text()
    let parsed: unknown = null
    try { parsed = text === '' ? null : JSON.parse(text) } catch { parsed = text }
    return { status: res.status, headers: res.headers, text, body: parsed }
  }
}

export async function loginToken (call: Client, username: string, password: string): Promise<string> {
  const res = await call('POST', '/v1/authentication', { body: { username, password } })
  if (res.status !== 200) throw new Error(`login ${username}: ${res.status} ${res.text.slice(0, 300)}`)
  return res.body.access_token as string
}

/** Every user the API lists (paging through GET /v1/users). */
export async function listAllUsers (call: Client, token: string): Promise<Array<Record<string, any>>> {
  const users: Array<Record<string, any>> = []
  let cursor: string | null = null
  do {
    const res: Reply = await call('GET', `/v1/users?limit=200${cursor === null ? '' : `&cursor=${encodeURIComponent(cursor)}`}`, { token })
    if (res.status !== 200) throw new Error(`GET /v1/users: ${res.status} ${res.text.slice(0, 300)}`)
    users.push(...res.body.items)
    cursor = res.body.nextCursor
  } while (cursor !== null)
  return users
}

// ── the files a server leaves behind ────────────────────────────────────────────────────────

export interface LogSnapshot {
  readonly events: RecordedEvent[]
  readonly integrity: string
  readonly head: number
}

/** Opens events.db read-only (hot WAL of a killed writer included) and reads everything. */
export function readLog (path: string): LogSnapshot {
  const db = new Database(path, { readonly: true, fileMustExist: true })
  try {
    const integrity = String(db.pragma('integrity_check', { simple: true }))
    const rows = db.prepare('SELECT position, id, stream, revision, type, data, metadata, recorded_at FROM events ORDER BY position').all() as EventRow[]
    const events = rows.map(toRecordedEvent)
    return { events, integrity, head: events.at(-1)?.position ?? 0 }
  } finally {
    db.close()
  }
}

export interface LogProblems {
  /** Positions that break the run 1…n. */
  readonly positionGaps: number[]
  /** Streams whose revisions do not run 0…n. */
  readonly tornStreams: string[]
  readonly brokenChains: BrokenLink[]
  readonly streams: number
}

/** The structural invariants of the log: gap-free positions, gap-free revisions, intact hash chains. */
export function checkLog (events: readonly RecordedEvent[]): LogProblems {
  const positionGaps = events.filter((e, i) => e.position !== i + 1).map((e) => e.position).slice(0, 10)
  const byStream = groupByStream(events)
  const tornStreams: string[] = []
  const brokenChains: BrokenLink[] = []
  for (const [stream, list] of byStream) {
    if (list.some((e, i) => e.revision !== i)) tornStreams.push(stream)
    const broken = verifyChain(list)
    if (broken !== null) brokenChains.push(broken)
  }
  return { positionGaps, tornStreams, brokenChains, streams: byStream.size }
}

export function groupByStream (events: readonly RecordedEvent[]): Map<string, RecordedEvent[]> {
  const byStream = new Map<string, RecordedEvent[]>()
  for (const e of events) {
    const list = byStream.get(e.stream)
    if (list === undefined) byStream.set(e.stream, [e])
    else list.push(e)
  }
  return byStream
}

/** Every user folded from its stream with the domain's own evolve. */
export function foldUsers (events: readonly RecordedEvent[]): Map<string, Exclude<UserState, { status: 'none' }>> {
  const users = new Map<string, Exclude<UserState, { status: 'none' }>>()
  for (const [stream, list] of groupByStream(events)) {
    if (!stream.startsWith('user-')) continue
    const state = foldUser(list)
    if (state.status !== 'none') users.set(state.userId, state)
  }
  return users
}

export function foldUser (events: readonly RecordedEvent[]): UserState {
  return events.reduce<UserState>((s, e) => userDecider.evolve(s, { type: e.type, data: e.data } as never), userDecider.initialState())
}

export { streams }

/** Correlation ids (request ids) of every event in the log, with how many events each has. */
export function correlationIds (events: readonly RecordedEvent[]): Map<string, RecordedEvent[]> {
  const ids = new Map<string, RecordedEvent[]>()
  for (const e of events) {
    const id = String(e.metadata.correlationId ?? '')
    const list = ids.get(id)
    if (list === undefined) ids.set(id, [e])
    else list.push(e)
  }
  return ids
}

/** An EventStore that sees the log only up to `limit` (for a rebuild to a read model's checkpoint). */
function boundedStore (events: readonly RecordedEvent[], limit: number): EventStore {
  const visible = events.filter((e) => e.position <= limit)
  return {
    headPosition: async () => visible.at(-1)?.position ?? 0,
    readAll: async ({ after = 0, limit: max = 1000 } = {}) => visible.filter((e) => e.position > after).slice(0, max),
    append: async () => { throw new Error('read-only') },
    readStream: async () => { throw new Error('not needed') },
    subscribeToAll: () => { throw new Error('not needed') },
    close: async () => {}
  }
}

export interface ReadModelCheck {
  /** The position every projection's checkpoint holds. */
  readonly checkpoint: number
  readonly checkpoints: number[]
  /** Tables whose rows differ from a fresh rebuild to the same position. */
  readonly differingTables: string[]
  readonly integrity: string
  readonly rows: number
}

/**
 * Compares the read model a server left behind (read-only) with a fresh rebuild of the log up to
 * that read model's checkpoint, table by table.
 */
export async function compareWithRebuild (readModelPath: string, events: readonly RecordedEvent[], scratchDir: string): Promise<ReadModelCheck> {
  const db = new Database(readModelPath, { readonly: true, fileMustExist: true })
  let live
  let checkpoints: number[]
  let integrity: string
  try {
    integrity = String(db.pragma('integrity_check', { simple: true }))
    checkpoints = (db.prepare('SELECT DISTINCT position FROM checkpoints ORDER BY position').all() as Array<{ position: number }>).map((r) => r.position)
    live = dumpReadModel(db)
  } finally {
    db.close()
  }
  const checkpoint = checkpoints.length === 1 ? checkpoints[0]! : Math.max(0, ...checkpoints)
  const path = join(scratchDir, `rebuild-${process.pid}-${Date.now()}.db`)
  try {
    await rebuildReadModel({ store: boundedStore(events, checkpoint), path })
    const fresh = new Database(path, { readonly: true })
    let rebuilt
    try { rebuilt = dumpReadModel(fresh) } finally { fresh.close() }
    const tables = new Set([...Object.keys(live), ...Object.keys(rebuilt)])
    const differingTables = [...tables].filter((name) => JSON.stringify(live[name]) !== JSON.stringify(rebuilt[name]))
    const rows = Object.values(live).reduce((n, list) => n + list.length, 0)
    return { checkpoint, checkpoints, differingTables, integrity, rows }
  } finally {
    for (const suffix of ['', '-wal', '-shm', '-journal', '.rebuild']) rmSync(`${path}${suffix}`, { force: true })
  }
}

// ── small things ────────────────────────────────────────────────────────────────────────────

export const sleep = async (ms: number): Promise<void> => await new Promise((resolve) => setTimeout(resolve, ms))

export function median (values: readonly number[]): number {
  const sorted = [...values].sort((a, b) => a - b)
  const mid = Math.floor(sorted.length / 2)
  return sorted.length === 0 ? NaN : sorted.length % 2 === 1 ? sorted[mid]! : (sorted[mid - 1]! + sorted[mid]!) / 2
}

/** A seeded PRNG (mulberry32), so a run's random choices can be replayed from its seed. */
export function prng (seed: number): () => number {
  let a = seed >>> 0
  return () => {
    a = (a + 0x6d2b79f5) >>> 0
    let x = a
    x = Math.imul(x ^ (x >>> 15), x | 1)
    x ^= x + Math.imul(x ^ (x >>> 7), x | 61)
    return ((x ^ (x >>> 14)) >>> 0) / 4294967296
  }
}
