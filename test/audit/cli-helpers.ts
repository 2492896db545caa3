/**
 * Runs `idm` (src/cli.ts) as a real child process under the TypeScript loader this test runs
 * with (see test/fixtures/eventstore-spawn.ts), with exactly the configuration given.
 */
import { spawn } from 'node:child_process'
import { fileURLToPath } from 'node:url'

const CLI = fileURLToPath(new URL('../../src/cli.ts', import.meta.url))

export interface CliRun {
  readonly code: number | null
  readonly stdout: Buffer
  readonly stderr: string
}

export function cliEnv (env: Record<string, string>): NodeJS.ProcessEnv {
  const base: NodeJS.ProcessEnv = { ...process.env }
  delete base.NODE_OPTIONS
  for (const key of Object.keys(base)) {
    if (key.startsWith('_TAPJS_PROCESSINFO') || key.startsWith('IDM_') || key === 'PORT' || key === 'HOST') delete base[key]
  }
  return { ...base, IDM_SCRYPT_LOGN: '10', IDM_MFA_REQUIRED_ROLES: '', IDM_STEP_UP_SECONDS: '0', ...env }
}

export function spawnCli (args: readonly string[], env: Record<string, string>, stdio: 'pipe' | 'ignore' = 'pipe') {
  const loader = process.execArgv.filter(arg => arg.includes('@tapjs/typescript'))
  return spawn(process.execPath, [...loader, CLI, ...args], { stdio: [stdio, 'pipe', 'pipe'], env: cliEnv(env) })
}

export async function runCli (args: readonly string[], env: Record<string, string>, input?: Buffer | string): Promise<CliRun> {
  const child = spawnCli(args, env, input === undefined ? 'ignore' : 'pipe')
  const out: Buffer[] = []
  let err = ''
  child.stdout?.on('data', (chunk: Buffer) => out.push(chunk))
  child.stderr?.setEncoding('utf8').on('data', (chunk: string) => { err += chunk })
  if (input !== undefined) child.stdin?.end(input)
  const code = await new Promise<number | null>((resolve, reject) => {
    child.on('error', reject)
    child.on('close', (exitCode) => resolve(exitCode))
  })
  return { code, stdout: Buffer.concat(out), stderr: err }
}
