/**
 * Secrets (SECRET_FIELDS, e.g. `passwordHash`) stay in the event log and leave it only through a
 * full backup (`idm events export`). Every API and feed shows them as REDACTED.
 */
import { SECRET_FIELDS } from '../domain/events.js'
import type { JsonObject } from '../eventstore/port.js'

export const REDACTED = '[redacted]'

const secret = new Set<string>(SECRET_FIELDS)

/** A copy of `data` with every secret key, at any depth, replaced by REDACTED. */
export function redact (data: JsonObject): JsonObject {
  return redactValue(data) as JsonObject
}

function redactValue (value: unknown): unknown {
  if (Array.isArray(value)) return value.map(redactValue)
  if (value === null || typeof value !== 'object') return value
  // fromEntries defines own properties, so a stored "__proto__" key stays a plain key.
  return Object.fromEntries(Object.entries(value).map(([key, child]) => [key, secret.has(key) ? REDACTED : redactValue(child)]))
}
