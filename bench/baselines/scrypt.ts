/**
 * Baseline of the login line: raw `crypto.scrypt` hashes per second at the given cost and
 * concurrency (the time to compute <amount> hashes, <concurrency> in flight at all times), in a process of its own (so it has its own libuv threadpool, at the environment's
 * size like the server's). This is the machine's KDF ceiling: a login can be no faster.
 *
 *   node … bench/baselines/scrypt.ts <logN> <r> <p> <concurrency> <amount>
 */
import { randomBytes, scrypt } from 'node:crypto'

const [logN, r, p, concurrency, amount] = process.argv.slice(2).map(Number) as [number, number, number, number, number]
const N = 2 ** logN
const maxmem = 256 * N * r + 2 ** 20
const hash = async (password: string, salt: Buffer): Promise<void> => await new Promise((resolve, reject) => {
  scrypt(password, salt, 64, { N, r, p, maxmem }, (err) => { if (err === null) resolve(); else reject(err) })
})

const salt = randomBytes(32)
// Warm-up: one hash per worker, not counted.
await Promise.all(Array.from({ length: concurrency }, async () => await hash('warm up', salt)))
let started = 0
let done = 0
const begin = performance.now()
await Promise.all(Array.from({ length: concurrency }, async (_, i) => {
  while (started < amount) {
    started++
    await hash(`correct horse battery staple ${i}`, salt)
    done++
  }
}))
const elapsed = (performance.now() - begin) / 1000
process.stdout.write(`${JSON.stringify({ hashesPerSecond: done / elapsed, hashes: done, seconds: elapsed })}\n`)
