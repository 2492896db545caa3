/**
 * Second-factor use cases over the mfa-<userId> stream (src/domain/mfa.ts). What happens before
 * a decision happens here: generating and sealing a TOTP secret, checking a code against the
 * opened secret (RFC 6238 with otpauth: SHA-1, 6 digits, 30 s, one step of clock skew either
 * way), hashing recovery codes. The decider then decides on what was proved (the time step, the
 * code's index), so a replay is refused by the stream, not by a cache.
 */
import { createHash, randomBytes, timingSafeEqual } from 'node:crypto'
import { Secret, TOTP } from 'otpauth'
import { DomainError } from '../domain/errors.js'
import { streams } from '../domain/events.js'
import { hasSecondFactor, methodsOf, mfaDecider, type CompletedChallenge, type FactorProof, type MfaCommand, type MfaState, type SecondFactorMethod } from '../domain/mfa.js'
import type { Commands } from './deps.js'
import { handleCommand, type CommandContext } from './handler.js'
import type { SecretBox } from './secret-box.js'

export interface MfaDeps extends Commands {
  readonly secretBox: SecretBox
  /** The issuer an authenticator app shows beside the account (otpauth:// `issuer`). */
  readonly totpIssuer: string
}

export const TOTP_PERIOD = 30
export const TOTP_DIGITS = 6
/** Steps of clock skew accepted on either side (RFC 6238 §5.2 recommends at most one). */
export const TOTP_WINDOW = 1
export const RECOVERY_CODE_COUNT = 10

const totpContext = (userId: string): string => `totp|${userId}`

export async function loadFactors (deps: Pick<Commands, 'load'>, userId: string): Promise<MfaState> {
  return (await deps.load(mfaDecider, streams.mfa(userId))).state
}

/** The methods a sign-in of this user must complete with; empty: the password is enough. */
export async function secondFactorMethods (deps: Pick<Commands, 'load'>, userId: string): Promise<SecondFactorMethod[]> {
  return methodsOf(await loadFactors(deps, userId))
}

const run = async (deps: Commands, userId: string, command: MfaCommand, ctx: CommandContext) =>
  await handleCommand(deps, mfaDecider, streams.mfa(userId), command, ctx)

export interface TotpEnrolment {
  /** Base32, shown once: the otpauth:// URI carries it too. */
  readonly secret: string
  readonly uri: string
  readonly position: number | null
}

/** A new secret, sealed into the log; confirmed by the first valid code (confirmTotp). */
export async function startTotpEnrolment (deps: MfaDeps, user: { userId: string, username: string }, ctx: CommandContext): Promise<TotpEnrolment> {
  const secret = new Secret({ size: 20 })
  const sealedSecret = deps.secretBox.seal(new Uint8Array(secret.buffer), totpContext(user.userId))
  const handled = await run(deps, user.userId, { type: 'StartTotpEnrolment', data: { userId: user.userId, sealedSecret } }, ctx)
  const totp = totpOf(deps, secret, user.username)
  return { secret: secret.base32, uri: totp.toString(), position: handled.position }
}

/** The first code confirms the enrolment; the first confirmed factor also gets recovery codes. */
export async function confirmTotp (deps: MfaDeps, userId: string, code: string, ctx: CommandContext): Promise<{ recoveryCodes: string[] | null, position: number | null }> {
  const state = await loadFactors(deps, userId)
  if (state.totp?.status !== 'pending') throw new DomainError('MFA_NOT_ENROLLING', 'No TOTP enrolment is waiting for its first code', { kind: 'totp' })
  const timeStep = matchingStep(deps, state, userId, code)
  if (timeStep === null) throw new DomainError('MFA_CODE_INVALID', 'The code is not the one the authenticator shows now', { kind: 'totp' })
  const confirmed = await run(deps, userId, { type: 'ConfirmTotp', data: { userId, timeStep } }, ctx)
  if (confirmed.state.recoveryCodes.some(c => c !== null)) return { recoveryCodes: null, position: confirmed.position }
  const codes = await regenerateRecoveryCodes(deps, userId, ctx)
  return { recoveryCodes: codes.recoveryCodes, position: codes.position ?? confirmed.position }
}

export async function removeTotp (deps: Commands, userId: string, ctx: CommandContext): Promise<number | null> {
  return (await run(deps, userId, { type: 'RemoveTotp', data: { userId } }, ctx)).position
}

/** Ten new codes (the old ones stop working), returned once; only their hashes are stored. */
export async function regenerateRecoveryCodes (deps: Commands, userId: string, ctx: CommandContext): Promise<{ recoveryCodes: string[], position: number | null }> {
  const recoveryCodes = Array.from({ length: RECOVERY_CODE_COUNT }, newRecoveryCode)
  const handled = await run(deps, userId, { type: 'GenerateRecoveryCodes', data: { userId, codeHashes: recoveryCodes.map(hashRecoveryCode) } }, ctx)
  return { recoveryCodes, position: handled.position }
}

/** An administrator removes every factor of the user. */
export async function resetFactors (deps: Commands, userId: string, ctx: CommandContext): Promise<number | null> {
  return (await run(deps, userId, { type: 'ResetFactors', data: { userId } }, ctx)).position
}

export interface SecondFactorInput {
  readonly method: SecondFactorMethod
  readonly code: string
  readonly purpose: 'sign_in' | 'step_up'
  /** The sign-in attempt this completes (the mfa_token's); null for a step-up. */
  readonly challenge: CompletedChallenge | null
}

