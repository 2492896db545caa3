/**
 * Applying events to a read model: every projection's statements for a batch of events and the
 * projections' checkpoints, in one transaction. Shared by the live runner and the rebuild, so both
 * write exactly the same rows.
 */
import type { Position, RecordedEvent } from '../eventstore/port.js'
import type { Projection, Statement } from './projection.js'
import { prepareCached } from './statements.js'
import type { Db } from './schema.js'

/** A projection threw, or one of its statements failed. Nothing of the batch was written. */
export class ProjectionError extends Error {
  readonly code = 'PROJECTION_FAILED'
  constructor (
    readonly projection: string,
    readonly position: Position,
    readonly eventType: string,
    readonly eventId: string,
    options: { cause: unknown }
  ) {
    const reason = options.cause instanceof Error ? options.cause.message : String(options.cause)
    super(`projection ${projection} failed on ${eventType} at position ${position}: ${reason}`, options)
    this.name = 'ProjectionError'
  }
}

export interface Applier {
  /** Where replay must resume: the lowest checkpoint of the projections. */
  readonly position: Position
  /** Applies the batch (positions increasing) and moves every checkpoint to its last position, atomically. */
  apply(events: readonly RecordedEvent[]): void
}

export function createApplier (db: Db, projections: readonly Projection[]): Applier {
  const names = new Set<string>()
  for (const p of projections) {
    if (names.has(p.name)) throw new Error(`two projections are named ${p.name}`)
    names.add(p.name)
  }
  // Event type → the indexes of the projections that handle it, computed once.
  const byType = new Map<string, number[]>()
  projections.forEach((p, i) => {
    for (const type of new Set(p.handles)) byType.set(type, [...byType.get(type) ?? [], i])
  })
  const read = prepareCached(db, 'SELECT position FROM checkpoints WHERE projection = ?')
  // Each projection keeps its own checkpoint, so one added later replays alone from zero.
  const checkpoints = projections.map(p => (read.get(p.name) as { position: number } | undefined)?.position ?? 0)
  const save = prepareCached(db,
    'INSERT INTO checkpoints (projection, position) VALUES (?, ?) ON CONFLICT (projection) DO UPDATE SET position = excluded.position')

  interface Deferred { readonly statement: Statement, readonly projection: string, readonly event: RecordedEvent }

  const applyAll = db.transaction((events: readonly RecordedEvent[]) => {
    const deferred = new Map<string, Deferred>()
    for (const event of events) {
      const handlers = byType.get(event.type)
      if (handlers === undefined) continue
      for (const i of handlers) {
        if (event.position <= (checkpoints[i] as number)) continue
        const projection = projections[i] as Projection
        try {
          for (const statement of projection.project(event)) {
            if (statement.once === undefined) prepareCached(db, statement.sql).run(...statement.params)
            else {
              // Keys are per projection; re-inserted so that the order is that of the last request.
              const key = `${projection.name}\u0000${statement.once}`
              deferred.delete(key)
              deferred.set(key, { statement, projection: projection.name, event })
            }
          }
        } catch (cause) {
          throw new ProjectionError(projection.name, event.position, event.type, event.id, { cause })
        }
      }
    }
    for (const { statement, projection, event } of deferred.values()) {
      try {
        prepareCached(db, statement.sql).run(...statement.params)
      } catch (cause) {
        throw new ProjectionError(projection, event.position, event.type, event.id, { cause })
      }
    }
    const last = (events[events.length - 1] as RecordedEvent).position
    projections.forEach((projection, i) => { if ((checkpoints[i] as number) < last) save.run(projection.name, last) })
    return last
  })

  return {
    get position () { return checkpoints.length === 0 ? 0 : Math.min(...checkpoints) },
    apply (events) {
      if (events.length === 0) return
      const last = applyAll(events)
      // Only after the commit: a rolled-back batch leaves the in-memory checkpoints untouched.
      checkpoints.forEach((cp, i) => { if (cp < last) checkpoints[i] = last })
    }
  }
}
