/**
 * Normal forms and comparison keys of the values that identify a user. Uniqueness reservations
 * are keyed by these, so two spellings that a person would read as the same value collide.
 */
import { DomainError } from './errors.js'

/** After NFKC and lower-casing: ASCII only, so look-alike letters from other scripts never pass. */
const USERNAME = /^[a-z0-9._@-]{3,64}$/

/**
 * NFKC first (full-width 'ＪＤｏｅ' becomes 'JDoe'), then lower-case, then validate. Only ASCII
 * survives validation, so a homograph such as Cyrillic 'а' is rejected rather than stored as a
 * second "admin".
 */
export const normalizeUsername = (raw: string): string => {
  const normalized = raw.normalize('NFKC').toLowerCase()
  if (!USERNAME.test(normalized)) {
    throw new DomainError('INVALID_USERNAME',
      'A username is 3 to 64 characters: letters a-z, digits, ".", "_", "-" or "@"')
  }
  return normalized
}

/** Emails compare case-insensitively; the stored email keeps the spelling the user gave. */
export const emailKey = (email: string): string => email.trim().toLowerCase()

/** Identification numbers compare case-insensitively within their type. */
export const identificationKey = (type: string, number: string): string => `${type}:${number.toUpperCase()}`

const E164 = /^\+[1-9][0-9]{6,14}$/
export const isE164 = (phone: string): boolean => E164.test(phone)
