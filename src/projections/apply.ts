/**
 * Applying events to a read model: every projection's statements for a batch of events and the
 * projections' checkpoints, in one transaction. Shared by the live runner and the rebuild, so both
 * write exactly the same rows.
 */
import type { Position, RecordedEvent } from '../eventstore/port.js'
import type { Projection } from './projection.js'
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
  const handles = projections.map(p => new Set(p.handles))
  const read = prepareCached(db, 'SELECT position FROM checkpoints WHERE projection = ?')
  // Each projection keeps its own checkpoint, so one added later replays alone from zero.
  const checkpoints = projections.map(p => (read.get(p.name) as { position: number } | undefined)?.position ?? 0)
  const save = prepareCached(db,
    'INSERT INTO checkpoints (projection, position) VALUES (?, ?) ON CONFLICT (projection) DO UPDATE SET position = excluded.position')

  const applyAll = db.transaction((events: readonly RecordedEvent[]) => {
    for (const event of events) {
      projections.forEach((projection, i) => {
        if (event.position <= (checkpoints[i] as number) || !(handles[i] as Set<string>).has(event.type)) return
        try {
          for (const statement of projection.project(event)) prepareCached(db, statement.sql).run(...statement.params)
        } catch (cause) {
          throw new ProjectionError(projection.name, event.position, event.type, event.id, { cause })
        }
      })
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
