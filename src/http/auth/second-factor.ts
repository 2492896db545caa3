/**
 * When a second factor is due, for the routes (the policy is configuration; the factors are the
 * mfa-<userId> stream's):
 *
 * - Enrolment: a user holding a role in IDM_MFA_REQUIRED_ROLES (default identity-admin), or a
 *   role the catalog marks `mfaRequired`, whose token does not show a second factor (its `amr`)
 *   may only call the routes declared `config.auth.enrolment: true` (read itself, enrol a
 *   factor, sign out): `mustEnrol`. The roles are the read model's current ones, so a role
 *   assigned after sign-in restricts the token at once.
 * - Step-up (RFC 9470): assigning identity-admin, resetting another user's password or factors
 *   and rotating a client secret need a factor proved within the last IDM_STEP_UP_SECONDS
 *   (`auth_time`); otherwise 401 with `error="insufficient_user_authentication"` and `max_age`,
 *   and POST /v1/authentication/step-up gives a fresh token. 0 turns step-up off.
 */
import { HttpProblem } from '../plugins/problems.js'
import type { Principal } from './verification.js'

/** RFC 8176 values that prove a second factor: one-time password, hardware/software key. */
export const SECOND_FACTOR_AMR: ReadonlySet<string> = new Set(['otp', 'hwk', 'swk'])

export const showsSecondFactor = (amr: readonly string[]): boolean => amr.some(a => SECOND_FACTOR_AMR.has(a))

export interface SecondFactorPolicy {
  /** Roles whose holders must have a second factor (configuration). */
  readonly requiredRoles: readonly string[]
  /** Roles the catalog marks mfaRequired, looked up at request time; absent: none. */
  readonly catalogRequires?: (roleId: string) => boolean
  /** How recent a factor a step-up operation needs, in seconds; 0: no step-up. */
  readonly stepUpSeconds: number
}

/** Whether holding `roles` means a second factor is required. */
export const requiresSecondFactor = (policy: SecondFactorPolicy, roles: readonly string[]): boolean =>
  roles.some(role => policy.requiredRoles.includes(role) || (policy.catalogRequires?.(role) ?? false))

/** A user whose roles need a second factor, signed in without one: may only enrol one. */
export const mustEnrol = (policy: SecondFactorPolicy, principal: Principal): boolean =>
  principal.kind === 'user' && !showsSecondFactor(principal.amr) && requiresSecondFactor(policy, principal.roles)

export const enrolmentRequired = (): HttpProblem => new HttpProblem({
  status: 403,
  slug: 'mfa-enrolment-required',
  title: 'Second factor required',
  detail: 'Your role requires a second factor: enrol one (POST /v1/users/{id}/mfa/totp), then sign in again with it.'
})

/** Throws the RFC 9470 challenge unless the principal proved a factor within the window. */
export function requireRecentSecondFactor (policy: SecondFactorPolicy, principal: Principal, nowMs: number): void {
  if (policy.stepUpSeconds === 0) return
  const recent = showsSecondFactor(principal.amr) && principal.authTime !== null &&
    nowMs / 1000 - principal.authTime <= policy.stepUpSeconds
  if (recent) return
  throw new HttpProblem({
    status: 401,
    slug: 'step-up-required',
    title: 'Recent second factor required',
    detail: `This operation needs a second factor proved within the last ${policy.stepUpSeconds} seconds: POST /v1/authentication/step-up, then retry with the new token.`,
    headers: {
      'www-authenticate': `Bearer error="insufficient_user_authentication", error_description="A recent second factor is required", max_age=${policy.stepUpSeconds}`
    }
  })
}
