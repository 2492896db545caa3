/**
 * Password rules of NIST SP 800-63B-4 (§3.1.1.2): a minimum length counted in Unicode code points
 * after NFKC, at least 64 characters accepted, no composition rules, and a blocklist of common
 * passwords, repetitive or sequential strings and the username itself. The caller hashes
 * `normalized`, never the raw input, so the same password typed on another keyboard still matches.
 */
import { dictionary } from '@zxcvbn-ts/language-common'

export interface PasswordPolicy { minLength: number }

export type PasswordCheck =
  | { ok: true, normalized: string }
  | { ok: false, reason: 'too_short' | 'too_long' | 'common' | 'contains_username' }

/** Longer inputs are refused before normalizing or hashing: a KDF over megabytes is a DoS vector. */
export const MAX_PASSWORD_BYTES = 1024
/** NIST's floor for a password that is the only factor. */
export const MIN_PASSWORD_LENGTH_FLOOR = 8
/** NIST: verifiers SHALL accept at least 64 characters, so no minimum may exceed it. */
export const MIN_PASSWORD_LENGTH_CEILING = 64
export const DEFAULT_PASSWORD_POLICY: PasswordPolicy = Object.freeze({ minLength: 15 })

/** Builds a policy, refusing a minimum NIST does not allow (below 8, or above the 64 that must be accepted). */
export const passwordPolicy = (minLength: number): PasswordPolicy => {
  if (!Number.isInteger(minLength) || minLength < MIN_PASSWORD_LENGTH_FLOOR || minLength > MIN_PASSWORD_LENGTH_CEILING) {
    throw new RangeError(`password minLength must be an integer from ${MIN_PASSWORD_LENGTH_FLOOR} to ${MIN_PASSWORD_LENGTH_CEILING}, got ${minLength}`)
  }
  return Object.freeze({ minLength })
}

export function checkPassword (password: string, policy: PasswordPolicy, context: { username?: string }): PasswordCheck {
  // A UTF-16 code unit is at least one UTF-8 byte: a cheap refusal before touching a huge input.
  if (password.length > MAX_PASSWORD_BYTES || utf8Length(password) > MAX_PASSWORD_BYTES) return { ok: false, reason: 'too_long' }
  const normalized = password.normalize('NFKC')
  // NFKC can expand (one ligature becomes up to 18 characters): the hashed form must fit too.
  if (utf8Length(normalized) > MAX_PASSWORD_BYTES) return { ok: false, reason: 'too_long' }

  // A hand-built policy object bypasses passwordPolicy(): clamp rather than trust it.
  const minLength = Math.min(Math.max(policy.minLength, MIN_PASSWORD_LENGTH_FLOOR), MIN_PASSWORD_LENGTH_CEILING)
  const codePoints = [...normalized]
  if (codePoints.length < minLength) return { ok: false, reason: 'too_short' }

  const folded = normalized.toLowerCase()
  if (context.username !== undefined && containsUsername(folded, context.username)) {
    return { ok: false, reason: 'contains_username' }
  }
  if (commonPasswords().has(folded) || isRepetitive([...folded]) || isSequential([...folded])) {
    return { ok: false, reason: 'common' }
  }
  return { ok: true, normalized }
}

/** Short usernames ("bob") occur inside too many good passphrases to ban as a substring. */
const containsUsername = (folded: string, username: string): boolean => {
  const name = username.normalize('NFKC').toLowerCase()
  if (name.length === 0) return false
  return folded === name || ([...name].length >= 4 && folded.includes(name))
}

let common: ReadonlySet<string> | undefined
/** ~49k entries: built on first use, not at import, so tools that never check a password skip it. */
const commonPasswords = (): ReadonlySet<string> => {
  common ??= new Set(dictionary['passwords-common'].map(p => p.toLowerCase()))
  return common
}

/** The whole password is one unit of 1 to 3 characters repeated ("aaaa…", "abab…", "123123…"). */
const isRepetitive = (chars: string[]): boolean => {
  for (let unit = 1; unit <= 3 && unit * 2 <= chars.length; unit++) {
    if (chars.every((c, i) => c === chars[i % unit])) return true
  }
  return false
}

/** A straight run up or down ("abcdef…", "987654…"), the digit row's 9→0 included ("1234567890"). */
const isSequential = (chars: string[]): boolean => {
  const cps = chars.map(c => c.codePointAt(0)!)
  const runs = (direction: 1 | -1): boolean => cps.every((cp, i) => {
    if (i === 0) return true
    const prev = cps[i - 1]!
    return cp - prev === direction || (direction === 1 ? prev === 0x39 && cp === 0x30 : prev === 0x30 && cp === 0x39)
  })
  return cps.length > 1 && (runs(1) || runs(-1))
}

/** UTF-8 length without Buffer or TextEncoder allocations (a lone surrogate counts 3, as U+FFFD). */
const utf8Length = (s: string): number => {
  let bytes = 0
  for (const c of s) {
    const cp = c.codePointAt(0)!
    bytes += cp < 0x80 ? 1 : cp < 0x800 ? 2 : cp < 0x10000 ? 3 : 4
  }
  return bytes
}
