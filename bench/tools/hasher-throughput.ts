/**
 * Password verifications per second through the service's hasher (src/commands/password-hasher.ts),
 * <concurrency> in flight, to compare hasher versions in one run:
 *
 *   TS_NODE_TRANSPILE_ONLY=1 node --import @tapjs/typescript/import bench/tools/hasher-throughput.ts <logN> <r> <p> <concurrency> <amount>
 */
import { createPasswordHasher } from '../../src/commands/password-hasher.js'

const [logN, r, p, concurrency, amount] = process.argv.slice(2).map(Number) as [number, number, number, number, number]
const hasher = await createPasswordHasher({ logN, r, p })
const stored = await hasher.hash('correct horse battery staple')
let started = 0
const latencies: number[] = []
const begin = performance.now()
await Promise.all(Array.from({ length: concurrency }, async () => {
  while (started < amount) {
    started++
    const t = performance.now()
    if (!await hasher.verify(stored, 'correct horse battery staple')) throw new Error('verify failed')
    latencies.push(performance.now() - t)
  }
}))
const seconds = (performance.now() - begin) / 1000
latencies.sort((a, b) => a - b)
process.stdout.write(`${JSON.stringify({ verifiesPerSecond: amount / seconds, p50: latencies[Math.floor(latencies.length / 2)], p99: latencies[Math.ceil(latencies.length * 0.99) - 1] })}\n`)
