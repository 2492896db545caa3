/**
 * A real service for HTTP tests: SQLite event store and read model in a temp dir, real scrypt at
 * a low cost, real ES256 keys, Fastify driven by inject (or listening on 127.0.0.1:0).
 */
import { mkdtempSync, rmSync } from 'node:fs'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import type { Test } from 'tap'
import { loadConfig } from '../../src/config.js'
import { openService, type Service, type ServiceOptions } from '../../src/service.js'
import { testKeys } from './http.js'

export const ADMIN_PASSWORD = 'the bootstrap passphrase 2026'

export interface TestService extends Service {
  readonly dir: string
  /** Logs in and returns the bearer token (fails the test on anything but 200). */
  token(username: string, password: string): Promise<string>
  adminToken(): Promise<string>
  /** inject with a bearer token and a JSON body. */
  call(method: string, url: string, options?: { token?: string, body?: unknown, headers?: Record<string, string> }): Promise<import('light-my-request').Response>
}

export async function openTestService (t: Test, env: Record<string, string> = {}, options: ServiceOptions = {}): Promise<TestService> {
  const dir = mkdtempSync(join(tmpdir(), 'idm-http-'))
  const config = loadConfig({
    IDM_DATA_DIR: dir,
    IDM_SCRYPT_LOGN: '10',
    IDM_ADMIN_PASSWORD: ADMIN_PASSWORD,
    IDM_LOGIN_RATE_LIMIT: '1000',
    IDM_LOGIN_RATE_LIMIT_PER_USERNAME: '1000',
    // Tests that are not about second factors sign the bootstrap admin in with its password
    // alone; the MFA tests set these themselves (test/http/mfa*.test.ts).
    IDM_MFA_REQUIRED_ROLES: '',
    IDM_STEP_UP_SECONDS: '0',
    ...env
  })
  const service = await openService(config, { logger: false, keys: testKeys(), ...options })
  t.teardown(async () => {
    await service.close()
    rmSync(dir, { recursive: true, force: true })
  })
  const call: TestService['call'] = async (method, url, { token, body, headers = {} } = {}) =>
    service.app.inject({
      method: method as 'GET',
      url,
      headers: {
        ...(token === undefined ? {} : { authorization: `Bearer ${token}` }),
        ...(body === undefined ? {} : { 'content-type': 'application/json' }),
        ...headers
      },
      ...(body === undefined ? {} : { payload: JSON.stringify(body) })
    })
  const token = async (username: string, password: string): Promise<string> => {
    const res = await call('POST', '/v1/authentication', { body: { username, password } })
    if (res.statusCode !== 200) throw new Error(`login ${username} failed: ${res.statusCode} ${res.body}`)
    return (res.json() as { access_token: string }).access_token
  }
  return { ...service, close: service.close, dir, call, token, adminToken: () => token('admin', ADMIN_PASSWORD) }
}
