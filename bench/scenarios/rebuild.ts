/**
 * `idm projections rebuild` (the real CLI, `node dist/cli.js`) of a log of N events of identity
 * traffic, every one of them projected (bench/lib/seed.ts seedTraffic), beside raw SQLite inserts
 * of N rows in 1,000-row transactions on the same disk, in a child process.
 */
import { spawn } from 'node:child_process'
import { mkdirSync } from 'node:fs'
import { join } from 'node:path'
import type { BenchContext } from '../lib/context.js'
import { ROOT, runScript, tracked } from '../lib/processes.js'
import { seedTraffic } from '../lib/seed.js'

export async function cliRebuild (dataDir: string, nodeArgs: readonly string[] = [], env: NodeJS.ProcessEnv = {}): Promise<{ events: number, seconds: number, wallSeconds: number }> {
  const started = performance.now()
  const child = tracked(spawn(process.execPath, [...nodeArgs, 'dist/cli.js', 'projections', 'rebuild'], {
    cwd: ROOT, env: { ...process.env, IDM_DATA_DIR: dataDir, ...env }, stdio: ['ignore', 'pipe', 'pipe']
  }))
  let out = ''
  let err = ''
  child.stdout.setEncoding('utf8').on('data', (c: string) => { out += c })
  child.stderr.setEncoding('utf8').on('data', (c: string) => { err += c })
  const code = await new Promise<number | null>(resolve => child.once('exit', resolve))
  const wallSeconds = (performance.now() - started) / 1000
  const match = /from (\d+) events in ([\d.]+) s/.exec(out)
  if (code !== 0 || match === null) throw new Error(`idm projections rebuild failed (${String(code)}): ${out}${err}`)
  return { events: Number(match[1]), seconds: Number(match[2]), wallSeconds }
}

export async function measureRebuild (ctx: BenchContext, events: number): Promise<{ ours: number[], base: number[], seedRate: number, wall: number[] }> {
  const dataDir = join(ctx.root, 'rebuild')
  mkdirSync(dataDir, { recursive: true })
  ctx.log(`  seeding ${events.toLocaleString('en-US')} events of user traffic…`)
  const seeded = await seedTraffic(dataDir, events)
  const ours: number[] = []
  const base: number[] = []
  const wall: number[] = []
  for (let run = 0; run < ctx.runs; run++) {
    const raw = await runScript<{ rowsPerSecond: number }>('baselines/sqlite.ts', ['inserts', ctx.root, String(seeded.events)])
    base.push(raw.rowsPerSecond)
    const r = await cliRebuild(dataDir)
    ours.push(r.events / r.seconds)
    wall.push(r.wallSeconds)
    ctx.log(`    run ${run + 1}: raw inserts ${Math.round(raw.rowsPerSecond)} rows/s, rebuild ${Math.round(r.events / r.seconds)} events/s (${r.seconds.toFixed(1)} s, wall ${r.wallSeconds.toFixed(1)} s)`)
  }
  return { ours, base, seedRate: seeded.events / seeded.seconds, wall }
}
