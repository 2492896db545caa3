/**
 * Event-stream clients for the `sse-flood` line, in a process of their own: <idle> streams of
 * new events only (they receive heartbeats) and <catchUp> streams from position 0 whose type
 * filter matches nothing in the log (they read the whole log and write nothing: the heaviest
 * catch-up there is). Prints {"ready":true,"statuses":{…}} once every stream answered, then on
 * "stop" on stdin closes them all and exits.
 *
 *   node … bench/clients/sse-flood.ts <url> <token> <idle> <catchUp>
 */
import { request, type ClientRequest } from 'node:http'
import { createInterface } from 'node:readline'

const [url, token, idleText, catchUpText] = process.argv.slice(2) as [string, string, string, string]
const requests: ClientRequest[] = []

async function open (path: string): Promise<number> {
  return await new Promise((resolve) => {
    const req = request(`${url}${path}`, { agent: false, headers: { authorization: `Bearer ${token}`, accept: 'text/event-stream' } }, (res) => {
      // Read and drop: a client that keeps up.
      res.on('data', () => {})
      res.on('error', () => {})
      resolve(res.statusCode ?? 0)
    })
    req.on('error', () => resolve(0))
    req.end()
    requests.push(req)
  })
}

const paths = [
  ...Array.from({ length: Number(catchUpText) }, () => '/v1/events/stream?after=0&type=CompanyDeactivated'),
  ...Array.from({ length: Number(idleText) }, () => '/v1/events/stream')
]
const statuses: Record<string, number> = {}
for (let i = 0; i < paths.length; i += 100) {
  for (const status of await Promise.all(paths.slice(i, i + 100).map(open))) statuses[status] = (statuses[status] ?? 0) + 1
}
process.stdout.write(`${JSON.stringify({ ready: true, statuses })}\n`)
createInterface({ input: process.stdin }).on('line', (line) => {
  if (line.trim() !== 'stop') return
  for (const req of requests) req.destroy()
  process.exit(0)
})
