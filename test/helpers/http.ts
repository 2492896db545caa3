/**
 * Helpers for HTTP tests: a configuration without the environment, signing keys generated once
 * per process, a frozen clock, an in-memory credential table (the read model's role in the
 * revocation check), and a token forge for the attacks the verifier must refuse.
 */
import { createHmac, createPrivateKey, sign as cryptoSign } from 'node:crypto'
import type { Test } from 'tap'
import { loadConfig, type Config } from '../../src/config.js'
import { buildApp, type App, type AppDeps } from '../../src/http/app.js'
import { generateSigningKeyPem, signingKeysFromPem, type SigningKeys } from '../../src/http/keys.js'
import type { CredentialLookup, CredentialState } from '../../src/http/auth/verification.js'

export const NOW = new Date('2030-01-02T03:04:05.000Z')
export const NOW_S = Math.floor(NOW.getTime() / 1000)

export function testConfig (env: Record<string, string> = {}): Config {
  // Second factors are not what these shell tests are about (see test/helpers/service.ts).
  return loadConfig({ IDM_DATA_DIR: '/nonexistent/idm-test', IDM_MFA_REQUIRED_ROLES: '', IDM_STEP_UP_SECONDS: '0', ...env })
}

let pem: string | undefined
/** One private key for the whole test process (key generation is not what is under test). */
export function testKeyPem (): string {
  pem ??= generateSigningKeyPem()
  return pem
}

export function testKeys (): SigningKeys {
  return signingKeysFromPem(testKeyPem())
}

/** The credential states the revocation lookup answers with; tests edit it between requests. */
export class CredentialTable implements CredentialLookup {
  readonly users = new Map<string, CredentialState>()
  lookups = 0

  add (state: Partial<CredentialState> & { userId: string }): CredentialState {
    const full: CredentialState = {
      username: `user-${state.userId.slice(0, 8)}`,
      status: 'active',
      lockedUntil: null,
      credentialVersion: 0,
      roles: [],
      ...state
    }
    this.users.set(full.userId, full)
    return full
  }

  update (userId: string, change: Partial<CredentialState>): void {
    const current = this.users.get(userId)
    if (current === undefined) throw new Error(`no user ${userId}`)
    this.users.set(userId, { ...current, ...change })
  }

  lookup (userId: string): CredentialState | null {
    this.lookups++
    return this.users.get(userId) ?? null
  }
}

export interface TestApp {
  readonly app: App
  readonly config: Config
  readonly keys: SigningKeys
  readonly credentials: CredentialTable
  /** The frozen clock; move it with `clock.set(date)`. */
  readonly clock: { now: Date, set (date: Date): void }
}

export async function buildTestApp (t: Test, deps: Partial<AppDeps> & { env?: Record<string, string> } = {}): Promise<TestApp> {
  const { env, ...rest } = deps
  const config = deps.config ?? testConfig(env)
  const keys = deps.keys ?? testKeys()
  const credentials = new CredentialTable()
  const clock = { now: NOW, set (date: Date) { clock.now = date } }
  const app = await buildApp({
    config,
    keys,
    credentials,
    logger: false,
    clock: () => clock.now,
    metrics: { defaultMetrics: false },
    ...rest
  })
  t.teardown(() => app.close())
  return { app, config, keys, credentials: (rest.credentials as CredentialTable | undefined) ?? credentials, clock }
}

const b64url = (value: unknown): string => Buffer.from(JSON.stringify(value)).toString('base64url')

export interface ForgeOptions {
  readonly header?: Record<string, unknown>
  readonly payload: Record<string, unknown>
  /** How to sign: the real ES256 key (default), none at all, or HS256 keyed with a string. */
  readonly alg?: 'ES256' | 'none' | 'HS256'
  readonly privateKeyPem?: string
  readonly hmacKey?: string
}

/** A JWT built by hand, so tests can produce exactly the token an attacker would send. */
export function forgeToken (options: ForgeOptions): string {
  const alg = options.alg ?? 'ES256'
  const header = { alg, typ: 'JWT', ...options.header }
  const input = `${b64url(header)}.${b64url(options.payload)}`
  if (alg === 'none') return `${input}.`
  if (alg === 'HS256') return `${input}.${createHmac('sha256', options.hmacKey ?? '').update(input).digest('base64url')}`
  const key = createPrivateKey(options.privateKeyPem ?? testKeyPem())
  return `${input}.${cryptoSign('sha256', Buffer.from(input), { key, dsaEncoding: 'ieee-p1363' }).toString('base64url')}`
}

/** Claims of a valid token for the user at NOW, as the app would issue them. */
export function claimsFor (config: Config, state: CredentialState, overrides: Record<string, unknown> = {}): Record<string, unknown> {
  return {
    iss: config.token.issuer,
    aud: config.token.audience,
    sub: state.userId,
    iat: NOW_S,
    nbf: NOW_S,
    exp: NOW_S + config.token.ttlSeconds,
    jti: '5b0f7f53-3a6b-4c1e-9d7a-3f9a1c2b4d5e',
    preferred_username: state.username,
    roles: [...state.roles],
    cv: state.credentialVersion,
    ...overrides
  }
}

export const bearer = (token: string): Record<string, string> => ({ authorization: `Bearer ${token}` })
