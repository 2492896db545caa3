/**
 * What a projection is: a pure function from one recorded event to the SQL statements that bring
 * the read model up to date. Projections do no I/O; the runner applies their statements together
 * with the checkpoint in one transaction.
 */
import type { JsonObject, RecordedEvent } from '../eventstore/port.js'

export interface Statement {
  sql: string
  params: unknown[]
  /**
   * Statements with a key run once per batch, after the batch's other statements (the last one
   * a projection queued under a key wins; keys are the projection's own): for recomputing a derived value, such as a user's sorted role list,
   * that several events of one batch would otherwise recompute one after the other. Nothing in a
   * batch may read what a keyed statement writes.
   */
  once?: string
}

export interface Projection {
  /** Stable name: the key of its checkpoint row. */
  name: string
  /** Event types it projects; every other event only advances its checkpoint. */
  handles: readonly string[]
  project(event: RecordedEvent): Statement[]
}

export const sql = (text: string, ...params: unknown[]): Statement => ({ sql: text, params })

/** A statement that runs once per batch under `key` (see Statement.once). */
export const sqlOnce = (key: string, text: string, ...params: unknown[]): Statement => ({ sql: text, params, once: key })

/**
 * The domain time of an event. Falls back to the commit time for events written without it
 * (both are stored, so a rebuild computes the same value).
 */
export function occurredAt (event: RecordedEvent): string {
  const at = (event.metadata as JsonObject).occurredAt
  return typeof at === 'string' ? at : event.recordedAt
}

/**
 * Search key of a text: NFKC, then lower-cased with JavaScript's full Unicode mapping (SQLite's
 * lower() only folds ASCII). Stored values and query values go through the same function.
 */
export const searchKey = (text: string): string => text.normalize('NFKC').toLowerCase()

/**
 * An instant as `YYYY-MM-DDTHH:mm:ss.sssZ`, so instants compare correctly as text. Leaves a value
 * that does not parse as it is (a projection must not throw on odd but stored data).
 */
export function canonicalInstant (value: string): string {
  const ms = Date.parse(value)
  return Number.isNaN(ms) ? value : new Date(ms).toISOString()
}

/** Typed access to event data: the store hands data out as JsonObject. */
export const dataOf = <T>(event: RecordedEvent): T => event.data as T
