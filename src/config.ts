/**
 * The service's configuration: read once from the environment, validated with TypeBox (every
 * problem reported at once), returned deep-frozen. Nothing else in the project reads process.env.
 *
 * Rules: an unset or empty (after trimming) variable takes its default; integers are plain
 * decimal digits and must lie in their range; durations are seconds unless the name says MS.
 */
import { join } from 'node:path'
import Type, { type TSchema } from 'typebox'
import { Compile } from 'typebox/compile'
import type { EventStoreTarget } from './eventstore/open.js'

export type LogLevel = 'fatal' | 'error' | 'warn' | 'info' | 'debug' | 'trace' | 'silent'

/**
 * sqlite: the event file (several nodes on one machine may share one); postgres: several API
 * nodes on one database; esdb: EventStoreDB. Each node keeps its own read model.
 */
export type EventStoreConfig = EventStoreTarget

export interface Config {
  readonly host: string
  readonly port: number
  readonly dataDir: string
  readonly eventStore: EventStoreConfig
  readonly admin: { readonly username: string, readonly password: string | null }
  readonly token: {
    readonly ttlSeconds: number
    readonly issuer: string
    readonly audience: string
    readonly signingKeyFile: string
  }
  readonly scrypt: { readonly logN: number, readonly r: number, readonly p: number }
  readonly password: { readonly minLength: number }
  readonly lockout: { readonly threshold: number, readonly baseSeconds: number, readonly maxSeconds: number }
  readonly rateLimit: { readonly loginPerMinute: number, readonly loginPerMinutePerUsername: number }
  readonly http: {
    readonly bodyLimit: number
    /** Fastify's trustProxy: false, true, a hop count, or a list of trusted addresses/CIDRs. */
    readonly trustProxy: boolean | number | readonly string[]
    /** Allowed CORS origins; empty means CORS is off. `*` allows any origin. */
    readonly corsOrigins: readonly string[]
  }
  /** The service's public URL without a trailing slash (default: the URL it listens on): the OAuth/OIDC issuer. */
  readonly publicUrl: string
  readonly sessions: {
    readonly idleSeconds: number
    readonly absoluteSeconds: number
  }
  readonly oauth: {
    /** How long a rotated client secret keeps working beside the new one. */
    readonly secretOverlapSeconds: number
    readonly authorizationCodeTtlSeconds: number
  }
  readonly mfa: {
    /** Roles whose holders must enrol a second factor before anything else; empty: nobody. */
    readonly requiredRoles: readonly string[]
    /** How recent a second factor the step-up operations need; 0: step-up off. */
    readonly stepUpSeconds: number
    /** Lifetime of the mfa_token between the two steps of a sign-in. */
    readonly tokenTtlSeconds: number
    /** The operator key file that seals TOTP secrets (src/commands/secret-box.ts). */
    readonly keyFile: string
    /** The issuer authenticator apps show. */
    readonly totpIssuer: string
  }
  readonly projectionWaitMs: number
  readonly seedFile: string | null
  readonly logLevel: LogLevel
  readonly sseHeartbeatSeconds: number
  /** Caps on open event streams (GET /v1/events/stream); beyond them 429. */
  readonly sse: { readonly maxPerPrincipal: number, readonly maxTotal: number }
  readonly eventSource: string
  /** Bearer token GET /metrics requires; null: /metrics answers anyone who can reach it. */
  readonly metricsToken: string | null
}

export class ConfigError extends Error {
  constructor (readonly problems: readonly string[]) {
    super(`invalid configuration:\n  - ${problems.join('\n  - ')}`)
    this.name = 'ConfigError'
  }
}

type Kind = 'int' | 'string'

interface Variable {
  readonly name: string
  readonly kind: Kind
  readonly schema: TSchema
  /** The default as an operator would write it; null when there is none. */
  readonly default: string | null
  /** What a valid value looks like, used in error messages. */
  readonly expect: string
  readonly description: string
}

const int = (name: string, min: number, max: number, dflt: number, description: string): Variable => ({
  name,
  kind: 'int',
  schema: Type.Integer({ minimum: min, maximum: max }),
  default: String(dflt),
  expect: `an integer from ${min} to ${max}`,
  description
})

const str = (name: string, dflt: string | null, description: string, schema: TSchema = Type.String({ minLength: 1, maxLength: 1024 }), expect = 'a non-empty string of at most 1024 characters'): Variable => ({
  name, kind: 'string', schema, default: dflt, expect, description
})

