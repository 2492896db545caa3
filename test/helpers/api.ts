/**
 * Fixtures for the API tests of the real service: valid request bodies, a leak guard around
 * `call`, problem+json assertions, an OpenAPI response checker, token decoding, and the real
 * process (src/main.ts under tap's TypeScript loader) for the end-to-end tests.
 */
import { spawn, type ChildProcess } from 'node:child_process'
import { fileURLToPath } from 'node:url'
import { Validator } from '@seriousme/openapi-schema-validator'
import { Ajv2020 } from 'ajv/dist/2020.js'
import addFormats from 'ajv-formats'
import type { Response } from 'light-my-request'
import type { Test } from 'tap'
import type { UserView } from '../../src/projections/user-view.js'
import type { ServiceOptions } from '../../src/service.js'
import { ADMIN_PASSWORD, openTestService, type TestService } from './service.js'

export { ADMIN_PASSWORD }

/** A password every policy check accepts (long, not common, no username in it). */
export const PASSWORD = 'correct horse battery staple'
export const OTHER_PASSWORD = 'purple elephants juggle quietly'

export const PROBLEM_JSON = /^application\/problem\+json/
export const INVALID_TOKEN = 'Bearer error="invalid_token"'
/** A well-formed UUID (v7) that no user has. */
export const UNKNOWN_ID = '0190a6d2-7c1e-7b3a-9f00-1234567890ab'

/** The user as the API returns it: the one declaration (src/projections/user-view.ts). */
export type { UserView }

let sequence = 0
const run = Math.random().toString(36).slice(2, 8)

/** A valid POST /v1/users body with unique username, email and identification. */
export function userBody (overrides: Record<string, unknown> = {}): Record<string, unknown> {
  const n = ++sequence
  return {
    username: `user${n}-${run}`,
    email: `user${n}.${run}@example.com`,
    firstName: 'Test',
    lastName: `User${n}`,
    identificationType: 'CC',
    identificationNumber: `${run}${n}`.replace(/[^A-Za-z0-9-]/g, '').slice(0, 30),
    password: PASSWORD,
    ...overrides
  }
}

/** The profile fields of a user (the body PUT /v1/users/{id} takes). */
export const profileOf = (user: UserView): Record<string, unknown> => ({
  email: user.email,
  firstName: user.firstName,
  lastName: user.lastName,
  identificationType: user.identificationType,
  identificationNumber: user.identificationNumber,
  phone: user.phone
})

type CallOptions = { token?: string, body?: unknown, headers?: Record<string, string> }

export interface ApiService extends TestService {
  /** svc.call that also fails on any response that leaks a secret or a stack trace, or lacks x-request-id. */
  call(method: string, url: string, options?: CallOptions): Promise<Response>
  /** Sends a raw payload (for malformed JSON, other content types, huge bodies). */
  raw(method: string, url: string, options: { token?: string, payload: string | Buffer, contentType?: string, headers?: Record<string, string> }): Promise<Response>
  /** Number of events in the store: before/after a refused request it must not move. */
  eventCount(): Promise<number>
  /** Creates a user as the admin (or `token`); fails unless 201. */
  createUser(overrides?: Record<string, unknown>, token?: string): Promise<UserView>
  /** Logs in the created user with PASSWORD (or `password`). */
  login(username: string, password?: string): Promise<string>
  admin: string
}

