/**
 * A user's audit trail: the events of its own stream (`user-<id>`) and of its authentication
 * stream (`auth-<id>`), merged in global position order, secrets redacted, keyset-paginated by
 * position. Reads only what a page needs from each stream, so a user with a long login history
 * costs a few index seeks per page, not a scan of every login.
 */
import { streams } from '../domain/events.js'
import type { EventStore, Position, RecordedEvent } from '../eventstore/port.js'
import { redact } from './redact.js'

export interface HistoryItem {
  readonly id: string
  readonly position: number
  readonly revision: number
  readonly stream: string
  readonly type: string
  readonly occurredAt: string
  readonly actor: { readonly id: string | null, readonly username: string | null }
  readonly correlationId: string | null
  readonly causationId: string | null
  readonly data: Record<string, unknown>
}

export interface Page<T> {
  readonly items: T[]
  /** The position of the last item when more may follow; null at the end. */
  readonly nextCursor: string | null
}

export interface PageOptions {
  /** Exclusive: items with a greater position. */
  readonly after?: Position
  readonly limit: number
}

const textOrNull = (value: unknown): string | null => typeof value === 'string' ? value : null

export const occurredAtOf = (event: RecordedEvent): string => textOrNull(event.metadata.occurredAt) ?? event.recordedAt

export function toHistoryItem (event: RecordedEvent): HistoryItem {
  const m = event.metadata
  return {
    id: event.id,
    position: event.position,
    revision: event.revision,
    stream: event.stream,
    type: event.type,
    occurredAt: occurredAtOf(event),
    actor: { id: textOrNull(m.actorId), username: textOrNull(m.actorUsername) },
    correlationId: textOrNull(m.correlationId),
    causationId: textOrNull(m.causationId),
    data: redact(event.data)
  }
}

export async function userExists (store: EventStore, userId: string): Promise<boolean> {
  return (await store.readStream(streams.user(userId), { maxCount: 1 })).length > 0
}

/** The user's events after `after`, oldest first; null when there is no such user. */
export async function userHistory (store: EventStore, userId: string, options: PageOptions): Promise<Page<HistoryItem> | null> {
  if (!(await userExists(store, userId))) return null
  const after = options.after ?? 0
  const want = options.limit + 1
  const [own, logins] = await Promise.all([
    streamAfter(store, streams.user(userId), after, want),
    streamAfter(store, streams.auth(userId), after, want)
  ])
  const merged = mergeByPosition(own, logins).slice(0, want)
  const more = merged.length > options.limit
  const items = merged.slice(0, options.limit).map(toHistoryItem)
  return { items, nextCursor: more ? String(items[items.length - 1]!.position) : null }
}

/**
 * Up to `count` events of one stream with a position after `after`. Revisions and positions
 * both increase along a stream, so the first such revision is found by binary search (one
 * indexed single-event read per step) on either adapter.
 */
export async function streamAfter (store: EventStore, stream: string, after: Position, count: number): Promise<RecordedEvent[]> {
  const [last] = await store.readStream(stream, { direction: 'backwards', maxCount: 1 })
  if (last === undefined || last.position <= after) return []
  let low = 0
  let high = last.revision
  while (low < high && after > 0) {
    const mid = Math.floor((low + high) / 2)
    const [probe] = await store.readStream(stream, { from: mid, maxCount: 1 })
    if (probe === undefined || probe.position > after) high = mid
    else low = probe.revision + 1
  }
  return await store.readStream(stream, { from: low, maxCount: count })
}

function mergeByPosition (a: readonly RecordedEvent[], b: readonly RecordedEvent[]): RecordedEvent[] {
  const out: RecordedEvent[] = []
  let i = 0
  let j = 0
  while (i < a.length || j < b.length) {
    const x = a[i]
    const y = b[j]
    if (y === undefined || (x !== undefined && x.position < y.position)) { out.push(x!); i++ } else { out.push(y); j++ }
  }
  return out
}
