/**
 * The sessions of one user, stream sessions-<userId>. A session is one sign-in: one direct API
 * sign-in (POST /v1/authentication) or one browser session of the sign-in page, shared by every
 * client it signs in to. Keeping all of a user's sessions in one stream makes "end every session
 * of this user" (deactivation, password change or reset) one decision and one append.
 *
 * Only live sessions stay in the state: an ended one is dropped, and the next sign-in ends (with
 * an event, reason `expired`) every one that expired meanwhile, so the state does not grow with
 * the user's history. Deadlines are ISO instants decided by the caller's policy; `now`
 * arrives with each command.
 */
import type { Decider } from './decider.js'
import { DomainError } from './errors.js'
import type { SessionEndReason, SessionEvent } from './events.js'

export interface LiveSession {
  readonly sessionId: string
  readonly clientId: string
  readonly credentialVersion: number
  readonly idleExpiresAt: string
  readonly expiresAt: string
}

export interface SessionsState {
  readonly userId: string | null
  readonly live: ReadonlyMap<string, LiveSession>
}

export interface SessionLifetimes {
  /** A session nobody refreshes ends after this many seconds. */
  readonly idleSeconds: number
  /** No session lives longer than this, refreshed or not. */
  readonly absoluteSeconds: number
}

export type SessionCommand =
  | {
    type: 'StartSession'
    data: {
      sessionId: string, userId: string, clientId: string, amr: readonly string[]
      clientAddress: string | null, userAgent: string | null, credentialVersion: number
      now: string, lifetimes: SessionLifetimes
    }
  }
  | { type: 'RefreshSession', data: { sessionId: string, userId: string, now: string, lifetimes: SessionLifetimes } }
  | { type: 'EndSession', data: { sessionId: string, userId: string, reason: SessionEndReason, now: string } }
  | { type: 'EndAllSessions', data: { userId: string, reason: SessionEndReason, now: string } }

const ms = (iso: string): number => Date.parse(iso)
const at = (epochMs: number): string => new Date(epochMs).toISOString()

/** Live at `now`: neither deadline has passed. */
export const isLive = (session: LiveSession, now: string): boolean =>
  ms(session.idleExpiresAt) > ms(now) && ms(session.expiresAt) > ms(now)

const initialState = (): SessionsState => ({ userId: null, live: new Map() })

function decide (command: SessionCommand, state: SessionsState): SessionEvent[] {
  switch (command.type) {
    case 'StartSession': {
      const { now, lifetimes, amr, ...rest } = command.data
      if (state.live.has(rest.sessionId)) return [] // a retried start
      const start = ms(now)
      const expiresAt = at(start + lifetimes.absoluteSeconds * 1000)
      const idleExpiresAt = at(Math.min(start + lifetimes.idleSeconds * 1000, ms(expiresAt)))
      // Sessions that expired since the last sign-in are ended first, as events: the state keeps
      // only live sessions (a client that signs in again and again without signing out does
      // not grow it), and the log says when each ended.
      const expired: SessionEvent[] = [...state.live.values()]
        .filter(session => !isLive(session, now))
        .map(session => ({ type: 'SessionRevoked', data: { sessionId: session.sessionId, userId: rest.userId, reason: 'expired' } }))
      return [...expired, { type: 'SessionStarted', data: { ...rest, amr: [...amr], idleExpiresAt, expiresAt } }]
    }
    case 'RefreshSession': {
      const { sessionId, userId, now, lifetimes } = command.data
      const session = state.live.get(sessionId)
      if (session === undefined) throw new DomainError('SESSION_NOT_FOUND', 'no such live session', { sessionId })
      if (!isLive(session, now)) return [{ type: 'SessionRevoked', data: { sessionId, userId, reason: 'expired' } }]
      const idleExpiresAt = at(Math.min(ms(now) + lifetimes.idleSeconds * 1000, ms(session.expiresAt)))
      return [{ type: 'SessionRefreshed', data: { sessionId, userId, idleExpiresAt } }]
    }
    case 'EndSession': {
      const { sessionId, userId, reason } = command.data
      // Ending an ended session is a no-op: sign-out and revocation are idempotent.
      if (!state.live.has(sessionId)) return []
      return [{ type: 'SessionRevoked', data: { sessionId, userId, reason } }]
    }
    case 'EndAllSessions': {
      const { userId, reason } = command.data
      return [...state.live.keys()].map(sessionId => ({ type: 'SessionRevoked', data: { sessionId, userId, reason } }))
    }
    default: {
      const unknown: never = command
      throw new TypeError(`unknown session command ${JSON.stringify(unknown)}`)
    }
  }
}

function evolve (state: SessionsState, event: SessionEvent): SessionsState {
  const live = new Map(state.live)
  switch (event.type) {
    case 'SessionStarted': {
      const { sessionId, clientId, credentialVersion, idleExpiresAt, expiresAt } = event.data
      live.set(sessionId, { sessionId, clientId, credentialVersion, idleExpiresAt, expiresAt })
      return { userId: event.data.userId, live }
    }
    case 'SessionRefreshed': {
      const session = live.get(event.data.sessionId)
      if (session !== undefined) live.set(session.sessionId, { ...session, idleExpiresAt: event.data.idleExpiresAt })
      return { ...state, live }
    }
    case 'SessionRevoked':
      live.delete(event.data.sessionId)
      return { ...state, live }
    default: {
      const unknown: never = event
      return unknown
    }
  }
}

export const sessionDecider: Decider<SessionCommand, SessionsState, SessionEvent> = { initialState, evolve, decide }
