import t from 'tap'
import type { MfaEvent } from '../../src/domain/events.js'
import { methodsOf, mfaDecider, type MfaCommand } from '../../src/domain/mfa.js'
import { specification, ALICE } from './given-when-then.js'

const mfa = specification(mfaDecider)

const NOW = '2031-03-04T05:06:00.000Z'
const SEALED = 'v1.k1.AAAAAAAAAAAAAAAA.AAAA.AAAAAAAAAAAAAAAAAAAAAA'
const CHALLENGE = { id: '0190a6d2-7c1e-7b3a-9f00-000000000001', expiresAt: '2031-03-04T05:11:00.000Z' }
const HASHES = Array.from({ length: 10 }, (_, i) => String(i).repeat(64))

const started: MfaEvent = { type: 'TotpEnrolmentStarted', data: { userId: ALICE, sealedSecret: SEALED } }
const enrolled: MfaEvent = { type: 'TotpEnrolled', data: { userId: ALICE, timeStep: 100 } }
const codes: MfaEvent = { type: 'RecoveryCodesGenerated', data: { userId: ALICE, codeHashes: HASHES } }
const active = [started, enrolled, codes]

const useTotp = (timeStep: number, challenge: typeof CHALLENGE | null = CHALLENGE, now = NOW): MfaCommand =>
  ({ type: 'UseSecondFactor', data: { userId: ALICE, proof: { method: 'totp', timeStep }, purpose: challenge === null ? 'step_up' : 'sign_in', challenge, now } })
const useRecovery = (index: number, challenge = CHALLENGE): MfaCommand =>
  ({ type: 'UseSecondFactor', data: { userId: ALICE, proof: { method: 'recovery', index }, purpose: 'sign_in', challenge, now: NOW } })

t.test('enrolment: started with a sealed secret, confirmed by a first code; an active one is not replaced', async t => {
  mfa(t).given([]).when({ type: 'StartTotpEnrolment', data: { userId: ALICE, sealedSecret: SEALED } }).then([started])
  mfa(t).given([started]).when({ type: 'StartTotpEnrolment', data: { userId: ALICE, sealedSecret: SEALED } }).then([started])
  mfa(t).given([started]).when({ type: 'ConfirmTotp', data: { userId: ALICE, timeStep: 100 } }).then([enrolled])
  mfa(t).given([]).when({ type: 'ConfirmTotp', data: { userId: ALICE, timeStep: 100 } }).thenThrows('MFA_NOT_ENROLLING')
  mfa(t).given([started, enrolled]).when({ type: 'ConfirmTotp', data: { userId: ALICE, timeStep: 101 } }).thenThrows('MFA_NOT_ENROLLING')
  mfa(t).given([started, enrolled]).when({ type: 'StartTotpEnrolment', data: { userId: ALICE, sealedSecret: SEALED } }).thenThrows('MFA_FACTOR_EXISTS')
})

t.test('a pending enrolment is no factor; recovery codes need one', async t => {
  const { fold } = await import('../../src/domain/decider.js')
  t.same(methodsOf(fold(mfaDecider, [started])), [])
  t.same(methodsOf(fold(mfaDecider, [started, enrolled])), ['totp'])
  t.same(methodsOf(fold(mfaDecider, active)), ['totp', 'recovery'])
  mfa(t).given([started]).when({ type: 'GenerateRecoveryCodes', data: { userId: ALICE, codeHashes: HASHES } }).thenThrows('MFA_NOT_ENROLLED')
  mfa(t).given([started]).when(useTotp(101)).thenThrows('SECOND_FACTOR_REFUSED', { why: 'no factor' })
})

