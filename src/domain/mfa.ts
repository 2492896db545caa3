/**
 * The second factors of one user, stream mfa-<userId>: a TOTP authenticator (RFC 6238) and the
 * recovery codes that stand in for it. Every use of a factor is decided here, so two requests
 * racing with the same code cannot both pass: the append of the second one conflicts, the
 * handler decides again on the state the first one left, and that state has used the code up.
 *
 * - TOTP: enrolment starts with a sealed secret (the use case generates and seals it; the domain
 *   never sees the secret) and is confirmed by a first valid code. A code is accepted once: the
 *   last time step used is part of the state, and only a later step passes (RFC 6238 §5.2).
 * - Recovery codes: hashes only; each index is used once; a new set replaces the old one.
 * - A sign-in attempt (the mfa_token's challenge) completes once: the challenges completed and
 *   not yet expired are kept, and a second completion with the same one is refused.
 * The use case verifies the code against the secret (or hashes the recovery code) and hands the
 * decider what it proved: the time step, or the index of the recovery code.
 */
import type { Decider } from './decider.js'
import { DomainError } from './errors.js'
import type { MfaEvent } from './events.js'

export type SecondFactorMethod = 'totp' | 'recovery'

export interface TotpFactor {
  readonly status: 'pending' | 'active'
  readonly sealedSecret: string
  /** The last time step a code was accepted for; null before the first. */
  readonly lastUsedStep: number | null
}

export interface CompletedChallenge { readonly id: string, readonly expiresAt: string }

export interface MfaState {
  readonly userId: string | null
  readonly totp: TotpFactor | null
  /** Hash of each recovery code, or null once it has been used. */
  readonly recoveryCodes: readonly (string | null)[]
  readonly completed: readonly CompletedChallenge[]
}

/** What the use case proved about the code it was given. */
export type FactorProof =
  | { readonly method: 'totp', readonly timeStep: number }
  | { readonly method: 'recovery', readonly index: number }

export type MfaCommand =
  | { type: 'StartTotpEnrolment', data: { userId: string, sealedSecret: string } }
  | { type: 'ConfirmTotp', data: { userId: string, timeStep: number } }
  | { type: 'RemoveTotp', data: { userId: string } }
  | { type: 'GenerateRecoveryCodes', data: { userId: string, codeHashes: readonly string[] } }
  | {
    type: 'UseSecondFactor'
    data: {
      userId: string
      proof: FactorProof
      purpose: 'sign_in' | 'step_up'
      challenge: CompletedChallenge | null
      now: string
    }
  }
  | { type: 'ResetFactors', data: { userId: string } }

/** How long a completed challenge is remembered past the newest one's deadline (longer than any mfa_token lives). */
const CHALLENGE_MEMORY_MS = 3600_000

const initialState = (): MfaState => ({ userId: null, totp: null, recoveryCodes: [], completed: [] })

/** A factor that proves possession: TOTP (passkeys later). Recovery codes only stand in for one. */
export const hasSecondFactor = (state: MfaState): boolean => state.totp?.status === 'active'

/** The methods a sign-in may complete with, in the order a client should offer them. */
export function methodsOf (state: MfaState): SecondFactorMethod[] {
  if (!hasSecondFactor(state)) return []
  return state.recoveryCodes.some(code => code !== null) ? ['totp', 'recovery'] : ['totp']
}

const refused = (why: string): DomainError => new DomainError('SECOND_FACTOR_REFUSED', 'the second factor was not accepted', { why })

function decideUse (data: Extract<MfaCommand, { type: 'UseSecondFactor' }>['data'], state: MfaState): MfaEvent[] {
  const { userId, proof, purpose, challenge, now } = data
  if (!hasSecondFactor(state)) throw refused('no factor')
  if (challenge !== null) {
    if (Date.parse(challenge.expiresAt) <= Date.parse(now)) throw refused('challenge expired')
    if (state.completed.some(c => c.id === challenge.id)) throw refused('challenge already completed')
  }
  const completion = challenge === null ? null : { id: challenge.id, expiresAt: challenge.expiresAt }
  switch (proof.method) {
    case 'totp': {
      const last = state.totp?.lastUsedStep ?? null
      if (last !== null && proof.timeStep <= last) throw refused('code replayed')
      return [{ type: 'TotpUsed', data: { userId, timeStep: proof.timeStep, purpose, challenge: completion } }]
    }
    case 'recovery': {
      if (typeof state.recoveryCodes[proof.index] !== 'string') throw refused('recovery code used')
      return [{ type: 'RecoveryCodeUsed', data: { userId, index: proof.index, purpose, challenge: completion } }]
    }
    default: {
      const unknown: never = proof
      throw new TypeError(`unknown proof ${JSON.stringify(unknown)}`)
    }
  }
}

