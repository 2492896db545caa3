/**
 * CPU time of one read-model rebuild, in process (the figure that drifts least with the machine's
 * load while optimising): rebuilds <dir>/read-model.db from <dir>/events.db <runs> times.
 *
 *   TS_NODE_TRANSPILE_ONLY=1 node --import @tapjs/typescript/import bench/tools/rebuild-cpu.ts <dir> [runs]
 */
import { join } from 'node:path'
import { openSqliteEventStore } from '../../src/eventstore/sqlite.js'
import { rebuildReadModel } from '../../src/projections/rebuild.js'

const [dir, runsText] = process.argv.slice(2) as [string, string | undefined]
const store = openSqliteEventStore({ path: join(dir, 'events.db') })
for (let run = 0; run < Number(runsText ?? 3); run++) {
  const cpu = process.cpuUsage()
  const started = performance.now()
  const { events } = await rebuildReadModel({ store, path: join(dir, 'read-model.db'), ...(process.env.BATCH === undefined ? {} : { batchSize: Number(process.env.BATCH) }) })
  const used = process.cpuUsage(cpu)
  const wall = (performance.now() - started) / 1000
  process.stdout.write(`${events} events: wall ${wall.toFixed(2)} s (${Math.round(events / wall)} events/s), CPU ${((used.user + used.system) / 1e6).toFixed(2)} s (${((used.user + used.system) / events).toFixed(1)} µs/event)\n`)
}
await store.close()
