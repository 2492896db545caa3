/**
 * The sessions of one user (src/domain/session.ts), given/when/then.
 */
import t from 'tap'
import { sessionDecider, type SessionCommand } from '../../src/domain/session.js'
import type { SessionEvent } from '../../src/domain/events.js'
import { specification } from './given-when-then.js'

const spec = specification(sessionDecider)
const USER = '0190a6d2-7c1e-7b3a-9f00-000000000001'
const sid = (n: number): string => `0190a6d2-7c1e-7b3a-9f00-${String(n).padStart(12, '0')}`
const lifetimes = { idleSeconds: 3600, absoluteSeconds: 86400 }
const T0 = Date.parse('2026-12-01T00:00:00.000Z')
const iso = (offsetSeconds: number): string => new Date(T0 + offsetSeconds * 1000).toISOString()

const start = (n: number, atSeconds: number): SessionCommand => ({
  type: 'StartSession',
  data: { sessionId: sid(n), userId: USER, clientId: 'idm-api', amr: ['pwd'], clientAddress: null, userAgent: null, credentialVersion: 0, now: iso(atSeconds), lifetimes }
})
const started = (n: number, atSeconds: number): SessionEvent => ({
  type: 'SessionStarted',
  data: { sessionId: sid(n), userId: USER, clientId: 'idm-api', amr: ['pwd'], clientAddress: null, userAgent: null, credentialVersion: 0, idleExpiresAt: iso(atSeconds + 3600), expiresAt: iso(atSeconds + 86400) }
})
const expired = (n: number): SessionEvent => ({ type: 'SessionRevoked', data: { sessionId: sid(n), userId: USER, reason: 'expired' } })

t.test('a sign-in starts a session with its idle and absolute deadlines', async (t) => {
  spec(t).given([]).when(start(1, 0)).then([started(1, 0)])
})

t.test('a retried start of the same session emits nothing', async (t) => {
  spec(t).given([started(1, 0)]).when(start(1, 10)).thenNothing()
})

t.test('given sessions that expired (idle or absolute), the next sign-in ends them first, so the state holds only live ones', async (t) => {
  const refreshedLate = { type: 'SessionRefreshed', data: { sessionId: sid(3), userId: USER, idleExpiresAt: iso(86400) } } as const
  const state = spec(t)
    .given([started(1, 0), started(2, 1000), started(3, 0), refreshedLate])
    // At 5,000 s: session 1 idled out at 3,600 and session 2 at 4,600;
    // Session 3 was refreshed up to its absolute deadline (86,400): live.
    .when(start(4, 5000))
    .then([expired(1), expired(2), started(4, 5000)])
  t.same([...state.live.keys()], [sid(3), sid(4)], 'only the live sessions remain')
})

t.test('a session past its absolute deadline is ended at the next sign-in even if refreshed', async (t) => {
  const refreshed = { type: 'SessionRefreshed', data: { sessionId: sid(1), userId: USER, idleExpiresAt: iso(86400) } } as const
  spec(t).given([started(1, 0), refreshed]).when(start(2, 86400)).then([expired(1), started(2, 86400)])
})

t.test('a client that signs in a thousand times without signing out keeps a bounded state', async (t) => {
  // One sign-in every two hours (idle lifetime one hour): each finds the previous one expired.
  let events: SessionEvent[] = []
  let state = sessionDecider.initialState()
  for (let n = 1; n <= 1000; n++) {
    const emitted = sessionDecider.decide(start(n, n * 7200), state)
    for (const e of emitted) state = sessionDecider.evolve(state, e)
    events = events.concat(emitted)
  }
  t.equal(state.live.size, 1, 'one live session, not a thousand')
  t.equal(events.filter(e => e.type === 'SessionRevoked').length, 999, 'each expired one ended by an event')
})

t.test('ending all sessions revokes every live one; ending an ended one is a no-op', async (t) => {
  spec(t).given([started(1, 0), started(2, 10)])
    .when({ type: 'EndAllSessions', data: { userId: USER, reason: 'password_changed', now: iso(20) } })
    .then([
      { type: 'SessionRevoked', data: { sessionId: sid(1), userId: USER, reason: 'password_changed' } },
      { type: 'SessionRevoked', data: { sessionId: sid(2), userId: USER, reason: 'password_changed' } }
    ])
  spec(t).given([started(1, 0), { type: 'SessionRevoked', data: { sessionId: sid(1), userId: USER, reason: 'sign_out' } }])
    .when({ type: 'EndSession', data: { sessionId: sid(1), userId: USER, reason: 'sign_out', now: iso(20) } })
    .thenNothing()
})
