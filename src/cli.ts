#!/usr/bin/env node
/**
 * `idm`, the operator's command line. Every command reads the same configuration as the server
 * (`loadConfig(process.env)`: IDM_DATA_DIR, IDM_EVENTSTORE, …) and exits 0 on success, 1 on an
 * error (bad configuration, a refused or failed operation), 2 when a hash chain is broken.
 * One file per command under src/cli/ (what they share: src/cli/shared.ts):
 *
 *   idm serve                        the server (what `npm start` runs)          src/cli/serve.ts
 *   idm projections rebuild          rebuild the read model from the log          src/cli/projections.ts
 *                                    (server stopped)
 *   idm audit verify                 check every stream's hash chain              src/cli/audit.ts
 *   idm events export [--after N]    full NDJSON backup to stdout                 src/cli/events.ts
 *                                    (holds password hashes!)
 *   idm events import                restore such a backup into an empty store    src/cli/events.ts
 *   idm users create-admin           register an identity-admin                   src/cli/users.ts
 *   idm keys list|add|activate|retire   rotate the token signing key             src/cli/keys.ts
 *                                    (docs/reliability.md)
 */
import { readFileSync } from 'node:fs'
import { Command } from 'commander'
import { auditCommand } from './cli/audit.js'
import { eventsCommand } from './cli/events.js'
import { keysCommand } from './cli/keys.js'
import { projectionsCommand } from './cli/projections.js'
import { serveCommand } from './cli/serve.js'
import { CliError } from './cli/shared.js'
import { usersCommand } from './cli/users.js'

function version (): string {
  try {
    // commander's .version(undefined) is the getter: a package.json without a version must not break the CLI.
    return (JSON.parse(readFileSync(new URL('../package.json', import.meta.url), 'utf8')) as { version?: string }).version ?? '0.0.0'
  } catch {
    return '0.0.0'
  }
}

export function buildCli (): Command {
  const program = new Command('idm')
    .description('Identity Manager operations. Configuration comes from the environment, as for the server (IDM_DATA_DIR, IDM_EVENTSTORE, …).')
    .version(version())
    .showHelpAfterError()
  program.addHelpText('after', '\nExit codes: 0 success, 1 error, 2 a broken hash chain (audit verify, events import).')
  for (const add of [serveCommand, projectionsCommand, auditCommand, eventsCommand, usersCommand, keysCommand]) add(program)
  return program
}

export async function runCli (argv: readonly string[]): Promise<void> {
  try {
    await buildCli().parseAsync([...argv])
  } catch (err) {
    if (err instanceof CliError) {
      process.stderr.write(`idm: ${err.message}\n`)
      process.exitCode = err.exitCode
      return
    }
    process.stderr.write(`idm: ${err instanceof Error ? err.stack ?? err.message : String(err)}\n`)
    process.exitCode = 1
  }
}

await runCli(process.argv)