t.test('a TOTP code is accepted once: only a later time step passes', async t => {
  mfa(t).given(active).when(useTotp(101)).then([{ type: 'TotpUsed', data: { userId: ALICE, timeStep: 101, purpose: 'sign_in', challenge: CHALLENGE } }])
  mfa(t).given(active).when(useTotp(100)).thenThrows('SECOND_FACTOR_REFUSED', { why: 'code replayed' })
  mfa(t).given(active).when(useTotp(99, null)).thenThrows('SECOND_FACTOR_REFUSED', { why: 'code replayed' })
  const used: MfaEvent = { type: 'TotpUsed', data: { userId: ALICE, timeStep: 105, purpose: 'step_up', challenge: null } }
  mfa(t).given([...active, used]).when(useTotp(104, null)).thenThrows('SECOND_FACTOR_REFUSED', { why: 'code replayed' })
  mfa(t).given([...active, used]).when(useTotp(106, null)).then([{ type: 'TotpUsed', data: { userId: ALICE, timeStep: 106, purpose: 'step_up', challenge: null } }])
})

t.test('a challenge completes one sign-in, and not after it expired', async t => {
  const completed: MfaEvent = { type: 'TotpUsed', data: { userId: ALICE, timeStep: 101, purpose: 'sign_in', challenge: CHALLENGE } }
  mfa(t).given([...active, completed]).when(useTotp(102)).thenThrows('SECOND_FACTOR_REFUSED', { why: 'challenge already completed' })
  mfa(t).given([...active, completed]).when(useRecovery(0)).thenThrows('SECOND_FACTOR_REFUSED', { why: 'challenge already completed' })
  mfa(t).given(active).when(useTotp(101, CHALLENGE, CHALLENGE.expiresAt)).thenThrows('SECOND_FACTOR_REFUSED', { why: 'challenge expired' })
})

t.test('completed challenges are forgotten an hour past the newest one, so the state does not grow', async t => {
  const { fold } = await import('../../src/domain/decider.js')
  const uses: MfaEvent[] = Array.from({ length: 50 }, (_, i) => ({
    type: 'TotpUsed',
    data: { userId: ALICE, timeStep: 200 + i, purpose: 'sign_in', challenge: { id: `0190a6d2-7c1e-7b3a-9f00-${String(i).padStart(12, '0')}`, expiresAt: new Date(Date.parse(NOW) + i * 600_000).toISOString() } }
  }))
  t.ok(fold(mfaDecider, [...active, ...uses]).completed.length <= 7, 'only the last hour of challenges is kept')
})

t.test('recovery codes: each index once; a new set replaces the old; removing TOTP drops them', async t => {
  const state = mfa(t).given(active).when(useRecovery(3)).then([{ type: 'RecoveryCodeUsed', data: { userId: ALICE, index: 3, purpose: 'sign_in', challenge: CHALLENGE } }])
  t.equal(state.recoveryCodes.filter(c => c !== null).length, 9)
  const used: MfaEvent = { type: 'RecoveryCodeUsed', data: { userId: ALICE, index: 3, purpose: 'sign_in', challenge: CHALLENGE } }
  mfa(t).given([...active, used]).when(useRecovery(3, { ...CHALLENGE, id: '0190a6d2-7c1e-7b3a-9f00-000000000002' })).thenThrows('SECOND_FACTOR_REFUSED', { why: 'recovery code used' })
  const fresh = mfa(t).given([...active, used]).when({ type: 'GenerateRecoveryCodes', data: { userId: ALICE, codeHashes: HASHES } })
    .then([{ type: 'RecoveryCodesGenerated', data: { userId: ALICE, codeHashes: HASHES } }])
  t.equal(fresh.recoveryCodes.filter(c => c !== null).length, 10)
  const removed = mfa(t).given(active).when({ type: 'RemoveTotp', data: { userId: ALICE } }).then([{ type: 'TotpRemoved', data: { userId: ALICE } }])
  t.same(removed.recoveryCodes, [])
  t.same(methodsOf(removed), [])
  mfa(t).given([]).when({ type: 'RemoveTotp', data: { userId: ALICE } }).thenThrows('MFA_NOT_ENROLLED')
})

t.test('an admin reset removes every factor; nothing to reset is a no-op', async t => {
  const state = mfa(t).given(active).when({ type: 'ResetFactors', data: { userId: ALICE } }).then([{ type: 'MfaFactorsReset', data: { userId: ALICE } }])
  t.equal(state.totp, null)
  t.same(state.recoveryCodes, [])
  mfa(t).given([]).when({ type: 'ResetFactors', data: { userId: ALICE } }).thenNothing()
})
