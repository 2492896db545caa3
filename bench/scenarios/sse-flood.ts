/**
 * `sse-flood` (issue 18): does a subscriber starve the server? /health/live is probed one
 * request after another while 25 streams catch up from position 0 through the whole log (a type
 * filter that matches nothing: all reading, no writing) and 1,000 idle streams are open, on the
 * main instance's log (a million events in a full run). The baseline is the same probe on the
 * same server just before, with no stream open. Clients run in a process of their own
 * (bench/clients/sse-flood.ts).
 */
import { spawn } from 'node:child_process'
import { createInterface } from 'node:readline'
import type { BenchContext } from '../lib/context.js'
import type { Instance } from '../lib/instance.js'
import { benchFile, ROOT, tracked } from '../lib/processes.js'
import type { Row } from '../lib/report.js'
import { median, percentile } from '../lib/stats.js'

export const floodShape = (ctx: BenchContext) => ctx.quick ? { idle: 100, catchUp: 5 } : { idle: 1000, catchUp: 25 }

/** Sequential probes of `url` for `seconds`: latencies in ms. */
async function probe (url: string, seconds: number): Promise<number[]> {
  const latencies: number[] = []
  const until = Date.now() + seconds * 1000
  while (Date.now() < until) {
    const sent = performance.now()
    const res = await fetch(url)
    await res.arrayBuffer()
    latencies.push(performance.now() - sent)
    await new Promise(resolve => setTimeout(resolve, 5))
  }
  return latencies
}

export async function measureSseFlood (ctx: BenchContext, main: Instance): Promise<Row> {
  const { idle, catchUp } = floodShape(ctx)
  const url = main.server.url
  const token = await main.adminToken()
  const health = `${url}/health/live`
  const rest: number[] = []
  const flood: number[] = []
  const counts: string[] = []
  for (let run = 0; run < ctx.runs; run++) {
    rest.push(percentile(await probe(health, Math.min(ctx.seconds, 3)), 99))
    const child = tracked(spawn(process.execPath, [...process.execArgv, benchFile('clients/sse-flood.ts'), url, token, String(idle), String(catchUp)], {
      cwd: ROOT, stdio: ['pipe', 'pipe', 'inherit']
    }))
    const lines = createInterface({ input: child.stdout })
    const ready = await new Promise<{ statuses: Record<string, number> }>((resolve, reject) => {
      child.once('exit', (code) => reject(new Error(`flood clients exited with ${String(code)}`)))
      lines.once('line', (line) => { child.removeAllListeners('exit'); resolve(JSON.parse(line) as { statuses: Record<string, number> }) })
    })
    if (ready.statuses['200'] !== idle + catchUp) throw new Error(`flood streams: ${JSON.stringify(ready.statuses)}`)
    const latencies = await probe(health, ctx.seconds)
    child.stdin.write('stop\n')
    await new Promise(resolve => child.once('exit', resolve))
    flood.push(percentile(latencies, 99))
    counts.push(`${latencies.length} probes, max ${Math.max(...latencies).toFixed(1)} ms`)
    ctx.log(`    run ${run + 1}: /health/live p99 ${flood.at(-1)!.toFixed(1)} ms at rest ${rest.at(-1)!.toFixed(1)} ms (${counts.at(-1)!})`)
  }
  const p99 = median(flood)
  return {
    id: 'sse-flood',
    scenario: `/health/live p99 with ${catchUp} catch-up streams (from position 0, filter matching nothing) and ${idle.toLocaleString('en-US')} idle streams open, ${main.seed.events.toLocaleString('en-US')}-event log`,
    baseline: '/health/live p99 on the same server, no stream open',
    ours: { value: p99, unit: 'ms p99', runs: flood },
    base: { value: median(rest), unit: 'ms p99', runs: rest },
    ratio: p99,
    target: 'p99 ≤ 50 ms',
    met: p99 <= 50,
    notes: [`probes one after another for ${ctx.seconds} s per run: ${counts.join(' / ')}`, 'streams opened with one admin token (IDM_SSE_MAX_PER_PRINCIPAL raised for the bench)']
  }
}
