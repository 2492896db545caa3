/**
 * The `mfa_token` of a two-step sign-in: what POST /v1/authentication hands out when the
 * password was right and a second factor is due, and POST /v1/authentication/mfa takes back.
 *
 * `<userId>.<challengeId>.<credentialVersion>.<expires (unix seconds)>.<HMAC-SHA256, base64url>`:
 * bound to the user and to this one attempt (a fresh challenge id per correct password), and to
 * the credential version (a password change or reset since voids it); short-lived
 * (IDM_MFA_TOKEN_TTL, 300 s). Single use: the mfa-<userId> stream records the challenge a
 * sign-in completed, and refuses it the second time (src/domain/mfa.ts), on every node. The HMAC
 * key is derived from the active signing key (like the device tokens), so every node that
 * shares the key file accepts the same tokens and nothing is stored until the sign-in completes.
 */
import { createHmac, createPrivateKey, hkdfSync, randomUUID, timingSafeEqual } from 'node:crypto'
import type { SecondFactorAttempt } from '../commands/authentication.js'
import type { SigningKeys } from './keys.js'

const TOKEN = /^([0-9a-f-]{36})\.([0-9a-f-]{36})\.([0-9]{1,9})\.([0-9]{1,12})\.([A-Za-z0-9_-]{43})$/

export interface MfaChallenge {
  readonly userId: string
  readonly challengeId: string
  readonly credentialVersion: number
  /** ISO-8601. */
  readonly expiresAt: string
}

export interface MfaTokens {
  readonly ttlSeconds: number
  issue (userId: string, credentialVersion: number): { readonly token: string } & MfaChallenge
  /** The challenge of a token that verifies and has not expired; null otherwise. */
  verify (token: string): MfaChallenge | null
}

/**
 * What a verified token binds the second step to: the user, this one attempt, and the credential
 * version the password step saw. Every path that completes a sign-in (POST
 * /v1/authentication/mfa, the sign-in page) takes the binding from here.
 */
export const boundAttempt = (challenge: MfaChallenge): Pick<SecondFactorAttempt, 'userId' | 'challenge' | 'credentialVersion'> => ({
  userId: challenge.userId,
  challenge: { id: challenge.challengeId, expiresAt: challenge.expiresAt },
  credentialVersion: challenge.credentialVersion
})

export function createMfaTokens (options: { secret: Uint8Array, clock: () => Date, ttlSeconds: number }): MfaTokens {
  if (options.secret.byteLength < 32) throw new RangeError('an mfa token secret needs at least 32 bytes')
  const secret = Buffer.from(options.secret)
  const { clock, ttlSeconds } = options
  const mac = (body: string): Buffer => createHmac('sha256', secret).update(`idm-mfa-v1|${body}`).digest()
  const iso = (seconds: number): string => new Date(seconds * 1000).toISOString()
  return {
    ttlSeconds,
    issue (userId, credentialVersion) {
      const challengeId = randomUUID()
      const expires = Math.floor(clock().getTime() / 1000) + ttlSeconds
      const body = `${userId}.${challengeId}.${credentialVersion}.${expires}`
      return { token: `${body}.${mac(body).toString('base64url')}`, userId, challengeId, credentialVersion, expiresAt: iso(expires) }
    },
    verify (token) {
      const match = TOKEN.exec(token)
      if (match === null) return null
      const [, userId, challengeId, cv, expires, signature] = match as unknown as [string, string, string, string, string, string]
      const expected = mac(`${userId}.${challengeId}.${cv}.${expires}`)
      const given = Buffer.from(signature, 'base64url')
      if (given.length !== expected.length || !timingSafeEqual(given, expected)) return null
      if (Number(expires) <= clock().getTime() / 1000) return null
      return { userId, challengeId, credentialVersion: Number(cv), expiresAt: iso(Number(expires)) }
    }
  }
}

/** The HMAC key for mfa tokens, derived from the active signing key (never the key itself). */
export function mfaTokenSecret (keys: SigningKeys): Buffer {
  const der = createPrivateKey(keys.activePrivateKeyPem()).export({ type: 'pkcs8', format: 'der' })
  return Buffer.from(hkdfSync('sha256', der, Buffer.alloc(0), 'identity-manager mfa token v1', 32))
}
