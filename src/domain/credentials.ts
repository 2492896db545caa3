import type { UserEvent } from './events.js'

/**
 * Events after which every token issued before must stop working. Their count is the user's
 * credential version: tokens carry it (`cv`), and the read model counts the same events.
 */
export const CREDENTIAL_EVENTS: ReadonlySet<string> = new Set<UserEvent['type']>([
  'UserPasswordChanged', 'UserPasswordReset', 'UserDeactivated'
])

export const credentialVersion = (events: readonly { type: string }[]): number =>
  events.reduce((n, e) => CREDENTIAL_EVENTS.has(e.type) ? n + 1 : n, 0)

/** What the token check knows about a user (the read model's credential state). */
export interface CredentialFacts {
  readonly status: 'active' | 'inactive'
  /** RFC 3339; the account is locked while this lies in the future. */
  readonly lockedUntil: string | null
  readonly credentialVersion: number
}

export type CredentialRefusal = 'unknown user' | 'user inactive' | 'credentials changed'

/**
 * The one rule for whether a token issued at credential version `cv` still speaks for its user at
 * `nowMs`: the user exists, is active, and no credential event happened since. Every request's
 * bearer check and every open event stream apply it. Null: still valid. A lockout is not in it:
 * it stops password guessing and ends no token, session or stream (issue 18: anyone could
 * otherwise throw the owner out with five wrong passwords). `nowMs` stays for rules in time.
 */
export function credentialRefusal (user: CredentialFacts | null, cv: number | undefined, nowMs: number): CredentialRefusal | null {
  if (user === null) return 'unknown user'
  if (user.status !== 'active') return 'user inactive'
  void nowMs
  if (user.credentialVersion !== cv) return 'credentials changed'
  return null
}

export const credentialStillValid = (user: CredentialFacts | null, cv: number | undefined, nowMs: number): boolean =>
  credentialRefusal(user, cv, nowMs) === null
