/**
 * Child processes of the bench: the real server (`node dist/main.js`), the baselines (each in its
 * own process, so it has its own event loop and libuv threadpool) and the peer. The bench process
 * itself only drives load (autocannon) and keeps time.
 */
import { spawn, type ChildProcess } from 'node:child_process'
import { closeSync, fstatSync, openSync, readFileSync } from 'node:fs'
import { createInterface } from 'node:readline'
import { setTimeout as sleep } from 'node:timers/promises'
import { fileURLToPath } from 'node:url'

/** Every child this process started and that has not exited yet: stopped on SIGINT/SIGTERM. */
const live = new Set<ChildProcess>()

/** Registers a child so that an interrupted run stops it (see killChildren). */
export function tracked<T extends ChildProcess> (child: T): T {
  live.add(child)
  child.once('exit', () => live.delete(child))
  return child
}

/** SIGKILLs every child still running (the interrupted bench's last step). */
export function killChildren (): void {
  for (const child of live) child.kill('SIGKILL')
}

export const ROOT = fileURLToPath(new URL('../..', import.meta.url))
export const benchFile = (relative: string): string => fileURLToPath(new URL(`../${relative}`, import.meta.url))

/** Node flags that let a child run the bench's TypeScript (the loader this process was started with). */
const tsLoaderArgs = (): string[] => {
  const args: string[] = []
  const argv = process.execArgv
  for (let i = 0; i < argv.length; i++) {
    const arg = argv[i] as string
    if (arg === '--import' || arg === '--loader' || arg === '--experimental-loader') args.push(arg, argv[++i] as string)
    else if (arg.startsWith('--import=') || arg.startsWith('--loader=')) args.push(arg)
  }
  return args
}

/** Runs a bench script (TypeScript) to completion and returns the JSON it printed last. */
export async function runScript<T> (script: string, args: readonly string[] = [], env: NodeJS.ProcessEnv = {}): Promise<T> {
  const child = tracked(spawn(process.execPath, [...tsLoaderArgs(), benchFile(script), ...args], {
    cwd: ROOT, env: { ...process.env, ...env }, stdio: ['ignore', 'pipe', 'inherit']
  }))
  let out = ''
  child.stdout.setEncoding('utf8').on('data', (chunk: string) => { out += chunk })
  const code = await new Promise<number | null>((resolve) => child.once('exit', resolve))
  if (code !== 0) throw new Error(`${script} exited with ${String(code)}`)
  const last = out.trim().split('\n').at(-1) ?? ''
  return JSON.parse(last) as T
}

/**
 * CPU seconds (user + system, all threads) a process has used so far, from /proc (Linux); NaN
 * elsewhere. CPU time per request does not drift with the machine's load the way req/s does.
 */
export function cpuSeconds (pid: number | undefined): number {
  try {
    const stat = readFileSync(`/proc/${String(pid)}/stat`, 'utf8')
    const fields = stat.slice(stat.lastIndexOf(')') + 2).split(' ')
    return (Number(fields[11]) + Number(fields[12])) / 100 // utime, stime in clock ticks (USER_HZ = 100)
  } catch {
    return Number.NaN
  }
}

export interface Running {
  readonly url: string
  readonly child: ChildProcess
  /** Milliseconds from spawn to the server saying it listens. */
  readonly readyMs: number
  /** The first JSON line the child printed (bench children describe themselves in it). */
  readonly info: Record<string, unknown>
  stop(): Promise<void>
}

async function stopChild (child: ChildProcess, signal: NodeJS.Signals = 'SIGTERM', graceMs = 15_000): Promise<void> {
  if (child.exitCode !== null || child.signalCode !== null) return
  const exited = new Promise<void>((resolve) => child.once('exit', () => resolve()))
  child.kill(signal)
  const timer = setTimeout(() => child.kill('SIGKILL'), graceMs)
  await exited
  clearTimeout(timer)
}

/** A bench child server (bare Fastify, the peer): it prints one JSON line with its `url` once it listens. */
export async function startScriptServer (script: string, args: readonly string[] = [], env: NodeJS.ProcessEnv = {}, options: { ts?: boolean, cwd?: string } = {}): Promise<Running> {
  const started = performance.now()
  const child = tracked(spawn(process.execPath, [...(options.ts === false ? [] : tsLoaderArgs()), benchFile(script), ...args], {
    cwd: options.cwd ?? ROOT, env: { ...process.env, ...env }, stdio: ['ignore', 'pipe', 'inherit']
  }))
  const lines = createInterface({ input: child.stdout! })
  const info = await new Promise<Record<string, unknown>>((resolve, reject) => {
    child.once('exit', (code) => reject(new Error(`${script} exited with ${String(code)} before listening`)))
    lines.once('line', (line) => {
      try { resolve(JSON.parse(line) as Record<string, unknown>) } catch (err) { reject(err) }
    })
  })
  child.removeAllListeners('exit')
  lines.on('line', () => {}) // keep draining
  return { url: String(info.url), child, readyMs: performance.now() - started, info, stop: async () => await stopChild(child) }
}

export interface IdmServerOptions {
  readonly dataDir: string
  readonly env?: NodeJS.ProcessEnv
  /** Where the server's stdout and stderr (its logs) go. */
  readonly logFile: string
  /** Extra node flags, e.g. --cpu-prof. */
  readonly nodeArgs?: readonly string[]
  /** The server's entry point, relative to the repository (default dist/main.js; A/B tools pass an older build). */
  readonly entry?: string
  readonly timeoutMs?: number
}

/**
 * The real server, as an operator starts it: `node dist/main.js`, configured through the
 * environment only. Ready when it prints "listening on <url>", which main.ts does only after the
 * projection has caught up with the log.
 */
export async function startIdm (options: IdmServerOptions): Promise<Running> {
  const started = performance.now()
  const fd = openSync(options.logFile, 'a')
  // The log file is shared by the starts of one instance: look only at what this start writes.
  const offset = fstatSync(fd).size
  const child = tracked(spawn(process.execPath, [...(options.nodeArgs ?? []), options.entry ?? 'dist/main.js'], {
    cwd: ROOT,
    env: { ...process.env, HOST: '127.0.0.1', PORT: '0', IDM_DATA_DIR: options.dataDir, ...options.env },
    stdio: ['ignore', fd, fd]
  }))
  closeSync(fd)
  const deadline = Date.now() + (options.timeoutMs ?? 30 * 60_000)
  for (;;) {
    const log = readFileSync(options.logFile, 'utf8').slice(offset)
    const match = /listening on (http:\/\/\S+)/.exec(log)
    if (match !== null) {
      return { url: match[1] as string, child, readyMs: performance.now() - started, info: {}, stop: async () => await stopChild(child) }
    }
    if (child.exitCode !== null) throw new Error(`the server exited with ${child.exitCode}; see ${options.logFile}:\n${log.slice(-2000)}`)
    if (Date.now() > deadline) {
      await stopChild(child, 'SIGKILL')
      throw new Error(`the server did not listen in time; see ${options.logFile}`)
    }
    await sleep(100)
  }
}
