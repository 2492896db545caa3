/**
 * Writes the rebuild line's log (bench/lib/seed.ts seedTraffic) into a data directory, to profile
 * a rebuild by hand:
 *
 *   TS_NODE_TRANSPILE_ONLY=1 node --import @tapjs/typescript/import bench/tools/seed-traffic.ts <dir> <events>
 *   IDM_DATA_DIR=<dir> node --cpu-prof dist/cli.js projections rebuild
 *   node bench/profile-summary.mjs CPU.*.cpuprofile
 */
import { seedTraffic } from '../lib/seed.js'

const [dir, events] = process.argv.slice(2) as [string, string]
const result = await seedTraffic(dir, Number(events))
process.stdout.write(`${JSON.stringify(result)}\n`)
