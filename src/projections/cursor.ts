/**
 * Opaque keyset cursors: base64url JSON of the last sort key, bound to the query it came from by a
 * digest of (query key, sort key). A cursor from another query, or edited by hand, is rejected.
 * The digest is a checksum, not a signature: forging one gains nothing but a different start.
 */
import { createHash } from 'node:crypto'

export class InvalidCursorError extends Error {
  readonly code = 'INVALID_CURSOR'
  constructor (message = 'invalid cursor') {
    super(message)
    this.name = 'InvalidCursorError'
  }
}

const digest = (queryKey: string, after: string): string =>
  createHash('sha256').update(queryKey).update('\u0000').update(after).digest('base64url').slice(0, 22)

export function encodeCursor (queryKey: string, after: string): string {
  return Buffer.from(JSON.stringify({ a: after, h: digest(queryKey, after) }), 'utf8').toString('base64url')
}

/** The sort key the cursor resumes after; throws InvalidCursorError for anything not made by encodeCursor for this query. */
export function decodeCursor (queryKey: string, cursor: string): string {
  if (cursor.length === 0 || cursor.length > 2048 || !/^[A-Za-z0-9_-]+$/.test(cursor)) throw new InvalidCursorError()
  let parsed: unknown
  try {
    parsed = JSON.parse(Buffer.from(cursor, 'base64url').toString('utf8'))
  } catch {
    throw new InvalidCursorError()
  }
  if (typeof parsed !== 'object' || parsed === null) throw new InvalidCursorError()
  const { a, h } = parsed as { a?: unknown, h?: unknown }
  if (typeof a !== 'string' || typeof h !== 'string' || h !== digest(queryKey, a)) throw new InvalidCursorError()
  // Re-encoding must give the same text: rejects padding, trailing bytes and other variants.
  if (encodeCursor(queryKey, a) !== cursor) throw new InvalidCursorError()
  return a
}

export function checkLimit (limit: number): void {
  if (!Number.isInteger(limit) || limit < 1 || limit > 1000) throw new RangeError(`limit must be an integer from 1 to 1000, got ${String(limit)}`)
}
