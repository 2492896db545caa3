/**
 * Device tokens (OWASP, "Slow Down Online Guessing Attacks with Device Cookies"): a browser or
 * client that has signed in to an account before carries a signed token naming that account and
 * a device id, in the HttpOnly cookie `idm_device`. A lockout caused by failures from elsewhere
 * does not refuse it; its own failures count toward that device's own limit (the lockout rules
 * are in src/domain/authentication.ts). Without the cookie, or with one that does not verify,
 * a sign-in is an ordinary untrusted attempt.
 *
 * A token is `<userId>.<deviceId>.<expires (unix seconds)>.<HMAC-SHA256, base64url>`. The HMAC
 * key is derived (HKDF-SHA256) from the active signing key, so every node that shares the key
 * file accepts the same tokens and nothing new has to be stored; rotating the signing key makes
 * earlier device tokens plain untrusted attempts again (the owner signs in as anyone would).
 * One cookie carries the tokens of up to MAX_ACCOUNTS accounts (most recent first, `~`
 * between), so signing in to a second account on a device does not forget the first.
 *
 * API (also for other sign-in pages, e.g. OIDC's):
 *   - `createDeviceTokens({ secret, clock })` → `{ issue, verify }`: the pure token operations;
 *   - `deviceSecret(keys)`: the HMAC key from the signing keys;
 *   - `deviceOf(tokens, request)` → `(userId) => deviceId | null`: what a request's cookie proves,
 *     for `authenticate(…, { deviceOf })`;
 *   - `rememberDevice(tokens, request, reply, userId)`: sets the cookie after a successful sign-in
 *     (keeps the device id the request proved for that account, else a new one).
 * `app.deviceTokens` (decorated in src/http/app.ts) is the app's instance.
 */
import { createHmac, createPrivateKey, hkdfSync, randomUUID, timingSafeEqual } from 'node:crypto'
import type { FastifyReply, FastifyRequest } from 'fastify'
import type { SigningKeys } from './keys.js'

export const DEVICE_COOKIE = 'idm_device'
/** How long a device stays trusted after its last successful sign-in. */
export const DEVICE_TOKEN_SECONDS = 180 * 24 * 3600
/** Accounts remembered by one cookie. */
export const MAX_ACCOUNTS = 4

const ID = /^[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}$/
const TOKEN = /^([0-9a-f-]{36})\.([0-9a-f-]{36})\.([0-9]{1,12})\.([A-Za-z0-9_-]{43})$/

export interface DeviceClaim {
  readonly userId: string
  readonly deviceId: string
  /** Unix seconds. */
  readonly expires: number
}

export interface DeviceTokens {
  /** A token for `userId` on `deviceId` (a new device id when none is given). */
  issue (userId: string, deviceId?: string): { readonly token: string, readonly deviceId: string }
  /** The claim of a token that verifies and has not expired; null otherwise. */
  verify (token: string): DeviceClaim | null
}

export interface DeviceTokenOptions {
  /** At least 32 bytes; see deviceSecret. */
  readonly secret: Uint8Array
  readonly clock?: () => Date
  readonly lifetimeSeconds?: number
}

export function createDeviceTokens (options: DeviceTokenOptions): DeviceTokens {
  if (options.secret.byteLength < 32) throw new RangeError('a device token secret needs at least 32 bytes')
  const secret = Buffer.from(options.secret)
  const clock = options.clock ?? (() => new Date())
  const lifetime = options.lifetimeSeconds ?? DEVICE_TOKEN_SECONDS
  const mac = (body: string): Buffer => createHmac('sha256', secret).update(`idm-device-v1|${body}`).digest()

  return {
    issue (userId, deviceId = randomUUID()) {
      if (!ID.test(userId) || !ID.test(deviceId)) throw new TypeError('user and device ids must be lower-case UUIDs')
      const body = `${userId}.${deviceId}.${Math.floor(clock().getTime() / 1000) + lifetime}`
      return { token: `${body}.${mac(body).toString('base64url')}`, deviceId }
    },
    verify (token) {
      const match = TOKEN.exec(token)
      if (match === null) return null
      const [, userId, deviceId, expires, signature] = match as unknown as [string, string, string, string, string]
      const expected = mac(`${userId}.${deviceId}.${expires}`)
      const given = Buffer.from(signature, 'base64url')
      if (given.length !== expected.length || !timingSafeEqual(given, expected)) return null
      if (Number(expires) <= clock().getTime() / 1000) return null
      return { userId, deviceId, expires: Number(expires) }
    }
  }
}

/** The HMAC key for device tokens, derived from the active signing key (never the key itself). */
export function deviceSecret (keys: SigningKeys): Buffer {
  const der = createPrivateKey(keys.activePrivateKeyPem()).export({ type: 'pkcs8', format: 'der' })
  return Buffer.from(hkdfSync('sha256', der, Buffer.alloc(0), 'identity-manager device token v1', 32))
}

/** The tokens in the request's `idm_device` cookie (unverified), most recent first. */
function cookieTokens (request: FastifyRequest): string[] {
  const header = request.headers.cookie
  if (typeof header !== 'string' || header.length > 8192) return []
  for (const part of header.split(';')) {
    const eq = part.indexOf('=')
    if (eq < 0 || part.slice(0, eq).trim() !== DEVICE_COOKIE) continue
    return part.slice(eq + 1).trim().split('~').slice(0, MAX_ACCOUNTS)
  }
  return []
}

/** What the request's cookie proves: the device id it holds for an account, if any. */
export function deviceOf (tokens: DeviceTokens, request: FastifyRequest): (userId: string) => string | null {
  const claims = cookieTokens(request).map(token => tokens.verify(token)).filter(claim => claim !== null)
  return (userId) => claims.find(claim => claim.userId === userId)?.deviceId ?? null
}

/**
 * Sets `idm_device` after a successful sign-in to `userId`: a fresh token for this account
 * first, then the still-valid tokens of the other accounts this device signed in to.
 */
export function rememberDevice (tokens: DeviceTokens, request: FastifyRequest, reply: FastifyReply, userId: string): void {
  const others: string[] = []
  let deviceId: string | undefined
  for (const token of cookieTokens(request)) {
    const claim = tokens.verify(token)
    if (claim === null) continue
    if (claim.userId === userId) deviceId ??= claim.deviceId
    else if (!others.some(other => other.startsWith(`${claim.userId}.`))) others.push(token)
  }
  const issued = tokens.issue(userId, deviceId)
  const value = [issued.token, ...others].slice(0, MAX_ACCOUNTS).join('~')
  const secure = request.protocol === 'https' ? '; Secure' : ''
  reply.header('set-cookie', `${DEVICE_COOKIE}=${value}; Path=/; Max-Age=${DEVICE_TOKEN_SECONDS}; HttpOnly; SameSite=Strict${secure}`)
}
