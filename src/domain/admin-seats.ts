/**
 * The set of active identity-admins, one stream (identity-admins), guarding "there is always at
 * least one active identity-admin". That rule spans users, and a user stream only sees itself, so
 * the set lives in a stream of its own whose expected revision serializes every change to it.
 *
 * The use case keeps the seats a SUBSET of the real active admins, even across crashes:
 * - it RELEASES a user's seat BEFORE deactivating the user or revoking its admin role. If the
 *   release is refused (LAST_ADMIN), nothing else is written. If the process dies between the
 *   release and the user change, the user is an admin without a seat: still a subset.
 * - it CLAIMS a seat AFTER a user has become an active admin (registered with the role, assigned
 *   it, or reactivated). Dying between the two again leaves an admin without a seat.
 * Since the last seat can never be released and every seat belongs to a real active admin,
 * active admins ≥ seats ≥ 1 once the first admin has claimed its seat. A crash can only make the
 * guard stricter than necessary (an admin without a seat is not counted); claiming again for
 * every active admin heals that, and claims are idempotent.
 */
import type { Decider } from './decider.js'
import { DomainError } from './errors.js'
import type { AdminSeatEvent } from './events.js'

export interface AdminSeatsState { seats: string[] }

export type AdminSeatsCommand =
  | { type: 'ClaimSeat', data: { userId: string } }
  | { type: 'ReleaseSeat', data: { userId: string } }

const decide = (command: AdminSeatsCommand, state: AdminSeatsState): AdminSeatEvent[] => {
  const { userId } = command.data
  const held = state.seats.includes(userId)
  switch (command.type) {
    case 'ClaimSeat':
      return held ? [] : [{ type: 'AdminSeatClaimed', data: { userId } }]
    case 'ReleaseSeat':
      if (!held) return []
      if (state.seats.length === 1) {
        throw new DomainError('LAST_ADMIN', 'The last active identity-admin cannot lose the role or be deactivated', { userId })
      }
      return [{ type: 'AdminSeatReleased', data: { userId } }]
    default: {
      const unknown: never = command
      throw new TypeError(`unknown admin seats command ${JSON.stringify(unknown)}`)
    }
  }
}

const evolve = (state: AdminSeatsState, event: AdminSeatEvent): AdminSeatsState => {
  switch (event.type) {
    case 'AdminSeatClaimed':
      return state.seats.includes(event.data.userId) ? state : { seats: [...state.seats, event.data.userId].sort() }
    case 'AdminSeatReleased':
      return { seats: state.seats.filter(id => id !== event.data.userId) }
    default: {
      const unknown: never = event
      return unknown
    }
  }
}

export const adminSeatsDecider: Decider<AdminSeatsCommand, AdminSeatsState, AdminSeatEvent> = {
  initialState: () => ({ seats: [] }),
  evolve,
  decide
}
