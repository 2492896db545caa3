/**
 * The cost of the two request log lines Fastify writes per request, formatted by pino with the
 * logger options of src/http/plugins/logging.ts, beside the 28 wildcard redact paths used before
 * and beside no redaction at all. Lines go to a sink that drops them: this is formatting only.
 *
 *   TS_NODE_TRANSPILE_ONLY=1 node --import @tapjs/typescript/import bench/tools/log-redaction.ts [requests=100000]
 */
import pino, { type LoggerOptions } from 'pino'
import { loggerOptions } from '../../src/http/plugins/logging.js'

const SECRET_FIELDS = ['password', 'newPassword', 'currentPassword', 'access_token', 'passwordHash', 'authorization', 'cookie']
const WILDCARD_PATHS = [
  'req.headers.authorization', 'req.headers.cookie', 'res.headers["set-cookie"]',
  ...SECRET_FIELDS.flatMap((k) => [k, `*.${k}`, `*.*.${k}`, `*.*.*.${k}`])
]
// What Fastify's default serializers keep of a request and a reply.
const serializers = {
  req: (r: Req) => ({ method: r.method, url: r.url, version: r.version, host: r.host, remoteAddress: r.ip, remotePort: r.port }),
  res: (r: Res) => ({ statusCode: r.statusCode })
}
class Req {
  method = 'GET'
  url = '/v1/users/0190a0b0-0000-7000-8000-000000000000'
  version = '1.1'
  host = '127.0.0.1:3000'
  ip = '127.0.0.1'
  port = 5555
  headers = { authorization: 'Bearer not-logged' }
}
class Res { statusCode = 200 }

const sink = { write (): void {} }
const current = loggerOptions({}, 'info') as LoggerOptions
const variants: Record<string, LoggerOptions> = {
  'wildcard redact paths (before)': { level: 'info', serializers, redact: { paths: WILDCARD_PATHS, censor: '[REDACTED]' } },
  'logging.ts (now)': { ...current, serializers },
  'no redaction': { level: 'info', serializers }
}
const requests = Number(process.argv[2] ?? 100_000)
for (let round = 0; round < 3; round++) {
  for (const [name, options] of Object.entries(variants)) {
    const log = pino(options, sink).child({ requestId: 'bench' })
    const started = process.hrtime.bigint()
    for (let i = 0; i < requests; i++) {
      log.info({ req: new Req() }, 'incoming request')
      log.info({ res: new Res(), responseTime: 1.234 }, 'request completed')
    }
    const micros = Number(process.hrtime.bigint() - started) / 1000 / requests
    process.stdout.write(`round ${round + 1}: ${name}: ${micros.toFixed(2)} µs per request (two lines)\n`)
  }
}