function decide (command: MfaCommand, state: MfaState): MfaEvent[] {
  const { userId } = command.data
  switch (command.type) {
    case 'StartTotpEnrolment':
      if (state.totp?.status === 'active') throw new DomainError('MFA_FACTOR_EXISTS', 'A TOTP authenticator is already enrolled; remove it first', { kind: 'totp' })
      return [{ type: 'TotpEnrolmentStarted', data: { userId, sealedSecret: command.data.sealedSecret } }]
    case 'ConfirmTotp':
      if (state.totp?.status !== 'pending') throw new DomainError('MFA_NOT_ENROLLING', 'No TOTP enrolment is waiting for its first code', { kind: 'totp' })
      return [{ type: 'TotpEnrolled', data: { userId, timeStep: command.data.timeStep } }]
    case 'RemoveTotp':
      if (state.totp === null) throw new DomainError('MFA_NOT_ENROLLED', 'No TOTP authenticator is enrolled', { kind: 'totp' })
      return [{ type: 'TotpRemoved', data: { userId } }]
    case 'GenerateRecoveryCodes':
      if (!hasSecondFactor(state)) throw new DomainError('MFA_NOT_ENROLLED', 'Recovery codes stand in for a factor: enrol one first', { kind: 'recovery' })
      return [{ type: 'RecoveryCodesGenerated', data: { userId, codeHashes: [...command.data.codeHashes] } }]
    case 'UseSecondFactor':
      return decideUse(command.data, state)
    case 'ResetFactors':
      return state.totp === null && state.recoveryCodes.length === 0 ? [] : [{ type: 'MfaFactorsReset', data: { userId } }]
    default: {
      const unknown: never = command
      throw new TypeError(`unknown mfa command ${JSON.stringify(unknown)}`)
    }
  }
}

const remember = (completed: readonly CompletedChallenge[], challenge: CompletedChallenge | null): readonly CompletedChallenge[] => {
  if (challenge === null) return completed
  const horizon = Date.parse(challenge.expiresAt) - CHALLENGE_MEMORY_MS
  return [...completed.filter(c => Date.parse(c.expiresAt) > horizon), challenge]
}

function evolve (state: MfaState, event: MfaEvent): MfaState {
  const userId = event.data.userId
  switch (event.type) {
    case 'TotpEnrolmentStarted':
      return { ...state, userId, totp: { status: 'pending', sealedSecret: event.data.sealedSecret, lastUsedStep: null } }
    case 'TotpEnrolled':
      return state.totp === null ? state : { ...state, userId, totp: { ...state.totp, status: 'active', lastUsedStep: event.data.timeStep } }
    case 'TotpRemoved':
      // Recovery codes stand in for a factor: without one they would be a password of their own.
      return { ...state, userId, totp: null, recoveryCodes: [] }
    case 'TotpUsed':
      return {
        ...state,
        userId,
        totp: state.totp === null ? null : { ...state.totp, lastUsedStep: event.data.timeStep },
        completed: remember(state.completed, event.data.challenge)
      }
    case 'RecoveryCodesGenerated':
      return { ...state, userId, recoveryCodes: [...event.data.codeHashes] }
    case 'RecoveryCodeUsed':
      return {
        ...state,
        userId,
        recoveryCodes: state.recoveryCodes.map((code, i) => i === event.data.index ? null : code),
        completed: remember(state.completed, event.data.challenge)
      }
    case 'MfaFactorsReset':
      return { ...state, userId, totp: null, recoveryCodes: [] }
    default: {
      const unknown: never = event
      return unknown
    }
  }
}

export const mfaDecider: Decider<MfaCommand, MfaState, MfaEvent> = { initialState, evolve, decide }
