/**
 * Uniqueness across users (username, email, identification) without a shared index: each value
 * owns a stream, reservation-<kind>-<key>, whose state is who holds it. Two concurrent
 * registrations of one value race on that stream's expected revision, so exactly one wins on
 * either event store adapter. The value is the comparison key (normalizeUsername, emailKey,
 * identificationKey), never the raw input.
 */
import type { Decider } from './decider.js'
import { DomainError } from './errors.js'
import type { ReservationEvent } from './events.js'

export type ReservationKind = 'username' | 'email' | 'identification'
export interface ReservationState { holder: string | null }

export type ReservationCommand =
  | { type: 'Reserve', data: { kind: ReservationKind, value: string, userId: string } }
  | { type: 'Release', data: { kind: ReservationKind, value: string, userId: string } }

const decide = (command: ReservationCommand, state: ReservationState): ReservationEvent[] => {
  const { kind, value, userId } = command.data
  switch (command.type) {
    case 'Reserve':
      // Idempotent, so a registration retried after a crash finds its own reservation.
      if (state.holder === userId) return []
      if (state.holder !== null) throw new DomainError('VALUE_TAKEN', `That ${kind} is already in use`, { kind })
      return [{ type: 'ValueReserved', data: { kind, value, userId } }]
    case 'Release':
      // Only the holder frees a value: a stale release must never free someone else's.
      return state.holder === userId ? [{ type: 'ValueReleased', data: { kind, value, userId } }] : []
    default: {
      const unknown: never = command
      throw new TypeError(`unknown reservation command ${JSON.stringify(unknown)}`)
    }
  }
}

const evolve = (state: ReservationState, event: ReservationEvent): ReservationState => {
  switch (event.type) {
    case 'ValueReserved': return { holder: event.data.userId }
    case 'ValueReleased': return { holder: null }
    default: {
      const unknown: never = event
      return unknown
    }
  }
}

export const reservationDecider: Decider<ReservationCommand, ReservationState, ReservationEvent> = {
  initialState: () => ({ holder: null }),
  evolve,
  decide,
  lastEventHoldsState: true
}
