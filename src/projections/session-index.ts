/**
 * The live sessions, in memory, fed by the sessions projection: the per-request check of a token's
 * `sid` is a Map lookup (no SQL on the hot path). After every batch the runner applies, `sync`
 * reads the session rows that batch changed (indexed by position) and updates the map, before the
 * runner's waiters resume, so a command answered after its read-your-writes wait is already
 * visible here. Ended sessions leave the map: an unknown sid is refused like an ended one.
 */
import type { Db } from './schema.js'
import { sessionChangesAfter, type SessionCheckRow } from './sessions.js'

export interface LiveSessionEntry {
  readonly userId: string
  readonly clientId: string
  readonly credentialVersion: number
  /** Epoch milliseconds. */
  readonly idleExpiresAt: number
  readonly expiresAt: number
}

export class SessionIndex {
  readonly #live = new Map<string, LiveSessionEntry>()
  #position = 0

  constructor (private readonly db: Db) {
    this.sync()
  }

  /** Applies the session rows changed since the last call. */
  sync (): void {
    const changes: SessionCheckRow[] = sessionChangesAfter(this.db, this.#position)
    for (const row of changes) {
      if (row.live) {
        this.#live.set(row.id, {
          userId: row.userId,
          clientId: row.clientId,
          credentialVersion: row.credentialVersion,
          idleExpiresAt: Date.parse(row.idleExpiresAt),
          expiresAt: Date.parse(row.expiresAt)
        })
      } else {
        this.#live.delete(row.id)
      }
      this.#position = row.position
    }
  }

  /** The session when it is live at `nowMs` (for that user), otherwise undefined. */
  live (sessionId: string, nowMs: number): LiveSessionEntry | undefined {
    const entry = this.#live.get(sessionId)
    if (entry === undefined || entry.idleExpiresAt <= nowMs || entry.expiresAt <= nowMs) return undefined
    return entry
  }

  /** Live session ids of a user (for revoking their stored tokens). */
  get size (): number { return this.#live.size }
}
