/**
 * The live feed shared by every open Server-Sent Events stream: ONE store subscription, each
 * published event turned into its SSE frame once, and the frame written to every stream whose
 * type filter selects it. With a subscription per stream, each commit was read from SQLite and
 * serialised once per subscriber, on the thread that also serves the API.
 *
 * A stream that starts behind the shared subscription (Last-Event-ID, ?after=) first catches up
 * from the log on its own, then joins; the join re-reads the gap the shared subscription crossed
 * meanwhile, and positions it already wrote are skipped, so a stream sees every selected event
 * once and in order.
 *
 * Catch-up reads take turns with every other feed read (read-turns.ts): bounded steps of
 * READ_BATCH events that yield the event loop, so a thousand streams replaying the log cannot
 * hold up the server. Full pages and their frames are shared through a small cache, so streams
 * resuming from the same place (after=0, a common Last-Event-ID) read and serialise each event
 * once. A catch-up writes frame by frame until its client's buffer is full, then waits for the
 * client to read; a client that goes away releases everything at once.
 *
 * Nothing here waits for a stream: a client that reads slower than live events arrive has its
 * frames buffered up to `maxBufferedBytes`, then is ended with the reason `slow` (its reconnect
 * resumes from its Last-Event-ID). Other streams never wait for it, and memory stays bounded.
 */
import type { Writable } from 'node:stream'
import type { EventStore, Position, RecordedEvent, Subscription } from '../eventstore/port.js'
import { isPublished, toCloudEvent, type CloudEvent, type TypeFilter } from './cloudevents.js'
import { createReadTurns, type ReadTurns } from './read-turns.js'

/** Why delivery to a stream stopped: the token no longer holds, the client fell behind, a read failed, the feed closed. */
export type EndReason = 'unauthorised' | 'slow' | 'error' | 'closed'

export interface FeedSink {
  /** Exclusive: the first frame is the first selected event after this position. */
  readonly after: Position
  readonly filter: TypeFilter
  /** Where frames are written (the response body). */
  readonly out: Writable
  /** Checked before each write: a stream outlives the request that authorised it. */
  readonly authorised: () => boolean
  /** Called once when the feed stops writing to this sink; the sink ends its response. */
  readonly end: (reason: EndReason, error?: unknown) => void
}

export interface LiveFeed {
  /** Starts delivery to `sink` (catch-up first); returns the function that detaches it. */
  attach(sink: FeedSink): () => void
  /** Ends every sink with `closed` and the shared subscription. */
  close(): Promise<void>
  /** Live sinks, sinks still catching up, and whether the shared subscription runs (tests, metrics). */
  stats(): { sinks: number, catchingUp: number, subscribed: boolean }
}

export interface LiveFeedOptions {
  /** The CloudEvents `source` attribute. */
  readonly source: string
  /** Unsent bytes a stream may hold before it is ended as too slow. Default 4 MiB. */
  readonly maxBufferedBytes?: number
  /** Shared with the other feed reads (GET /v1/events); default one of its own. */
  readonly turns?: ReadTurns
}

/** One event of a delivered batch; its frame is built on first use and then shared. */
interface Entry {
  readonly event: RecordedEvent
  frame: string | undefined
}

/** A store batch as the shared subscription delivers it: the published events, and the batch's last position. */
interface Delivery {
  readonly entries: readonly Entry[]
  readonly last: Position
}

/** Events per catch-up step: about a millisecond of reading and serialising. */
const READ_BATCH = 250
/** Full catch-up pages kept for streams that resume from the same place. */
const PAGE_CACHE = 16
const DEFAULT_MAX_BUFFERED = 4 * 1024 * 1024

/** `id:` is the position, `event:` the CloudEvents type, `data:` the CloudEvent. */
export const sseFrame = (event: CloudEvent): string => `id: ${event.position}\nevent: ${event.type}\ndata: ${JSON.stringify(event)}\n\n`

