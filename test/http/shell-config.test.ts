import { createHash } from 'node:crypto'
import { mkdtempSync, readFileSync, rmSync, statSync, writeFileSync } from 'node:fs'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import { inspect } from 'node:util'
import t from 'tap'
import { CONFIG_VARIABLES, ConfigError, describeConfig, loadConfig } from '../../src/config.js'
import { generateSigningKeyPem, loadOrCreateSigningKeys, signingKeysFromPem } from '../../src/http/keys.js'

t.test('defaults', async (t) => {
  const config = loadConfig({})
  t.same(config, {
    host: '127.0.0.1',
    port: 3000,
    dataDir: './data',
    eventStore: { kind: 'sqlite', path: join('./data', 'events.db') },
    admin: { username: 'admin', password: null },
    token: { ttlSeconds: 900, issuer: 'http://127.0.0.1:3000', audience: 'identity-manager', signingKeyFile: join('./data', 'signing-key.pem') },
    scrypt: { logN: 17, r: 8, p: 1 },
    password: { minLength: 15 },
    lockout: { threshold: 5, baseSeconds: 60, maxSeconds: 3600 },
    rateLimit: { loginPerMinute: 20, loginPerMinutePerUsername: 10 },
    http: { bodyLimit: 65536, trustProxy: false, corsOrigins: [] },
    publicUrl: 'http://127.0.0.1:3000',
    sessions: { idleSeconds: 1209600, absoluteSeconds: 2592000 },
    oauth: { secretOverlapSeconds: 86400, authorizationCodeTtlSeconds: 60 },
    mfa: { requiredRoles: ['identity-admin'], stepUpSeconds: 300, tokenTtlSeconds: 300, keyFile: join('./data', 'mfa-keys'), totpIssuer: 'Identity Manager' },
    projectionWaitMs: 5000,
    seedFile: null,
    logLevel: 'info',
    sseHeartbeatSeconds: 15,
    sse: { maxPerPrincipal: 16, maxTotal: 2000 },
    eventSource: '/identity-manager',
    metricsToken: null
  })
})

t.test('IDM_MFA_REQUIRED_ROLES: a list of roles; empty is nobody, not the default', async (t) => {
  t.same(loadConfig({ IDM_MFA_REQUIRED_ROLES: '' }).mfa.requiredRoles, [])
  t.same(loadConfig({ IDM_MFA_REQUIRED_ROLES: '  ' }).mfa.requiredRoles, [])
  t.same(loadConfig({ IDM_MFA_REQUIRED_ROLES: 'identity-admin, identity-auditor' }).mfa.requiredRoles, ['identity-admin', 'identity-auditor'])
  t.throws(() => loadConfig({ IDM_MFA_REQUIRED_ROLES: 'Not A Role' }), /IDM_MFA_REQUIRED_ROLES must be empty, or a comma-separated list of role ids/)
  t.equal(loadConfig({ IDM_STEP_UP_SECONDS: '0' }).mfa.stepUpSeconds, 0, '0: step-up off')
})

