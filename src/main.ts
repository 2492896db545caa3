/**
 * `npm start`: read the configuration once, open the service on it, listen, and shut down
 * gracefully on SIGTERM/SIGINT (stop accepting, finish in-flight requests, close the stores).
 * `start` is also `idm serve` (src/cli.ts); importing this module runs nothing.
 */
import { realpathSync } from 'node:fs'
import { fileURLToPath } from 'node:url'
import { ConfigError, loadConfig, type Config } from './config.js'
import { DomainError } from './domain/errors.js'
import { openService, type ServiceOptions } from './service.js'

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
  await start(config)
}

/**
 * Opens the service on `config`, listens, says where, and stops gracefully on SIGTERM/SIGINT.
 * `options` are for programmatic starts only (the benchmark's A/B entry); `npm start` passes none.
 */
export async function start (config: Config, options: ServiceOptions = {}): Promise<void> {
  let service
  try {
    service = await openService(config, options)
  } catch (err) {
    // On first start the admin is registered from IDM_ADMIN_USERNAME/IDM_ADMIN_PASSWORD: a rule
    // they break is a configuration error, said in one line that names the variable.
    if (err instanceof DomainError) {
      process.stderr.write(`identity-manager failed to start: ${startupProblem(err)}\n`)
      process.exit(1)
    }
    throw err
  }
  const { app } = service
  const created = service.bootstrap.adminCreated
  const address = await app.listen({ host: config.host, port: config.port })
  const url = address.replace('[::1]', 'localhost')
  const lines = [
    `Identity Manager listening on ${url}`,
    `  API docs:   ${url}/docs`,
    `  console:    ${url}/console`,
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

function startupProblem (err: DomainError): string {
  if (err.code === 'WEAK_PASSWORD') return `IDM_ADMIN_PASSWORD is not acceptable: ${err.message} (${String(err.details.reason)})`
  if (err.code === 'INVALID_USERNAME') return `IDM_ADMIN_USERNAME is not a valid username: ${err.message}`
  return `${err.code}: ${err.message}`
}

/** True when this file is the program (`node dist/main.js`, or `node dist/main`), not a module the CLI imported. */
function isEntryPoint (): boolean {
  const entry = process.argv[1]
  if (entry === undefined) return false
  const real = (path: string): string => { try { return realpathSync(path) } catch { return path } }
  const bare = (path: string): string => real(path).replace(/\.[cm]?[jt]s$/, '')
  return bare(entry) === bare(fileURLToPath(import.meta.url))
}

if (isEntryPoint()) {
  main().catch((err: unknown) => {
    process.stderr.write(`identity-manager failed to start: ${err instanceof Error ? err.stack ?? err.message : String(err)}\n`)
    process.exit(1)
  })
}