const LOG_LEVELS = ['fatal', 'error', 'warn', 'info', 'debug', 'trace', 'silent'] as const
const ORIGIN = '(\\*|https?://[A-Za-z0-9.-]+(:[0-9]{1,5})?)'
const PROXY_ENTRY = '[0-9A-Fa-f:.]+(/[0-9]{1,3})?|loopback|linklocal|uniquelocal'

/**
 * Every variable the service reads, with its default and meaning. Exported so that the README's
 * configuration table can be generated from (or checked against) the code.
 */
export const CONFIG_VARIABLES: readonly Variable[] = [
  str('HOST', '127.0.0.1', 'Address to listen on. The default only accepts local connections; use 0.0.0.0 (or ::) in a container.'),
  int('PORT', 0, 65535, 3000, 'TCP port to listen on (0 picks a free port).'),
  str('IDM_DATA_DIR', './data', 'Directory for the SQLite event store, read model and the generated signing key.'),
  str('IDM_EVENTSTORE', 'sqlite', "'sqlite' (embedded: <data dir>/events.db), 'sqlite:<path>' (an event file several API nodes on one machine share, each with its own data dir and read model), a PostgreSQL connection string (postgres://… or postgresql://…: several API nodes on one database, each with its own data dir and read model), or an EventStoreDB connection string (esdb://… or esdb+discover://…).",
    Type.String({ pattern: '^(sqlite(:\\S+)?|postgres(ql)?://\\S+|esdb(\\+discover)?://\\S+)$', maxLength: 4096 }), "'sqlite', 'sqlite:<path>' or a connection string starting with postgres://, postgresql://, esdb:// or esdb+discover://"),
  str('IDM_ADMIN_USERNAME', 'admin', 'Username of the identity-admin created on first start with an empty store.',
    Type.String({ minLength: 3, maxLength: 64 }), 'a string of 3 to 64 characters'),
  str('IDM_ADMIN_PASSWORD', null, 'Password of that first admin. When unset, one is generated and printed once.',
    Type.String({ minLength: 1, maxLength: 1024 }), 'a string of at most 1024 characters'),
  int('IDM_TOKEN_TTL', 60, 86400, 900, 'Lifetime of access tokens, in seconds.'),
  str('IDM_TOKEN_ISSUER', null, 'The iss claim of every token and the OAuth 2.0 / OpenID Connect issuer (checked on every request). Default: IDM_PUBLIC_URL. OpenID clients require it to equal the URL they discover the service at, so set IDM_PUBLIC_URL instead.'),
  str('IDM_TOKEN_AUDIENCE', 'identity-manager', 'The aud claim of issued tokens (checked on every request).'),
  str('IDM_SIGNING_KEY_FILE', null, 'PEM file with the ES256 (P-256) private key(s); the first signs, the others only verify. Default <data dir>/signing-key.pem, generated (mode 0600) on first start.'),
  str('IDM_PUBLIC_URL', null, 'The service\'s public base URL (scheme, host, optional port, no path), e.g. https://id.example.com: the OAuth 2.0 / OpenID Connect issuer, the iss of OAuth tokens, and the base of every URL discovery advertises. Default: the URL it listens on.',
    Type.String({ pattern: '^https?://[A-Za-z0-9.-]+(:[0-9]{1,5})?$', maxLength: 300 }), 'an http(s) origin such as https://id.example.com (no path, no trailing slash)'),
  int('IDM_SESSION_IDLE_SECONDS', 60, 31536000, 1209600, 'A session (and its refresh token) ends after this many seconds without a refresh (default 14 days).'),
  int('IDM_SESSION_MAX_SECONDS', 60, 31536000, 2592000, 'No session lives longer than this, however often it is refreshed (default 30 days).'),
  int('IDM_CLIENT_SECRET_OVERLAP_SECONDS', 0, 2592000, 86400, 'After a client secret is rotated, the old one keeps working this many seconds (default 1 day).'),
  int('IDM_AUTHORIZATION_CODE_TTL', 10, 600, 60, 'Lifetime of an authorization code, in seconds.'),
  str('IDM_MFA_REQUIRED_ROLES', 'identity-admin', 'Comma-separated roles whose holders must enrol a second factor (TOTP) before they can do anything else; set it to the empty string for nobody. Roles the catalog marks mfaRequired are added to these.',
    Type.String({ pattern: '^$|^[a-z0-9]([a-z0-9-]{0,62}[a-z0-9])?(\\s*,\\s*[a-z0-9]([a-z0-9-]{0,62}[a-z0-9])?)*$', maxLength: 4096 }), 'empty, or a comma-separated list of role ids'),
  int('IDM_STEP_UP_SECONDS', 0, 86400, 300, 'Assigning identity-admin, resetting another user\'s password or factors, and rotating a client secret need a second factor proved within this many seconds (RFC 9470 step-up). 0 turns step-up off.'),
  int('IDM_MFA_TOKEN_TTL', 30, 900, 300, 'Lifetime of the mfa_token between the password and the second factor of a sign-in, in seconds.'),
  str('IDM_MFA_KEY_FILE', null, 'Operator key file that seals TOTP secrets in the event log (AES-256-GCM; one `<kid> <base64url key>` per line, the first seals, all open). Default <data dir>/mfa-keys, generated (mode 0600) on first start. Rotate by putting a new line first; keep the old ones.'),
  str('IDM_TOTP_ISSUER', 'Identity Manager', 'The issuer name authenticator apps show beside the account (otpauth:// URI).',
    Type.String({ minLength: 1, maxLength: 100, pattern: '^[^:]+$' }), 'a name of 1 to 100 characters without a colon'),
  int('IDM_SCRYPT_LOGN', 10, 22, 17, 'scrypt cost: log2 of N for new password hashes (17 is OWASP\'s N=2^17).'),
  int('IDM_SCRYPT_R', 1, 32, 8, 'scrypt block size r.'),
  int('IDM_SCRYPT_P', 1, 16, 1, 'scrypt parallelisation p.'),
  int('IDM_PASSWORD_MIN_LENGTH', 8, 64, 15, 'Minimum password length in code points (NIST SP 800-63B-4; never below 8).'),
  int('IDM_LOCKOUT_THRESHOLD', 1, 100, 5, 'Consecutive failed logins that lock an account.'),
  int('IDM_LOCKOUT_BASE_SECONDS', 1, 86400, 60, 'Length of the first lockout, in seconds; it grows with repeated lockouts.'),
  int('IDM_LOCKOUT_MAX_SECONDS', 1, 2592000, 3600, 'Longest lockout, in seconds.'),
  int('IDM_LOGIN_RATE_LIMIT', 1, 100000, 20, 'Login attempts per minute per client address before 429.'),
  int('IDM_LOGIN_RATE_LIMIT_PER_USERNAME', 1, 100000, 10, 'Login attempts per minute per username before 429.'),
  int('IDM_BODY_LIMIT', 1024, 10485760, 65536, 'Largest accepted request body, in bytes (413 beyond).'),
  int('IDM_PROJECTION_WAIT_MS', 0, 60000, 5000, 'How long a command waits for the read model to apply its events before answering 503.'),
  str('IDM_SEED_FILE', null, 'Optional JSON seed file applied on start.'),
  str('IDM_LOG_LEVEL', 'info', `Log level: ${LOG_LEVELS.join(', ')}.`,
    Type.Union(LOG_LEVELS.map((l) => Type.Literal(l))), `one of ${LOG_LEVELS.join(', ')}`),
  str('IDM_TRUST_PROXY', 'false', 'Whose X-Forwarded-For/-Proto to believe (the client address of rate limits and sign-in events): false (nobody: clients connect directly), a hop count (the proxies in front, e.g. 1), or a comma-separated list of proxy addresses/CIDRs. true believes ANY peer, so any client can pick its own address and escape the per-address login limit; the service warns when it is set.',
    Type.String({ pattern: `^(true|false|[0-9]{1,3}|(${PROXY_ENTRY})(\\s*,\\s*(${PROXY_ENTRY}))*)$` }),
    'true, false, a hop count, or a comma-separated list of IP addresses/CIDRs'),
  str('IDM_CORS_ORIGINS', '', 'Comma-separated origins allowed by CORS (e.g. https://app.example.com), or *; empty turns CORS off.',
    Type.String({ pattern: `^${ORIGIN}(\\s*,\\s*${ORIGIN})*$` }), 'a comma-separated list of origins like https://app.example.com, or *'),
  int('IDM_SSE_HEARTBEAT_SECONDS', 1, 3600, 15, 'Interval of heartbeat comments on the event stream, in seconds.'),
  int('IDM_SSE_MAX_PER_PRINCIPAL', 1, 100000, 16, 'Open event streams (GET /v1/events/stream) one user may hold; one more is a 429 with Retry-After.'),
  int('IDM_SSE_MAX_TOTAL', 1, 1000000, 2000, 'Open event streams in all, whoever holds them; one more is a 429 with Retry-After. Each costs a socket and up to a few tens of KiB while its client keeps reading.'),
  str('IDM_METRICS_TOKEN', null, 'Bearer token that GET /metrics requires (Prometheus: `authorization: { credentials: … }`). Unset: /metrics answers without a token, so keep it off the public address.',
    Type.String({ pattern: '^[\\x21-\\x7e]{32,512}$' }), 'at least 32 (and at most 512) visible ASCII characters'),
  str('IDM_EVENT_SOURCE', '/identity-manager', 'CloudEvents source attribute of the event feed.')
]

