/**
 * `npm start`: read the configuration once, open the service on it, listen, and shut down
 * gracefully on SIGTERM/SIGINT (stop accepting, finish in-flight requests, close the stores).
 */
import { ConfigError, loadConfig } from './config.js'
import { openService } from './service.js'

export async function main (env: NodeJS.ProcessEnv = process.env): Promise<void> {
  let config
  try {
    config = loadConfig(env)
  } catch (err) {
    if (err instanceof ConfigError) {
      process.stderr.write(`${err.message}\n`)
      process.exit(1)
    }
    throw err
  }
  const service = await openService(config)
  const { app } = service
  const created = service.bootstrap.adminCreated
  const address = await app.listen({ host: config.host, port: config.port })
  const url = address.replace('[::1]', 'localhost')
  const lines = [
    `Identity Manager listening on ${url}`,
    `  API docs:   ${url}/docs`,
    `  data:       ${config.dataDir}`
  ]
  if (created !== null) {
    lines.push(`  admin user: ${created.username} (created now)`)
    if (created.generatedPassword !== null) {
      lines.push(`  admin password (shown once, store it now): ${created.generatedPassword}`)
    }
  }
  process.stdout.write(`${lines.join('\n')}\n`)

  let stopping = false
  const stop = (signal: string) => {
    if (stopping) return
    stopping = true
    app.log.info({ signal }, 'shutting down')
    service.close().then(() => process.exit(0), (err: unknown) => {
      app.log.error({ err }, 'shutdown failed')
      process.exit(1)
    })
  }
  process.once('SIGTERM', () => stop('SIGTERM'))
  process.once('SIGINT', () => stop('SIGINT'))
}

main().catch((err: unknown) => {
  process.stderr.write(`identity-manager failed to start: ${err instanceof Error ? err.stack ?? err.message : String(err)}\n`)
  process.exit(1)
})
