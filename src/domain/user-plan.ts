/**
 * What a user command must do, as data. `planUserCommand(command, state)` asks the user decider
 * for the events, and derives from the state before and after them everything that spans other
 * streams: the unique values to reserve and to release, the admin seat to release or claim, and
 * whether a lockout ends. `stepsOf(plan)` puts those in the one fixed order the executor
 * (src/commands/executor.ts) carries out, and `undoOf(step)` says how each step before the
 * append is compensated, in reverse, when a later one fails. Pure: the ordering rules that matter
 * are tested here (test/domain/user-plan.test.ts), without a store.
 *
 * The order, and why:
 *   1. reserve   the unique values the user is about to hold (a taken one refuses the command
 *                before anything is written; undone: released);
 *   2. seat      release the admin seat BEFORE the user stops being an active admin: this is
 *                where LAST_ADMIN is decided, so the last admin is refused before its change is
 *                stored (undone: claimed again if the user is still an active admin);
 *   3. append    the user's events, at the revision the plan was decided on;
 *   4. seat      claim a seat AFTER the user has become an active admin;
 *   5. release   the values the user no longer holds (a refused release is owed, never an error);
 *   6. unlock    activation also ends a lockout: an administrator's word that the account may
 *                sign in again.
 * Steps 4–6 are not undone: the events are stored by then. A crash between two steps leaves an
 * admin without a seat (the guard is stricter, never weaker) or a reservation without a user
 * (taken over after a while, src/commands/reservations.ts).
 */
import { authorizeUserCommand, GLOBAL_AUTHORITY, type Authority } from './company-scope.js'
import type { UserEvent } from './events.js'
import { emailKey, identificationKey } from './identity-values.js'
import type { ReservationKind } from './reservation.js'
import { isActiveAdmin, userDecider, type UserCommand, type UserState } from './user.js'

/** A unique value: the reservation stream's kind and comparison key. */
export interface Claim {
  readonly kind: ReservationKind
  readonly value: string
}

export interface UserPlan {
  readonly userId: string
  readonly events: readonly UserEvent[]
  /** The user after the events. */
  readonly state: UserState
  readonly reserve: readonly Claim[]
  readonly release: readonly Claim[]
  /** 'release' before the append, 'claim' after it; null: admin rights do not change. */
  readonly seat: 'release' | 'claim' | null
  readonly unlock: boolean
}

export type Step =
  | { readonly type: 'reserve', readonly claims: readonly Claim[] }
  | { readonly type: 'releaseSeat' }
  | { readonly type: 'append', readonly events: readonly UserEvent[] }
  | { readonly type: 'claimSeat' }
  | { readonly type: 'release', readonly claims: readonly Claim[] }
  | { readonly type: 'unlock' }

export type Undo =
  | { readonly type: 'release', readonly claims: readonly Claim[] }
  /** Claim the seat again, if the user (read again) is still an active admin. */
  | { readonly type: 'reclaimSeat' }

/** The unique values a user holds: username, email, identification. */
export function claimsOf (state: UserState): Claim[] {
  if (state.status === 'none') return []
  return [
    { kind: 'username', value: state.username },
    { kind: 'email', value: emailKey(state.email) },
    { kind: 'identification', value: identificationKey(state.identificationType, state.identificationNumber) }
  ]
}

const missingFrom = (claims: readonly Claim[], others: readonly Claim[]): Claim[] =>
  claims.filter(c => !others.some(o => o.kind === c.kind && o.value === c.value))

/**
 * Decides the command (a broken rule throws its DomainError here, before any step) and plans it.
 * Whether `authority` may run it on this user at all is checked first (company-scope.ts).
 */
export function planUserCommand (command: UserCommand, before: UserState, authority: Authority = GLOBAL_AUTHORITY): UserPlan {
  authorizeUserCommand(authority, command, before)
  const events = userDecider.decide(command, before)
  const state = events.reduce(userDecider.evolve, before)
  const held = claimsOf(before)
  const holds = claimsOf(state)
  const wasAdmin = isActiveAdmin(before)
  const isAdmin = isActiveAdmin(state)
  return {
    userId: command.data.userId,
    events,
    state,
    reserve: missingFrom(holds, held),
    release: missingFrom(held, holds),
    seat: wasAdmin && !isAdmin ? 'release' : !wasAdmin && isAdmin ? 'claim' : null,
    unlock: command.type === 'ChangeStatus' && command.data.status === 'active'
  }
}

/** The plan's steps in the order they run; steps with nothing to do are left out. */
export function stepsOf (plan: UserPlan): Step[] {
  const steps: Step[] = []
  if (plan.reserve.length > 0) steps.push({ type: 'reserve', claims: plan.reserve })
  if (plan.seat === 'release') steps.push({ type: 'releaseSeat' })
  if (plan.events.length > 0) steps.push({ type: 'append', events: plan.events })
  if (plan.seat === 'claim') steps.push({ type: 'claimSeat' })
  if (plan.release.length > 0) steps.push({ type: 'release', claims: plan.release })
  if (plan.unlock) steps.push({ type: 'unlock' })
  return steps
}

/** How a step is compensated when a later step up to the append fails; null: nothing to undo. */
export function undoOf (step: Step): Undo | null {
  switch (step.type) {
    case 'reserve': return { type: 'release', claims: step.claims }
    case 'releaseSeat': return { type: 'reclaimSeat' }
    case 'append':
    case 'claimSeat':
    case 'release':
    case 'unlock':
      return null
    default: {
      const unknown: never = step
      throw new TypeError(`unknown step ${JSON.stringify(unknown)}`)
    }
  }
}

/** What runs when step `failed` (an index into `steps`) fails: the earlier steps' undos, last first. */
export function compensationOf (steps: readonly Step[], failed: number): Undo[] {
  const appended = steps.findIndex(s => s.type === 'append')
  if (appended !== -1 && failed > appended) return []
  return steps.slice(0, failed).map(undoOf).filter((u): u is Undo => u !== null).reverse()
}
