/**
 * Logger options: pino at the configured level, the request id in every line (Fastify binds it
 * as `requestId`), and secrets redacted wherever they appear in a logged object.
 */
import type { FastifyServerOptions } from 'fastify'

const SECRET_FIELDS = ['password', 'newPassword', 'currentPassword', 'access_token', 'passwordHash', 'authorization', 'cookie']

export const REDACT_PATHS: readonly string[] = [
  'req.headers.authorization',
  'req.headers.cookie',
  'res.headers["set-cookie"]',
  ...SECRET_FIELDS.flatMap((k) => [k, `*.${k}`, `*.*.${k}`, `*.*.*.${k}`])
]

/** `logger` as passed to buildApp: false (silent), true (defaults) or pino options. */
export function loggerOptions (logger: boolean | Record<string, unknown> | undefined, level: string): FastifyServerOptions['logger'] {
  if (logger === false) return false
  const given = logger === true || logger === undefined ? {} : logger
  const redact = given.redact as { paths?: string[] } | string[] | undefined
  const extra = Array.isArray(redact) ? redact : redact?.paths ?? []
  return {
    level,
    ...given,
    redact: { paths: [...REDACT_PATHS, ...extra], censor: '[REDACTED]' }
  } as FastifyServerOptions['logger']
}