const INT = /^-?[0-9]+$/
const EMPTY_IS_A_VALUE = new Set(['IDM_MFA_REQUIRED_ROLES'])
const SECRETS = new Set(['IDM_ADMIN_PASSWORD', 'IDM_METRICS_TOKEN'])
const schema = Type.Object(Object.fromEntries(CONFIG_VARIABLES.map((v) => [v.name, Type.Optional(v.schema)])))
const check = Compile(schema)
const byName = new Map(CONFIG_VARIABLES.map((v) => [v.name, v]))

const show = (value: unknown): string => {
  const s = JSON.stringify(value) ?? String(value)
  return s.length > 60 ? `${s.slice(0, 57)}…"` : s
}

export function loadConfig (env: Readonly<Record<string, string | undefined>>): Config {
  const input: Record<string, string | number> = {}
  for (const v of CONFIG_VARIABLES) {
    const raw = env[v.name]?.trim()
    // An empty list of MFA roles is a choice (nobody), not a missing value.
    if (raw === '' && EMPTY_IS_A_VALUE.has(v.name)) input[v.name] = ''
    if (raw === undefined || raw === '') continue
    input[v.name] = v.kind === 'int' && INT.test(raw) ? Number(raw) : raw
  }

  const problems: string[] = []
  const reported = new Set<string>()
  for (const error of check.Errors(input)) {
    const name = error.instancePath.split('/')[1] ?? ''
    const variable = byName.get(name)
    if (variable === undefined || reported.has(name)) continue
    reported.add(name)
    // Secrets: never echo them back.
    const got = SECRETS.has(name) ? '' : `, got ${show(env[name]?.trim())}`
    problems.push(`${name} must be ${variable.expect}${got}`)
  }
  if (problems.length === 0) problems.push(...crossChecks(input))
  if (problems.length > 0) throw new ConfigError(problems)

  return deepFreeze(build(input))
}