const SECRET_MARKERS = ['passwordHash', 'password_hash', 'c2NyeXB0' /* base64 "scrypt": a scrypt-kdf hash */]
const STACK = /\n\s+at |\bat [\w.<>]+ \(|\.ts:\d+:\d+|node_modules/

/** Throws if a response body carries a secret, one of the passwords sent, or a stack trace, or the response has no x-request-id. */
export function assertNoLeak (res: Response, passwords: Iterable<string>): void {
  const body = res.body
  for (const marker of SECRET_MARKERS) {
    if (body.includes(marker)) throw new Error(`response leaks ${marker}: ${body.slice(0, 300)}`)
  }
  for (const password of passwords) {
    if (body.includes(password)) throw new Error(`response leaks a password: ${body.slice(0, 300)}`)
  }
  if (STACK.test(body)) throw new Error(`response carries a stack trace: ${body.slice(0, 300)}`)
  if (typeof res.headers['x-request-id'] !== 'string' || res.headers['x-request-id'] === '') {
    throw new Error(`response without x-request-id: ${res.statusCode} ${body.slice(0, 200)}`)
  }
}

/** openTestService plus the leak guard, raw requests, an admin token and user fixtures. */
export async function openApiService (t: Test, env: Record<string, string> = {}, options: ServiceOptions = {}): Promise<ApiService> {
  const svc = await openTestService(t, env, options)
  const passwords = new Set<string>([ADMIN_PASSWORD, PASSWORD, OTHER_PASSWORD])
  const remember = (body: unknown): void => {
    if (body === null || typeof body !== 'object') return
    for (const key of ['password', 'newPassword', 'currentPassword']) {
      const value = (body as Record<string, unknown>)[key]
      if (typeof value === 'string' && value.length >= 8) passwords.add(value)
    }
  }
  const call: ApiService['call'] = async (method, url, options = {}) => {
    remember(options.body)
    const res = await svc.call(method, url, options)
    assertNoLeak(res, passwords)
    return res
  }
  const raw: ApiService['raw'] = async (method, url, { token, payload, contentType, headers = {} }) => {
    const res = await svc.app.inject({
      method: method as 'POST',
      url,
      headers: {
        ...(token === undefined ? {} : { authorization: `Bearer ${token}` }),
        ...(contentType === undefined ? {} : { 'content-type': contentType }),
        ...headers
      },
      payload
    })
    assertNoLeak(res, passwords)
    return res
  }
  const login = async (username: string, password = PASSWORD): Promise<string> => {
    const res = await call('POST', '/v1/authentication', { body: { username, password } })
    if (res.statusCode !== 200) throw new Error(`login ${username} failed: ${res.statusCode} ${res.body}`)
    return (res.json() as { access_token: string }).access_token
  }
  const admin = await login('admin', ADMIN_PASSWORD)
  const createUser: ApiService['createUser'] = async (overrides = {}, token = admin) => {
    const res = await call('POST', '/v1/users', { token, body: userBody(overrides) })
    if (res.statusCode !== 201) throw new Error(`create user failed: ${res.statusCode} ${res.body}`)
    return res.json() as UserView
  }
  return {
    ...svc,
    call,
    raw,
    login,
    admin,
    createUser,
    eventCount: async () => (await svc.store.readAll({ limit: 1e6 })).length
  }
}

export interface ProblemBody {
  type: string
  title: string
  status: number
  detail: string
  code?: string
  reason?: string
  errors?: { path: string, message: string }[]
  [key: string]: unknown
}

/** Asserts an RFC 9457 problem with `status` (and optionally more fields); returns its body. */
export function expectProblem (t: Test, res: Response, status: number, match: Record<string, unknown> = {}, message = ''): ProblemBody {
  t.equal(res.statusCode, status, `${message} → ${status}`.trim() + (res.statusCode === status ? '' : `: ${res.body.slice(0, 400)}`))
  t.match(res.headers['content-type'], PROBLEM_JSON, 'problem+json')
  const body = res.json() as ProblemBody
  t.match(body, { type: String, title: String, status, detail: String, ...match })
  t.ok(body.type.length > 0 && body.title.length > 0 && body.detail.length > 0, 'type, title and detail are not empty')
  return body
}

/** The distinct paths of a validation problem's `errors` (one path may carry several messages). */
export const errorPaths = (body: ProblemBody): string[] => [...new Set((body.errors ?? []).map(e => e.path))]

/** The header and payload of a JWT, unverified. */
export function decodeJwt (token: string): { header: Record<string, unknown>, payload: Record<string, unknown> } {
  const [header = '', payload = ''] = token.split('.')
  const part = (s: string) => JSON.parse(Buffer.from(s, 'base64url').toString('utf8')) as Record<string, unknown>
  return { header: part(header), payload: part(payload) }
}

// ── the OpenAPI document as a response checker ─────────────────────────────────────────────────

type Json = Record<string, unknown>

export interface ApiDocument {
  readonly doc: { openapi: string, paths: Record<string, Record<string, Json>>, components?: Json }
  /** Is the document valid OpenAPI 3.1? (errors as a string, for the test message) */
  readonly validity: { valid: boolean, errors: string }
  /**
   * Asserts that the response's status is documented for the operation and that its body
   * matches the declared schema for its content type (an empty body for one without content).
   */
  check(t: Test, method: string, template: string, res: Response): void
  /** The same check as data: null when the response conforms, else what is wrong. */
  validate(method: string, template: string, res: Pick<Response, 'statusCode' | 'headers' | 'body'>): string | null
}

// ajv-formats is CommonJS: under NodeNext its default import is module.exports, whose `default`
// is the plugin (at run time module.exports is the plugin too, and carries `default` as well).
const formats = addFormats.default

export async function loadApiDocument (svc: Pick<TestService, 'app'>): Promise<ApiDocument> {
  const res = await svc.app.inject({ method: 'GET', url: '/openapi.json' })
  if (res.statusCode !== 200) throw new Error(`GET /openapi.json: ${res.statusCode}`)
  const doc = res.json() as ApiDocument['doc']
  const result = await new Validator().validate(structuredClone(doc) as never)
  const ajv = new Ajv2020({ strict: false, allErrors: true, validateFormats: true })
  formats(ajv)
  // Components are registered so any $ref in a response schema resolves.
  if (doc.components !== undefined) ajv.addSchema({ $id: 'openapi:components', components: doc.components })
  const compiled = new Map<string, ReturnType<typeof ajv.compile>>()

  const validate: ApiDocument['validate'] = (method, template, res) => {
    const operation = doc.paths[template]?.[method.toLowerCase()] as { responses?: Record<string, Json> } | undefined
    if (operation === undefined) return `${method} ${template} is not in the OpenAPI document`
    const status = String(res.statusCode)
    const declared = operation.responses?.[status] ?? operation.responses?.default
    if (declared === undefined) return `${method} ${template} answered ${status}, which the document does not declare`
    const content = declared.content as Record<string, { schema?: Json }> | undefined
    if (content === undefined) return res.body === '' ? null : `${method} ${template} ${status} declares no content but has a body`
    const type = String(res.headers['content-type'] ?? '').split(';')[0]!.trim()
    const media = content[type]
    if (media === undefined) return `${method} ${template} ${status}: content type ${type} not declared (${Object.keys(content).join(', ')})`
    const key = `${method} ${template} ${status} ${type}`
    let check = compiled.get(key)
    if (check === undefined) {
      check = ajv.compile(rewriteRefs(media.schema ?? {}) as Json)
      compiled.set(key, check)
    }
    let body: unknown
    try {
      body = JSON.parse(res.body)
    } catch {
      return `${key}: the body is not JSON`
    }
    return check(body) ? null : `${key}: ${ajv.errorsText(check.errors)}`
  }
  return {
    doc,
    validity: { valid: result.valid, errors: JSON.stringify(result.errors ?? null) },
    validate,
    check (t, method, template, res) {
      t.equal(validate(method, template, res), null, `${method} ${template} ${res.statusCode} matches the OpenAPI document`)
    }
  }
}

/** `#/components/...` refs point into the document; here they point into the registered schema. */
function rewriteRefs (schema: unknown): unknown {
  if (Array.isArray(schema)) return schema.map(rewriteRefs)
  if (schema === null || typeof schema !== 'object') return schema
  return Object.fromEntries(Object.entries(schema).map(([k, v]) =>
    [k, k === '$ref' && typeof v === 'string' && v.startsWith('#/components/') ? `openapi:components${v}` : rewriteRefs(v)]))
}

// ── the real process ───────────────────────────────────────────────────────────────────────────

const MAIN = fileURLToPath(new URL('../../src/main.ts', import.meta.url))

export interface RunningProcess {
  readonly child: ChildProcess
  /** Everything the child wrote so far. */
  stdout(): string
  stderr(): string
  /** Resolves with the first match of `pattern` in stdout; rejects if the child exits first. */
  waitFor(pattern: RegExp, timeoutMs?: number): Promise<RegExpMatchArray>
  readonly exited: Promise<{ code: number | null, signal: NodeJS.Signals | null }>
}

/**
 * Runs src/main.ts in a new Node process with the TypeScript loader tap runs this test with
 * (`--import=…/@tapjs/typescript/…` in process.execArgv; see test/fixtures/eventstore-spawn.ts).
 * The child's configuration is exactly `env`.
 */
export function spawnMain (env: Record<string, string>): RunningProcess {
  const loader = process.execArgv.filter(arg => arg.includes('@tapjs/typescript'))
  // Like the fixture: tap's own hooks stay out (NODE_OPTIONS, process info); so does any
  // configuration of the test's environment, so the child sees exactly `env`.
  const base: NodeJS.ProcessEnv = { ...process.env }
  delete base.NODE_OPTIONS
  for (const key of Object.keys(base)) {
    if (key.startsWith('_TAPJS_PROCESSINFO') || key.startsWith('IDM_') || key === 'PORT' || key === 'HOST') delete base[key]
  }
  const child = spawn(process.execPath, [...loader, MAIN], { stdio: ['ignore', 'pipe', 'pipe'], env: { ...base, ...env } })
  let out = ''
  let err = ''
  const watchers = new Set<() => void>()
  child.stdout?.setEncoding('utf8').on('data', (chunk: string) => { out += chunk; for (const w of watchers) w() })
  child.stderr?.setEncoding('utf8').on('data', (chunk: string) => { err += chunk })
  const exited = new Promise<{ code: number | null, signal: NodeJS.Signals | null }>((resolve) => {
    child.on('exit', (code, signal) => {
      resolve({ code, signal })
      for (const w of watchers) w()
    })
  })
  const waitFor = async (pattern: RegExp, timeoutMs = 60_000): Promise<RegExpMatchArray> => await new Promise((resolve, reject) => {
    const timer = setTimeout(() => { watchers.delete(check); reject(new Error(`timed out waiting for ${String(pattern)}; stdout: ${out}; stderr: ${err}`)) }, timeoutMs)
    const check = (): void => {
      const match = pattern.exec(out)
      if (match !== null) resolve(match)
      else if (child.exitCode !== null || child.signalCode !== null) reject(new Error(`child exited (${child.exitCode ?? child.signalCode}) before ${String(pattern)}; stdout: ${out}; stderr: ${err}`))
      else return
      clearTimeout(timer)
      watchers.delete(check)
    }
    watchers.add(check)
    check()
  })
  return { child, stdout: () => out, stderr: () => err, waitFor, exited }
}
