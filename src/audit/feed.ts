/**
 * The published event feed: pages of CloudEvents by position, skipping internal streams and
 * applying the optional type filter. Live delivery (the Server-Sent Events stream) is
 * live-feed.ts.
 */
import type { EventStore, Position } from '../eventstore/port.js'
import { feedSelects, toCloudEvent, type CloudEvent, type TypeFilter } from './cloudevents.js'
import type { Page } from './history.js'
import type { ReadTurns } from './read-turns.js'

export interface FeedOptions {
  readonly after: Position
  readonly limit: number
  readonly filter: TypeFilter
  /** The CloudEvents `source` attribute. */
  readonly source: string
  /**
   * Most events one page looks at. A selective filter over a long log then answers with fewer
   * items (possibly none) and a cursor to continue from, instead of scanning the whole log in one
   * request. Default 10,000.
   */
  readonly scanLimit?: number
  /**
   * When given, each read (and its filtering) is one step taking turns with the other feed reads
   * (read-turns.ts), so a long scan never holds up the server.
   */
  readonly turns?: ReadTurns
}

const READ_BATCH = 250

/**
 * One page of the feed. `nextCursor` is the position to pass as `after` next: the last item's,
 * or the last event looked at when the scan limit cut the page short; null once the page reached
 * the end of the log (poll again with the last item's position).
 */
export async function readFeed (store: EventStore, options: FeedOptions): Promise<Page<CloudEvent>> {
  const { limit, filter, source, turns } = options
  const scanLimit = options.scanLimit ?? 10_000
  const items: CloudEvent[] = []
  let cursor = options.after
  let scanned = 0
  /** One read and what it selects; the page when it is complete, else undefined. */
  const step = async (): Promise<Page<CloudEvent> | undefined> => {
    const size = Math.min(READ_BATCH, Math.max(1, scanLimit - scanned))
    const batch = await store.readAll({ after: cursor, limit: size })
    for (const event of batch) {
      if (feedSelects(event, filter)) {
        if (items.length === limit) return { items, nextCursor: String(items[items.length - 1]!.position) }
        items.push(toCloudEvent(event, source))
      }
      cursor = event.position
    }
    scanned += batch.length
    if (batch.length < size) return { items, nextCursor: null }
    if (scanned >= scanLimit) return { items, nextCursor: String(cursor) }
    return undefined
  }
  for (;;) {
    const page = turns === undefined ? await step() : await turns.run(step)
    if (page !== undefined) return page
  }
}

/** Where "new events only" starts: the head of the log now. */
export async function headPosition (store: EventStore): Promise<Position> {
  return await store.headPosition()
}