t.test('values are parsed; empty means unset', async (t) => {
  const config = loadConfig({
    HOST: '0.0.0.0',
    PORT: ' 8080 ',
    IDM_DATA_DIR: '/var/lib/idm',
    IDM_EVENTSTORE: 'esdb://admin:changeit@localhost:2113?tls=false',
    IDM_ADMIN_PASSWORD: 'correct horse battery staple',
    IDM_TOKEN_TTL: '300',
    IDM_SCRYPT_LOGN: '15',
    IDM_PASSWORD_MIN_LENGTH: '8',
    IDM_TRUST_PROXY: '10.0.0.0/8,127.0.0.1',
    IDM_CORS_ORIGINS: 'https://a.example.com, http://localhost:5173',
    IDM_SEED_FILE: 'seed.json',
    IDM_LOG_LEVEL: 'debug',
    IDM_SIGNING_KEY_FILE: '',
    UNRELATED: 'ignored'
  })
  t.equal(config.host, '0.0.0.0')
  t.equal(config.port, 8080)
  t.same(config.eventStore, { kind: 'esdb', connectionString: 'esdb://admin:changeit@localhost:2113?tls=false' })
  t.equal(config.admin.password, 'correct horse battery staple')
  t.equal(config.token.ttlSeconds, 300)
  t.equal(config.token.signingKeyFile, join('/var/lib/idm', 'signing-key.pem'), 'empty is unset, so the default applies')
  t.equal(config.scrypt.logN, 15)
  t.equal(config.password.minLength, 8)
  t.same(config.http.trustProxy, ['10.0.0.0/8', '127.0.0.1'])
  t.same(config.http.corsOrigins, ['https://a.example.com', 'http://localhost:5173'])
  t.equal(config.seedFile, 'seed.json')
  t.equal(config.logLevel, 'debug')
  t.equal(loadConfig({ IDM_TRUST_PROXY: 'true' }).http.trustProxy, true)
  t.equal(loadConfig({ IDM_TRUST_PROXY: '2' }).http.trustProxy, 2)
  t.same(loadConfig({ IDM_EVENTSTORE: 'esdb+discover://cluster.local:2113' }).eventStore.kind, 'esdb')
  t.same(loadConfig({ IDM_EVENTSTORE: 'sqlite:/srv/idm/events.db' }).eventStore, { kind: 'sqlite', path: '/srv/idm/events.db' },
    'several nodes can share one event file')

  const described = describeConfig(loadConfig({ IDM_EVENTSTORE: 'esdb://admin:changeit@localhost:2113', IDM_ADMIN_PASSWORD: 'secret-secret' }))
  t.notMatch(JSON.stringify(described), /changeit|secret-secret/, 'describeConfig masks secrets')
  for (const url of ['postgres://idm@db.internal/idm', 'postgresql://root@/idm?host=/var/run/postgresql']) {
    t.same(loadConfig({ IDM_EVENTSTORE: url }).eventStore, { kind: 'postgres', connectionString: url }, 'PostgreSQL: several nodes on one database')
  }
  const pgDescribed = JSON.stringify(describeConfig(loadConfig({ IDM_EVENTSTORE: 'postgresql://idm:hunter22@db/idm?sslmode=require&password=other-secret' })))
  t.notMatch(pgDescribed, /hunter22|other-secret/, 'describeConfig masks a PostgreSQL password, in the authority or the query')
})

t.test('each invalid variable is reported by name', async (t) => {
  const cases: Array<[Record<string, string>, RegExp]> = [
    [{ PORT: 'abc' }, /^PORT must be an integer from 0 to 65535, got "abc"$/],
    [{ PORT: '65536' }, /^PORT must be an integer/],
    [{ PORT: '80.5' }, /^PORT must be an integer/],
    [{ PORT: '0x50' }, /^PORT must be an integer/],
    [{ IDM_SCRYPT_LOGN: '9' }, /^IDM_SCRYPT_LOGN must be an integer from 10 to 22/],
    [{ IDM_SCRYPT_LOGN: '23' }, /^IDM_SCRYPT_LOGN/],
    [{ IDM_PASSWORD_MIN_LENGTH: '7' }, /^IDM_PASSWORD_MIN_LENGTH must be an integer from 8 to 64/],
    [{ IDM_TOKEN_TTL: '-5' }, /^IDM_TOKEN_TTL/],
    [{ IDM_EVENTSTORE: 'mysql://x' }, /^IDM_EVENTSTORE must be 'sqlite', 'sqlite:<path>' or a connection string/],
    [{ IDM_LOG_LEVEL: 'verbose' }, /^IDM_LOG_LEVEL must be one of fatal, error/],
    [{ IDM_TRUST_PROXY: 'yes please' }, /^IDM_TRUST_PROXY/],
    [{ IDM_CORS_ORIGINS: 'app.example.com' }, /^IDM_CORS_ORIGINS/],
    [{ IDM_BODY_LIMIT: '10' }, /^IDM_BODY_LIMIT/],
    [{ IDM_ADMIN_USERNAME: 'ab' }, /^IDM_ADMIN_USERNAME must be a string of 3 to 64/],
    [{ IDM_LOCKOUT_BASE_SECONDS: '600', IDM_LOCKOUT_MAX_SECONDS: '300' }, /^IDM_LOCKOUT_MAX_SECONDS must be at least IDM_LOCKOUT_BASE_SECONDS$/],
    [{ IDM_SCRYPT_LOGN: '22', IDM_SCRYPT_R: '32' }, /limit is 1024 MiB/]
  ]
  for (const [env, message] of cases) {
    const error = t.throws(() => loadConfig(env), ConfigError, JSON.stringify(env)) as ConfigError
    t.equal(error.problems.length, 1, JSON.stringify(env))
    t.match(error.problems[0], message, JSON.stringify(env))
  }
})

