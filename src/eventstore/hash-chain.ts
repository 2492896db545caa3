/**
 * Tamper evidence: every event's metadata carries `prevHash` (the hash of the stream's previous
 * event, or GENESIS) and `hash` = SHA-256(prevHash + canonical JSON of { type, data, metadata
 * without hash }). Editing, dropping or reordering any stored event breaks the chain from there.
 * Canonical JSON is RFC 8785 (JCS), so the hash does not depend on key order or number formatting.
 */
import { createHash } from 'node:crypto'
import canonicalize from 'canonicalize'
import type { JsonObject } from './port.js'

export const GENESIS = '0'.repeat(64)

export function chainHash (prevHash: string, type: string, data: JsonObject, metadata: JsonObject): string {
  const { hash: _ignored, ...rest } = metadata
  const body = canonicalize({ type, data, metadata: { ...rest, prevHash } })
  if (body === undefined) throw new TypeError('event is not serialisable as JSON')
  return createHash('sha256').update(prevHash).update(body).digest('hex')
}

export interface BrokenLink { stream: string, revision: number, expected: string, found: string }

/**
 * Checks one stream's events (in revision order). Returns the first broken link, or null.
 * `expected` is what the hash should be given the stored content; `found` is what is stored.
 * `prevHash` is the stored hash of the event before the first one given (GENESIS when the
 * events start the stream), so a long stream can be checked a piece at a time.
 */
export function verifyChain (events: readonly { stream: string, revision: number, type: string, data: JsonObject, metadata: JsonObject }[], prevHash: string = GENESIS): BrokenLink | null {
  let prev = prevHash
  for (const e of events) {
    const storedPrev = String(e.metadata.prevHash ?? '')
    if (storedPrev !== prev) return { stream: e.stream, revision: e.revision, expected: prev, found: storedPrev }
    const expected = chainHash(prev, e.type, e.data, e.metadata)
    const found = String(e.metadata.hash ?? '')
    if (expected !== found) return { stream: e.stream, revision: e.revision, expected, found }
    prev = found
  }
  return null
}
