/**
 * A user as it was at an instant, folded from the event log with the domain's own `evolve`
 * (not from the read model, which only knows the present).
 *
 * "As it was at T" is the longest prefix of the user stream whose events occurred at or before
 * T (a clock that stepped back cannot make a later event count while an earlier one does not),
 * so `version` is the revision of the last event in that prefix, as an ETag would have been then.
 * The status is `locked` when the last authentication event at or before T carried a lockout
 * window that was still open at T (each authentication event carries the folded lockout state).
 * An instant after `now` is read as `now`: the future gives exactly the current view, not a
 * guess that a lock will have run out by then.
 */
import type { UserEvent } from '../domain/events.js'
import { streams } from '../domain/events.js'
import { userDecider, type UserState } from '../domain/user.js'
import type { EventStore, RecordedEvent } from '../eventstore/port.js'
import type { UserView } from '../projections/user-queries.js'
import { occurredAtOf } from './history.js'

/** Events read per step when looking back through a long authentication stream. */
const AUTH_PAGE = 100

/** Milliseconds since the epoch of an RFC 3339 instant; NaN when it does not parse. */
export const instantMs = (value: string): number => Date.parse(value)

export async function userAsOf (store: EventStore, userId: string, asOf: string, now: string): Promise<UserView | null> {
  const at = Math.min(instantMs(asOf), instantMs(now))
  if (Number.isNaN(at)) throw new RangeError(`not an instant: ${asOf} (now ${now})`)
  const recorded = await store.readStream(streams.user(userId))
  const prefix: RecordedEvent[] = []
  for (const event of recorded) {
    if (instantMs(occurredAtOf(event)) > at) break
    prefix.push(event)
  }
  const first = prefix[0]
  const last = prefix[prefix.length - 1]
  if (first === undefined || last === undefined) return null
  let state: UserState = userDecider.initialState()
  for (const event of prefix) state = userDecider.evolve(state, { type: event.type, data: event.data } as UserEvent)
  if (state.status === 'none') return null

  const lockedUntil = state.status === 'active' ? await lockedUntilAt(store, userId, at) : null
  const byText = (a: string, b: string): number => (a < b ? -1 : a > b ? 1 : 0)
  return {
    id: state.userId,
    username: state.username,
    email: state.email,
    firstName: state.firstName,
    lastName: state.lastName,
    identificationType: state.identificationType,
    identificationNumber: state.identificationNumber,
    phone: state.phone ?? null,
    status: lockedUntil !== null && instantMs(lockedUntil) > at ? 'locked' : state.status,
    // The read model's order, so that an instant in the future gives exactly the current view.
    roles: [...state.roles].sort(byText),
    companies: [...state.companies].sort(byText),
    companyRoles: state.companyRoles.map(r => ({ companyId: r.companyId, roleId: r.roleId })),
    providers: [...state.providers].sort((a, b) => byText(a.providerId, b.providerId))
      .map(({ providerId, externalUserId }) => ({ providerId, externalUserId })),
    createdAt: occurredAtOf(first),
    updatedAt: occurredAtOf(last),
    version: last.revision
  }
}

/** The lockout window recorded by the last authentication event at or before `at`, if any. */
async function lockedUntilAt (store: EventStore, userId: string, at: number): Promise<string | null> {
  const stream = streams.auth(userId)
  let from: number | undefined
  for (;;) {
    const page = await store.readStream(stream, { direction: 'backwards', maxCount: AUTH_PAGE, ...(from === undefined ? {} : { from }) })
    for (const event of page) {
      if (instantMs(occurredAtOf(event)) <= at) {
        const until = event.data.lockedUntil
        return typeof until === 'string' ? until : null
      }
    }
    const oldest = page[page.length - 1]
    if (oldest === undefined || oldest.revision === 0 || page.length < AUTH_PAGE) return null
    from = oldest.revision - 1
  }
}