function crossChecks (input: Record<string, string | number>): string[] {
  const problems: string[] = []
  const n = (name: string): number => (input[name] ?? Number(byName.get(name)?.default)) as number
  if (n('IDM_LOCKOUT_MAX_SECONDS') < n('IDM_LOCKOUT_BASE_SECONDS')) {
    problems.push('IDM_LOCKOUT_MAX_SECONDS must be at least IDM_LOCKOUT_BASE_SECONDS')
  }
  // scrypt needs 128·N·r bytes per hash; past 1 GiB a single login could exhaust the host.
  const memory = 128 * 2 ** n('IDM_SCRYPT_LOGN') * n('IDM_SCRYPT_R')
  if (memory > 2 ** 30) {
    problems.push(`IDM_SCRYPT_LOGN and IDM_SCRYPT_R ask for ${memory / 2 ** 20} MiB per hash (128·2^logN·r); the limit is 1024 MiB`)
  }
  return problems
}

function build (input: Record<string, string | number>): Config {
  const s = (name: string): string => String(input[name] ?? byName.get(name)?.default ?? '')
  const n = (name: string): number => Number(input[name] ?? byName.get(name)?.default)
  const optional = (name: string): string | null => input[name] === undefined ? null : String(input[name])
  const list = (value: string): string[] => value.split(',').map((x) => x.trim()).filter((x) => x !== '')

  const dataDir = s('IDM_DATA_DIR')
  const eventStore = s('IDM_EVENTSTORE')
  const trustProxy = s('IDM_TRUST_PROXY')
  const host = s('HOST')
  const listenHost = host === '0.0.0.0' || host === '::' ? '127.0.0.1' : host.includes(':') ? `[${host}]` : host
  const publicUrl = optional('IDM_PUBLIC_URL') ?? `http://${listenHost}:${n('PORT')}`
  return {
    host: s('HOST'),
    port: n('PORT'),
    dataDir,
    eventStore: eventStore.startsWith('sqlite')
      ? { kind: 'sqlite', path: eventStore.startsWith('sqlite:') ? eventStore.slice('sqlite:'.length) : join(dataDir, 'events.db') }
      : /^postgres(ql)?:\/\//.test(eventStore)
        ? { kind: 'postgres', connectionString: eventStore }
        : { kind: 'esdb', connectionString: eventStore },
    admin: { username: s('IDM_ADMIN_USERNAME'), password: optional('IDM_ADMIN_PASSWORD') },
    token: {
      ttlSeconds: n('IDM_TOKEN_TTL'),
      issuer: optional('IDM_TOKEN_ISSUER') ?? publicUrl,
      audience: s('IDM_TOKEN_AUDIENCE'),
      signingKeyFile: optional('IDM_SIGNING_KEY_FILE') ?? join(dataDir, 'signing-key.pem')
    },
    scrypt: { logN: n('IDM_SCRYPT_LOGN'), r: n('IDM_SCRYPT_R'), p: n('IDM_SCRYPT_P') },
    password: { minLength: n('IDM_PASSWORD_MIN_LENGTH') },
    lockout: {
      threshold: n('IDM_LOCKOUT_THRESHOLD'),
      baseSeconds: n('IDM_LOCKOUT_BASE_SECONDS'),
      maxSeconds: n('IDM_LOCKOUT_MAX_SECONDS')
    },
    rateLimit: {
      loginPerMinute: n('IDM_LOGIN_RATE_LIMIT'),
      loginPerMinutePerUsername: n('IDM_LOGIN_RATE_LIMIT_PER_USERNAME')
    },
    http: {
      bodyLimit: n('IDM_BODY_LIMIT'),
      trustProxy: trustProxy === 'true'
        ? true
        : trustProxy === 'false' ? false : INT.test(trustProxy) ? Number(trustProxy) : list(trustProxy),
      corsOrigins: list(s('IDM_CORS_ORIGINS'))
    },
    publicUrl,
    sessions: { idleSeconds: n('IDM_SESSION_IDLE_SECONDS'), absoluteSeconds: n('IDM_SESSION_MAX_SECONDS') },
    oauth: {
      secretOverlapSeconds: n('IDM_CLIENT_SECRET_OVERLAP_SECONDS'),
      authorizationCodeTtlSeconds: n('IDM_AUTHORIZATION_CODE_TTL')
    },
    mfa: {
      requiredRoles: list(s('IDM_MFA_REQUIRED_ROLES')),
      stepUpSeconds: n('IDM_STEP_UP_SECONDS'),
      tokenTtlSeconds: n('IDM_MFA_TOKEN_TTL'),
      keyFile: optional('IDM_MFA_KEY_FILE') ?? join(dataDir, 'mfa-keys'),
      totpIssuer: s('IDM_TOTP_ISSUER')
    },
    projectionWaitMs: n('IDM_PROJECTION_WAIT_MS'),
    seedFile: optional('IDM_SEED_FILE'),
    logLevel: s('IDM_LOG_LEVEL') as LogLevel,
    sseHeartbeatSeconds: n('IDM_SSE_HEARTBEAT_SECONDS'),
    sse: { maxPerPrincipal: n('IDM_SSE_MAX_PER_PRINCIPAL'), maxTotal: n('IDM_SSE_MAX_TOTAL') },
    eventSource: s('IDM_EVENT_SOURCE'),
    metricsToken: optional('IDM_METRICS_TOKEN')
  }
}

/** The configuration with secrets masked, for a startup log line. */
export function describeConfig (config: Config): Record<string, unknown> {
  return {
    ...config,
    eventStore: config.eventStore.kind === 'sqlite'
      ? config.eventStore
      : {
          kind: config.eventStore.kind,
          connectionString: config.eventStore.connectionString.replace(/\/\/[^@/]*@/, '//***@').replace(/([?&]password=)[^&]*/gi, '$1***')
        },
    admin: { username: config.admin.username, password: config.admin.password === null ? null : '***' },
    metricsToken: config.metricsToken === null ? null : '***'
  }
}

function deepFreeze<T> (value: T): T {
  if (value !== null && typeof value === 'object' && !Object.isFrozen(value)) {
    for (const child of Object.values(value)) deepFreeze(child)
    Object.freeze(value)
  }
  return value
}