export function createLiveFeed (store: EventStore, options: LiveFeedOptions): LiveFeed {
  const { source } = options
  const maxBuffered = options.maxBufferedBytes ?? DEFAULT_MAX_BUFFERED
  const turns = options.turns ?? createReadTurns()
  const members = new Set<Member>()
  const catchingUp = new Set<Member>()
  /** The shared subscription, while any member is live; `last` is the position it has delivered up to. */
  let shared: { subscription: Subscription, last: Position } | undefined
  let closed = false
  /** Full pages read by catch-ups, by the position they follow (oldest first out). */
  const pages = new Map<Position, readonly Entry[]>()

  const frameOf = (entry: Entry): string => (entry.frame ??= sseFrame(toCloudEvent(entry.event, source)))

  /** A page of the log after `after`, from the cache when another catch-up read it already. */
  async function readPage (after: Position): Promise<readonly Entry[]> {
    const cached = pages.get(after)
    if (cached !== undefined) return cached
    const batch = await store.readAll({ after, limit: READ_BATCH })
    const entries = batch.map(event => ({ event, frame: undefined }))
    // Only a full page is final: a short one ends at the head, which moves on.
    if (entries.length === READ_BATCH) {
      if (pages.size >= PAGE_CACHE) pages.delete(pages.keys().next().value as Position)
      pages.set(after, entries)
    }
    return entries
  }

  class Member {
    cursor: Position
    /** Deliveries that arrived while this member re-read the gap on joining. */
    pending: Delivery[] | null = null
    done = false
    /** Wakes a catch-up that waits for its client to read. */
    #wake: (() => void) | null = null
    constructor (readonly sink: FeedSink) { this.cursor = sink.after }

    selects (event: RecordedEvent): boolean {
      return event.position > this.cursor && (this.sink.filter === null || this.sink.filter(event))
    }

    /** Writes what `entries` hold for this member; false once it has been ended. */
    write (text: string): boolean {
      if (this.done) return false
      if (text === '') return true
      if (!this.sink.authorised()) { this.stop('unauthorised'); return false }
      this.sink.out.write(text)
      if (this.sink.out.writableLength > maxBuffered) { this.stop('slow'); return false }
      return true
    }

    deliver (delivery: Delivery): void {
      if (this.done) return
      if (this.pending !== null) { this.pending.push(delivery); return }
      let text = ''
      for (const entry of delivery.entries) if (this.selects(entry.event)) text += frameOf(entry)
      if (delivery.last > this.cursor) this.cursor = delivery.last
      this.write(text)
    }

    /**
     * Writes the selected frames of a page read by this member (catch-up), frame by frame until
     * the client's buffer is full. 'more': the page is done; 'full': the client must read first
     * (the cursor stops at the last frame written); 'ended'.
     */
    writeRead (page: readonly Entry[]): 'more' | 'full' | 'ended' {
      // The token is checked once per page (a read-model lookup), not once per frame.
      let checked = false
      for (const entry of page) {
        if (this.done) return 'ended'
        const { event } = entry
        if (event.position <= this.cursor) continue
        if (isPublished(event) && this.selects(event)) {
          if (!checked && !this.sink.authorised()) { this.stop('unauthorised'); return 'ended' }
          checked = true
          this.sink.out.write(frameOf(entry))
          if (this.sink.out.writableLength > maxBuffered) { this.stop('slow'); return 'ended' }
          this.cursor = event.position
          if (this.sink.out.writableNeedDrain) return 'full'
        } else {
          this.cursor = event.position
        }
      }
      return this.done ? 'ended' : 'more'
    }

    /** Resolves when the client has read what is buffered, has gone, or this member ended. */
    async readable (): Promise<void> {
      const out = this.sink.out
      if (this.done || !out.writableNeedDrain) return
      await new Promise<void>(resolve => {
        const done = (): void => {
          out.off('drain', done)
          out.off('close', done)
          this.#wake = null
          resolve()
        }
        out.on('drain', done)
        out.on('close', done)
        this.#wake = done
      })
    }

    /** Ends delivery without telling the sink (its owner detached it). */
    release (): void {
      if (this.done) return
      this.done = true
      this.pending = null
      leave(this)
      this.#wake?.()
    }

    stop (reason: EndReason, error?: unknown): void {
      if (this.done) return
      this.release()
      this.sink.end(reason, error)
    }
  }

  const leave = (member: Member): void => {
    members.delete(member)
    catchingUp.delete(member)
    // Nobody listens: stop reading the log; the next stream starts a new subscription.
    if (members.size === 0 && shared !== undefined) {
      void shared.subscription.close()
      shared = undefined
    }
  }

  async function pump (current: { subscription: Subscription, last: Position }): Promise<void> {
    try {
      for await (const batch of current.subscription) {
        if (shared !== current) break
        const entries: Entry[] = []
        for (const event of batch) if (isPublished(event)) entries.push({ event, frame: undefined })
        const newest = batch[batch.length - 1]
        if (newest === undefined) continue
        current.last = newest.position
        const delivery: Delivery = { entries, last: current.last }
        for (const member of members) member.deliver(delivery)
      }
    } catch (error) {
      if (shared !== current) return
      shared = undefined
      for (const member of [...members]) member.stop('error', error)
    }
  }

  /**
   * Reads the log from the member's cursor up to `target` (or until a short page: the head),
   * one step per turn, waiting for the client whenever its buffer is full.
   */
  async function readUpTo (member: Member, target: Position): Promise<void> {
    while (!member.done && member.cursor < target) {
      const result = await turns.run(async () => {
        if (member.done) return { written: 'ended' as const, length: 0 }
        const page = await readPage(member.cursor)
        return { written: member.writeRead(page), length: page.length }
      })
      if (result.written === 'ended') return
      if (result.written === 'full') await member.readable()
      else if (result.length < READ_BATCH) return
    }
  }

  async function join (member: Member): Promise<void> {
    catchingUp.add(member)
    await readUpTo(member, Number.MAX_SAFE_INTEGER)
    if (member.done) return
    if (closed) { member.stop('closed'); return }
    catchingUp.delete(member)
    members.add(member)
    if (shared === undefined) {
      shared = { subscription: store.subscribeToAll({ after: member.cursor, batchSize: READ_BATCH }), last: member.cursor }
      void pump(shared)
      return
    }
    // The shared subscription may be ahead: read the gap, holding back what it delivers meanwhile.
    member.pending = []
    await readUpTo(member, shared.last)
    const held = member.pending
    member.pending = null
    if (held !== null) for (const delivery of held) member.deliver(delivery)
  }

  return {
    attach (sink) {
      const member = new Member(sink)
      if (closed) {
        member.stop('closed')
        return () => {}
      }
      join(member).catch((error: unknown) => member.stop('error', error))
      return () => member.release()
    },
    async close () {
      closed = true
      for (const member of [...members, ...catchingUp]) member.stop('closed')
      pages.clear()
      const current = shared
      shared = undefined
      await current?.subscription.close()
    },
    stats: () => ({ sinks: members.size, catchingUp: catchingUp.size, subscribed: shared !== undefined })
  }
}