t.test('every problem is reported at once, secrets never echoed', async (t) => {
  const error = t.throws(() => loadConfig({
    PORT: '-1', IDM_TOKEN_TTL: 'soon', IDM_LOG_LEVEL: 'loud', IDM_ADMIN_PASSWORD: 'x'.repeat(2000)
  }), ConfigError) as ConfigError
  t.same(error.problems.map((p) => p.split(' ')[0]), ['PORT', 'IDM_ADMIN_PASSWORD', 'IDM_TOKEN_TTL', 'IDM_LOG_LEVEL'])
  t.notMatch(error.message, /xxxx/, 'the admin password is not echoed')
  t.match(error.message, /PORT must be/)
})

t.test('the configuration is deeply frozen', async (t) => {
  const config = loadConfig({ IDM_CORS_ORIGINS: 'https://a.example.com' })
  t.ok(Object.isFrozen(config))
  t.ok(Object.isFrozen(config.token))
  t.ok(Object.isFrozen(config.http.corsOrigins))
  t.throws(() => { (config as { port: number }).port = 1 }, TypeError)
  t.throws(() => { (config.http.corsOrigins as string[]).push('x') }, TypeError)
})

t.test('every variable has a description for the README', async (t) => {
  t.equal(new Set(CONFIG_VARIABLES.map((v) => v.name)).size, CONFIG_VARIABLES.length)
  for (const v of CONFIG_VARIABLES) t.ok(v.description.length > 10, v.name)
  t.ok(CONFIG_VARIABLES.some((v) => v.name === 'IDM_LOGIN_RATE_LIMIT_PER_USERNAME'))
})

t.test('signing keys', async (t) => {
  const dir = mkdtempSync(join(tmpdir(), 'idm-keys-'))
  t.teardown(() => rmSync(dir, { recursive: true, force: true }))

  t.test('generated on first start with mode 0600, reused after', async (t) => {
    const keyFile = join(dir, 'nested', 'signing-key.pem')
    const first = loadOrCreateSigningKeys({ keyFile })
    t.equal(statSync(keyFile).mode & 0o777, 0o600)
    t.equal(statSync(join(dir, 'nested')).mode & 0o777, 0o700)
    t.match(readFileSync(keyFile, 'utf8'), /^-----BEGIN PRIVATE KEY-----/)
    t.same(first.warnings, [])
    const second = loadOrCreateSigningKeys({ keyFile })
    t.equal(second.activeKid, first.activeKid)
  })

  t.test('kid is the RFC 7638 thumbprint', async (t) => {
    const keys = signingKeysFromPem(generateSigningKeyPem())
    const jwk = keys.jwks().keys[0]!
    const expected = createHash('sha256').update(`{"crv":"P-256","kty":"EC","x":"${jwk.x}","y":"${jwk.y}"}`).digest('base64url')
    t.equal(keys.activeKid, expected)
    t.equal(jwk.kid, expected)
  })

  t.test('several blocks: the first signs, the rest verify; public blocks allowed after the first', async (t) => {
    const a = generateSigningKeyPem()
    const b = signingKeysFromPem(generateSigningKeyPem())
    const bPublic = b.publicKeyPem(b.activeKid)!
    const keys = signingKeysFromPem(`${a}\n${bPublic}`)
    t.same(keys.kids, [signingKeysFromPem(a).activeKid, b.activeKid])
    t.throws(() => signingKeysFromPem(bPublic), /first PEM block must be the private key/)
    t.throws(() => signingKeysFromPem('nothing here'), /no PEM block/)
    t.throws(() => signingKeysFromPem('-----BEGIN PRIVATE KEY-----\nAAAA\n-----END PRIVATE KEY-----'), /not a readable key/)
  })

  t.test('private material never leaves through serialisation or inspection', async (t) => {
    const pem = generateSigningKeyPem()
    const keys = signingKeysFromPem(pem)
    const body = pem.split('\n')[1]!
    t.notMatch(JSON.stringify(keys), body)
    t.notMatch(inspect(keys, { depth: 10, showHidden: true }), body)
    t.notMatch(JSON.stringify(keys.jwks()), /"d"/)
  })

  t.test('a world-readable key file is flagged', async (t) => {
    const keyFile = join(dir, 'loose.pem')
    writeFileSync(keyFile, generateSigningKeyPem(), { mode: 0o644 })
    t.match(loadOrCreateSigningKeys({ keyFile }).warnings, [/readable by other users/])
  })
})
