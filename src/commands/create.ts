/**
 * `createCommands(deps)`: the write side, built once by the composition root (src/service.ts,
 * the CLI, the tests). Everything that outlives one command lives in the object it returns, not
 * in a module: the fold cache, the per-stream queue, the releases still owed, and the one
 * executor of user plans.
 */
import type { Commands, CommandDeps } from './deps.js'
import { createExecutor } from './executor.js'
import { createStreamLoader } from './fold-cache.js'
import { createKeyedLock } from './keyed-lock.js'
import { createOwedReleases } from './reservations.js'

export function createCommands (deps: CommandDeps): Commands {
  const base = { ...deps, load: createStreamLoader(deps.store), queue: createKeyedLock(), owed: createOwedReleases() }
  const commands: Commands = { ...base, execute: (command, ctx, options) => execute(command, ctx, options) }
  const execute = createExecutor(commands)
  return commands
}
