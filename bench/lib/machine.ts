/** What the figures were measured on: they mean little without it. */
import { statfsSync } from 'node:fs'
import { availableParallelism, cpus, freemem, loadavg, release, totalmem, type } from 'node:os'

export interface Machine {
  readonly cpuModel: string
  readonly cores: number
  readonly memoryGiB: number
  readonly freeMemoryGiB: number
  readonly node: string
  readonly os: string
  /** 1, 5 and 15 minute load averages. */
  readonly loadAverage: readonly number[]
  readonly uvThreadpoolSize: string
  readonly tmpFilesystem: string
}

export function describeMachine (dataRoot: string): Machine {
  const cpu = cpus()[0]
  let fs = 'unknown'
  try {
    const s = statfsSync(dataRoot)
    fs = `${FS_TYPES[s.type] ?? `type 0x${s.type.toString(16)}`}, ${(s.bavail * s.bsize / 2 ** 30).toFixed(0)} GiB free`
  } catch { /* not every platform has statfs */ }
  return {
    cpuModel: cpu?.model.trim() ?? 'unknown',
    cores: availableParallelism(),
    memoryGiB: round(totalmem() / 2 ** 30),
    freeMemoryGiB: round(freemem() / 2 ** 30),
    node: process.version,
    os: `${type()} ${release()}`,
    loadAverage: loadavg().map(round),
    // The bench starts every process with the environment's setting, or libuv's default of 4.
    uvThreadpoolSize: process.env.UV_THREADPOOL_SIZE ?? '4 (default)',
    tmpFilesystem: fs
  }
}

/** statfs magic numbers of the file systems a bench is likely to meet (tmpfs would flatter fsync). */
const FS_TYPES: Record<number, string> = { 0xef53: 'ext4', 0x01021994: 'tmpfs', 0x58465342: 'xfs', 0x9123683e: 'btrfs', 0x794c7630: 'overlayfs' }

const round = (x: number): number => Math.round(x * 100) / 100
