/**
 * Tamper evidence over the whole log: every stream's hash chain (src/eventstore/hash-chain.ts),
 * checked in one pass in position order. Only each stream's last stored hash is kept, not its
 * events, so memory grows with the number of streams, not of events.
 *
 * After a broken link the check goes on from the hash stored in the broken event, so each edited
 * or missing event is reported on its own and the events after it are not all flagged.
 * Truncating a stream's tail cannot be seen from the chain alone.
 */
import { setImmediate as yieldToIo } from 'node:timers/promises'
import { GENESIS, verifyChain, type BrokenLink } from '../eventstore/hash-chain.js'
import type { EventStore, Position } from '../eventstore/port.js'

export type { BrokenLink }

export interface VerifyResult {
  readonly ok: boolean
  /** Streams seen. */
  readonly streams: number
  /** Events checked. */
  readonly events: number
  readonly brokenLinks: BrokenLink[]
  /** More links were broken than `maxBrokenLinks`; the list holds the first ones. */
  readonly truncated: boolean
}

export interface ChainEvent {
  readonly stream: string
  readonly revision: number
  readonly type: string
  readonly data: Record<string, unknown>
  readonly metadata: Record<string, unknown>
}

/** An incremental verifier: feed it every event of the log in position order. */
export interface ChainVerifier {
  check(event: ChainEvent): BrokenLink | null
  result(): VerifyResult
}

export function createChainVerifier (maxBrokenLinks = 1000): ChainVerifier {
  const last = new Map<string, string>()
  const brokenLinks: BrokenLink[] = []
  let broken = 0
  let events = 0
  return {
    check (event) {
      events++
      const link = verifyChain([event], last.get(event.stream) ?? GENESIS)
      last.set(event.stream, String(event.metadata.hash ?? ''))
      if (link !== null) {
        broken++
        if (brokenLinks.length < maxBrokenLinks) brokenLinks.push(link)
      }
      return link
    },
    result: () => ({ ok: broken === 0, streams: last.size, events, brokenLinks: [...brokenLinks], truncated: broken > brokenLinks.length })
  }
}

export interface VerifyOptions {
  /** Events per read (default 5,000). */
  readonly pageSize?: number
  readonly maxBrokenLinks?: number
  /** After each page: the position reached and the head position at start. */
  readonly onProgress?: (done: Position, total: Position) => void
}

export async function verifyLog (store: EventStore, options: VerifyOptions = {}): Promise<VerifyResult> {
  const pageSize = options.pageSize ?? 5000
  const verifier = createChainVerifier(options.maxBrokenLinks)
  const total = await store.headPosition()
  let after = 0
  for (;;) {
    const page = await store.readAll({ after, limit: pageSize })
    for (const event of page) verifier.check(event)
    const lastEvent = page[page.length - 1]
    if (lastEvent === undefined) break
    after = lastEvent.position
    options.onProgress?.(after, Math.max(total, after))
    if (page.length < pageSize) break
    // The SQLite adapter reads synchronously: let requests and timers run between pages.
    await yieldToIo()
  }
  return verifier.result()
}
