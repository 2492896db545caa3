/**
 * A seeded server left running for hand measurements (strace, perf, curl, autocannon by hand):
 * seeds N users through the event store, rebuilds, starts dist/main.js, prints its URL, an admin
 * token and a file with every user id, and stops on SIGINT/SIGTERM.
 *
 *   TS_NODE_TRANSPILE_ONLY=1 node --import @tapjs/typescript/import bench/tools/serve-seeded.ts [users=1000] [dir]
 */
import { mkdtempSync, writeFileSync } from 'node:fs'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import { loadConfig } from '../../src/config.js'
import { openInstance } from '../lib/instance.js'

const users = Number(process.argv[2] ?? 1000)
const root = process.argv[3] ?? mkdtempSync(join(tmpdir(), 'idm-serve-'))
const log = (line: string): void => { process.stderr.write(`${line}\n`) }
const instance = await openInstance({ name: 'serve', root, users, cost: { ...loadConfig({}).scrypt }, log })
const idsFile = join(root, 'ids.txt')
writeFileSync(idsFile, instance.seed.firstIds.join('\n'))
process.stdout.write(`${JSON.stringify({ url: instance.server.url, pid: instance.server.child.pid, token: await instance.adminToken(), ids: idsFile, dataDir: instance.dataDir })}\n`)
for (const signal of ['SIGINT', 'SIGTERM'] as const) process.once(signal, () => { void instance.stop().finally(() => process.exit(0)) })
