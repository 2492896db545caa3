/**
 * SSE delivery: 10 subscribers on GET /v1/events/stream (in a child process), while the API
 * appends about 1,000 events per second (role assign/revoke at a fixed overall rate, one event
 * each); p99 of append-to-receipt over every delivered event.
 */
import { spawn } from 'node:child_process'
import { createInterface } from 'node:readline'
import type { BenchContext } from '../lib/context.js'
import { benchFile, ROOT, tracked } from '../lib/processes.js'
import { rolesLoad } from './writes.js'

export const SUBSCRIBERS = 10
export const EVENTS_PER_SECOND = 1000

interface SseSummary { events: number, perSubscriber: number[], p50: number, p99: number, max: number }

export async function measureSse (ctx: BenchContext, url: string, token: string, userIds: readonly string[]): Promise<{ p99: number[], p50: number[], rate: number[], summaries: SseSummary[] }> {
  const out = { p99: [] as number[], p50: [] as number[], rate: [] as number[], summaries: [] as SseSummary[] }
  for (let run = 0; run < ctx.runs; run++) {
    const child = tracked(spawn(process.execPath, [...process.execArgv, benchFile('clients/sse.ts'), url, token, String(SUBSCRIBERS)], {
      cwd: ROOT, stdio: ['pipe', 'pipe', 'inherit']
    }))
    const lines = createInterface({ input: child.stdout })
    const next = async (): Promise<string> => await new Promise((resolve, reject) => {
      child.once('exit', (code) => reject(new Error(`SSE subscribers exited with ${String(code)}`)))
      lines.once('line', (line) => { child.removeAllListeners('exit'); resolve(line) })
    })
    await next() // ready
    const load = await rolesLoad(url, token, userIds, ctx.seconds, { connections: 32, overallRate: EVENTS_PER_SECOND })
    await new Promise(resolve => setTimeout(resolve, 500)) // the last events in flight
    child.stdin.write('stop\n')
    const summary = JSON.parse(await next()) as SseSummary
    out.summaries.push(summary)
    out.p99.push(summary.p99)
    out.p50.push(summary.p50)
    out.rate.push(load.rps)
    ctx.log(`    run ${run + 1}: ${Math.round(load.rps)} events/s appended, ${summary.events} receipts, p50 ${summary.p50} ms, p99 ${summary.p99} ms, max ${summary.max} ms`)
  }
  return out
}
