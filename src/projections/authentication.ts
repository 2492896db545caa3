/**
 * Authentication state on the users row: the lockout window, the credential version that revokes
 * earlier tokens, and the last successful login. Counters are not idempotent on their own; the
 * runner's checkpoint (same transaction) guarantees each event is applied exactly once.
 */
import { CREDENTIAL_EVENTS } from '../domain/credentials.js'
import type { EventOf } from '../domain/events.js'
import { canonicalInstant, dataOf, occurredAt, sql, type Projection } from './projection.js'

const bumpCredentials = (userId: string) => sql('UPDATE users SET credential_version = credential_version + 1 WHERE id = ?', userId)

/**
 * The credential version counts exactly the events the domain counts (src/domain/credentials.ts):
 * a token carries the count its login saw, and a mismatch revokes it. A lockout is not one of
 * them — it is enforced through locked_until while it lasts, and the tokens of a user whose
 * account a stranger locked by guessing work again once it ends.
 */
export const authenticationProjection: Projection = {
  name: 'authentication',
  handles: [...CREDENTIAL_EVENTS, 'UserLockedOut', 'UserUnlocked', 'AuthenticationSucceeded'],
  project (event) {
    if (CREDENTIAL_EVENTS.has(event.type)) return [bumpCredentials(dataOf<{ userId: string }>(event).userId)]
    switch (event.type) {
      case 'UserLockedOut': {
        const d = dataOf<EventOf<'UserLockedOut'>['data']>(event)
        return [sql('UPDATE users SET locked_until = ? WHERE id = ?', canonicalInstant(d.lockedUntil), d.userId)]
      }
      case 'UserUnlocked':
        return [sql('UPDATE users SET locked_until = NULL WHERE id = ?', dataOf<EventOf<'UserUnlocked'>['data']>(event).userId)]
      case 'AuthenticationSucceeded': {
        // A sign-in from a trusted device leaves a lockout that failures from elsewhere caused.
        const d = dataOf<EventOf<'AuthenticationSucceeded'>['data']>(event)
        return [sql('UPDATE users SET locked_until = ?, last_login_at = ? WHERE id = ?',
          d.lockedUntil === null ? null : canonicalInstant(d.lockedUntil), occurredAt(event), d.userId)]
      }
      default: return []
    }
  }
}
