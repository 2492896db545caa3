/**
 * SSE subscribers in a process of their own (so the load generator does not delay them):
 * connects <count> clients to GET /v1/events/stream, prints {"ready":true} once every stream is
 * open, records for every received event the time from its append (the CloudEvent's `time`, the
 * command's clock just before the append) to its receipt, and on "stop" on stdin prints the
 * latencies' summary.
 *
 *   node … bench/clients/sse.ts <url> <token> <count>
 */
import { createInterface } from 'node:readline'
import { percentile } from '../lib/stats.js'

const [url, token, countText] = process.argv.slice(2) as [string, string, string]
const count = Number(countText)
const latencies: number[] = []
const received = new Array<number>(count).fill(0)
const controller = new AbortController()

async function subscribe (index: number, opened: () => void): Promise<void> {
  const res = await fetch(`${url}/v1/events/stream`, { headers: { authorization: `Bearer ${token}`, accept: 'text/event-stream' }, signal: controller.signal })
  if (res.status !== 200 || res.body === null) throw new Error(`subscriber ${index}: ${res.status} ${await res.text()}`)
  const decoder = new TextDecoder()
  let buffer = ''
  let open = false
  // A reader loop rather than `for await`: the DOM typings of ReadableStream lack the iterator.
  const reader = res.body.getReader()
  for (;;) {
    const { done, value: chunk } = await reader.read()
    if (done) break
    const now = Date.now()
    buffer += decoder.decode(chunk as Uint8Array, { stream: true })
    let end: number
    while ((end = buffer.indexOf('\n\n')) !== -1) {
      const frame = buffer.slice(0, end)
      buffer = buffer.slice(end + 2)
      if (!open) { open = true; opened() }
      const data = frame.split('\n').find(line => line.startsWith('data: '))
      if (data === undefined) continue
      const event = JSON.parse(data.slice(6)) as { time: string }
      latencies.push(now - Date.parse(event.time))
      received[index] = (received[index] ?? 0) + 1
    }
  }
}

let openCount = 0
const streams = Array.from({ length: count }, async (_, i) => await subscribe(i, () => {
  if (++openCount === count) process.stdout.write(`${JSON.stringify({ ready: true })}\n`)
}).catch((err: unknown) => {
  if (!controller.signal.aborted) { process.stderr.write(`${String(err)}\n`); process.exit(1) }
}))

createInterface({ input: process.stdin }).on('line', (line) => {
  if (line.trim() !== 'stop') return
  controller.abort()
  void Promise.allSettled(streams).then(() => {
    process.stdout.write(`${JSON.stringify({
      events: latencies.length,
      perSubscriber: received,
      p50: percentile(latencies, 50),
      p99: percentile(latencies, 99),
      max: latencies.reduce((a, b) => Math.max(a, b), 0)
    })}\n`)
    process.exit(0)
  })
})