/**
 * Checks a second factor and records its use. Returns the RFC 8176 method reference it proves
 * ('otp'), or null when it is refused for any reason (wrong code, replay, used recovery code,
 * completed or expired challenge, no factor): the caller counts that as a failed attempt.
 */
export async function useSecondFactor (deps: MfaDeps, userId: string, input: SecondFactorInput, ctx: CommandContext): Promise<{ amr: string, position: number | null } | null> {
  const state = await loadFactors(deps, userId)
  if (!hasSecondFactor(state)) return null
  const proof = prove(deps, state, userId, input)
  if (proof === null) return null
  try {
    const handled = await run(deps, userId, {
      type: 'UseSecondFactor',
      data: { userId, proof, purpose: input.purpose, challenge: input.challenge, now: deps.clock().toISOString() }
    }, ctx)
    return { amr: 'otp', position: handled.position }
  } catch (err) {
    if (err instanceof DomainError && err.code === 'SECOND_FACTOR_REFUSED') return null
    throw err
  }
}

function prove (deps: MfaDeps, state: MfaState, userId: string, input: SecondFactorInput): FactorProof | null {
  switch (input.method) {
    case 'totp': {
      const timeStep = matchingStep(deps, state, userId, input.code)
      return timeStep === null ? null : { method: 'totp', timeStep }
    }
    case 'recovery': {
      const hash = Buffer.from(hashRecoveryCode(input.code), 'hex')
      // Compared in constant time, every code each time.
      let index = -1
      state.recoveryCodes.forEach((stored, i) => {
        if (stored !== null && timingSafeEqual(Buffer.from(stored, 'hex'), hash)) index = i
      })
      return index < 0 ? null : { method: 'recovery', index }
    }
    default: {
      const unknown: never = input.method
      throw new TypeError(`unknown method ${String(unknown)}`)
    }
  }
}

/** The time step whose code `code` is, within the window around now; null when none is. */
function matchingStep (deps: MfaDeps, state: MfaState, userId: string, code: string): number | null {
  if (state.totp === null) return null
  const token = code.replace(/\s/g, '')
  if (!/^[0-9]{6}$/.test(token)) return null
  const secret = new Secret({ buffer: new Uint8Array(deps.secretBox.open(state.totp.sealedSecret, totpContext(userId))).buffer })
  const totp = totpOf(deps, secret, '')
  const timestamp = deps.clock().getTime()
  const delta = totp.validate({ token, timestamp, window: TOTP_WINDOW })
  return delta === null ? null : totp.counter({ timestamp }) + delta
}

const totpOf = (deps: Pick<MfaDeps, 'totpIssuer'>, secret: Secret, label: string): TOTP =>
  new TOTP({ issuer: deps.totpIssuer, label, secret, algorithm: 'SHA1', digits: TOTP_DIGITS, period: TOTP_PERIOD })

/** 16 characters of base32 (RFC 4648 alphabet, lower case: 80 bits) in four groups: xxxx-xxxx-xxxx-xxxx. */
const ALPHABET = 'abcdefghijklmnopqrstuvwxyz234567'
function newRecoveryCode (): string {
  const bytes = randomBytes(16)
  const chars = [...bytes].map(b => ALPHABET[b & 31]!).join('')
  return chars.match(/.{4}/g)!.join('-')
}

/** Case, spaces and dashes do not matter; the hash is of what is left. */
export function hashRecoveryCode (code: string): string {
  return createHash('sha256').update(`idm-recovery-v1|${code.toLowerCase().replace(/[\s-]/g, '').slice(0, 64)}`).digest('hex')
}

export interface FactorView {
  readonly kind: 'totp' | 'recovery_codes'
  readonly name: string
  readonly status: 'pending' | 'active'
  readonly addedAt: string
  readonly lastUsedAt: string | null
  /** Recovery codes: how many are left. */
  readonly remaining?: number
}

/** What the user page shows of the factors: kind, name, when added and last used; never a secret. */
export async function listFactors (deps: Pick<Commands, 'store' | 'load'>, userId: string): Promise<FactorView[]> {
  const state = await loadFactors(deps, userId)
  let totpAdded: string | null = null
  let totpUsed: string | null = null
  let codesAdded: string | null = null
  let codesUsed: string | null = null
  for (const event of await deps.store.readStream(streams.mfa(userId))) {
    const at = String(event.metadata.occurredAt ?? event.recordedAt)
    if (event.type === 'TotpEnrolmentStarted') { totpAdded = at; totpUsed = null }
    if (event.type === 'TotpUsed' || event.type === 'TotpEnrolled') totpUsed = at
    if (event.type === 'RecoveryCodesGenerated') { codesAdded = at; codesUsed = null }
    if (event.type === 'RecoveryCodeUsed') codesUsed = at
  }
  const factors: FactorView[] = []
  if (state.totp !== null && totpAdded !== null) {
    factors.push({ kind: 'totp', name: 'Authenticator app', status: state.totp.status, addedAt: totpAdded, lastUsedAt: totpUsed })
  }
  const remaining = state.recoveryCodes.filter(c => c !== null).length
  if (state.recoveryCodes.length > 0 && codesAdded !== null) {
    factors.push({ kind: 'recovery_codes', name: 'Recovery codes', status: 'active', addedAt: codesAdded, lastUsedAt: codesUsed, remaining })
  }
  return factors
}
