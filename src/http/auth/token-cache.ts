/**
 * Verified tokens, by the exact Authorization header value that carried them.
 *
 * An ES256 verify costs ~140 µs, and even @fastify/jwt's own cache decodes the token and hashes
 * it (SHA-256) on every hit; a hit here is a Map lookup. Only what passed the signature, issuer,
 * audience and claim-shape checks is stored; exp/nbf, the signing key still being known and the
 * revocation lookup are checked on every request all the same, hit or miss (src/http/auth/verification.ts).
 */
import type { AccessTokenClaims } from './claims.js'

export interface VerifiedToken {
  readonly claims: AccessTokenClaims
  readonly kid: string
}

/**
 * Bounded (the oldest entry goes first); the verifier drops an entry once its token has expired
 * by the app's clock, and failures are never stored, so a refused token is verified again each
 * time it is presented.
 */
export class VerifiedTokens {
  readonly #entries = new Map<string, VerifiedToken>()
  constructor (private readonly capacity: number) {}

  get (header: string): VerifiedToken | undefined { return this.#entries.get(header) }

  set (header: string, token: VerifiedToken): void {
    if (this.capacity <= 0) return
    if (this.#entries.size >= this.capacity) this.#entries.delete(this.#entries.keys().next().value as string)
    this.#entries.set(header, token)
  }

  delete (header: string): void { this.#entries.delete(header) }
}

/** The kid of a token that has just been verified (its header is well-formed JSON by then). */
export function kidOf (header: string): string {
  const token = header.slice(header.indexOf(' ') + 1)
  const decoded = JSON.parse(Buffer.from(token.slice(0, token.indexOf('.')), 'base64url').toString('utf8')) as { kid?: unknown }
  return String(decoded.kid)
}
