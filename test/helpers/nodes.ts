/**
 * Real API server processes for the multi-node tests: each with its own data dir (read model),
 * all on one event store and one signing key file, and a small fetch client per node.
 */
import { mkdirSync } from 'node:fs'
import { join } from 'node:path'
import type { Test } from 'tap'
import { spawnMain, type RunningProcess } from './api.js'

export const NODE_ADMIN_PASSWORD = 'a shared bootstrap passphrase'

export interface Node {
  readonly name: string
  readonly proc: RunningProcess
  readonly base: string
  readonly call: Client
}

export type Client = (method: string, path: string, options?: { token?: string, body?: unknown, headers?: Record<string, string> }) =>
  Promise<{ status: number, headers: Headers, body: any }>

/** Starts `name` under `root` on `eventStore` and waits until it listens. */
export async function startNode (t: Test, root: string, name: string, eventStore: string, env: Record<string, string> = {}): Promise<Node> {
  mkdirSync(join(root, name), { recursive: true })
  const proc = spawnMain({
    PORT: '0',
    HOST: '127.0.0.1',
    IDM_DATA_DIR: join(root, name),
    IDM_EVENTSTORE: eventStore,
    // The one thing every node must share besides the store: tokens signed by one are verified by all.
    IDM_SIGNING_KEY_FILE: join(root, 'signing-key.pem'),
    IDM_SCRYPT_LOGN: '10', IDM_MFA_REQUIRED_ROLES: '', IDM_STEP_UP_SECONDS: '0',
    IDM_ADMIN_PASSWORD: NODE_ADMIN_PASSWORD,
    IDM_LOGIN_RATE_LIMIT: '10000',
    IDM_LOGIN_RATE_LIMIT_PER_USERNAME: '10000',
    IDM_LOG_LEVEL: 'warn',
    ...env
  })
  t.teardown(() => { if (proc.child.exitCode === null && proc.child.signalCode === null) proc.child.kill('SIGKILL') })
  const [, base] = await proc.waitFor(/listening on (http:\/\/\S+)/)
  return { name, proc, base: base!, call: client(base!) }
}

export function client (base: string): Client {
  return async (method, path, options = {}) => {
    const res = await fetch(`${base}${path}`, {
      method,
      headers: {
        ...(options.token === undefined ? {} : { authorization: `Bearer ${options.token}` }),
        ...(options.body === undefined ? {} : { 'content-type': 'application/json' }),
        ...options.headers
      },
      ...(options.body === undefined ? {} : { body: JSON.stringify(options.body) })
    })
    const text = await res.text()
    let body: unknown = null
    try { body = text === '' ? null : JSON.parse(text) } catch { body = text }
    return { status: res.status, headers: res.headers, body }
  }
}

export async function adminToken (node: Node): Promise<string> {
  const login = await node.call('POST', '/v1/authentication', { body: { username: 'admin', password: NODE_ADMIN_PASSWORD } })
  if (login.status !== 200) throw new Error(`admin login on ${node.name}: ${login.status} ${JSON.stringify(login.body)}`)
  return login.body.access_token as string
}

/** SIGTERM, and the exit code. */
export async function stopNode (node: Node): Promise<number | null> {
  node.proc.child.kill('SIGTERM')
  return (await node.proc.exited).code
}
