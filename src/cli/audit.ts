/** `idm audit verify`: every stream's hash chain over the whole log (exit 2 when broken). */
import type { Command } from 'commander'
import { EXIT_BROKEN, config, printVerification, progress, withStore } from './shared.js'

async function verify (options: { json?: boolean }): Promise<void> {
  const cfg = config()
  const { verifyLog } = await import('../audit/verify.js')
  const result = await withStore(cfg, 'existing', async (store) => {
    const bar = await progress('verify')
    try {
      return await verifyLog(store, { onProgress: bar.update })
    } finally {
      bar.stop()
    }
  })
  printVerification(result, options.json === true)
  if (!result.ok) process.exitCode = EXIT_BROKEN
}

export function auditCommand (program: Command): void {
  program.command('audit')
    .description('Tamper evidence.')
    .command('verify')
    .description('Check the hash chain of every stream over the whole log; prints each broken link (exit code 2).')
    .option('--json', 'print the result as JSON')
    .action(verify)
}
