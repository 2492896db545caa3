/** `idm serve`: the HTTP server, as `npm start` runs it (src/main.ts). */
import type { Command } from 'commander'
import { config } from './shared.js'

async function serve (): Promise<void> {
  const cfg = config()
  const { start } = await import('../main.js')
  await start(cfg)
}

export function serveCommand (program: Command): void {
  program.command('serve')
    .description('Run the HTTP server (the same as npm start).')
    .action(serve)
}
