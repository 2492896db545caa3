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
 * Nothing here waits for a stream: a client that reads slower than events arrive has its frames
 * buffered up to `maxBufferedBytes`, then is ended with the reason `slow` (its reconnect resumes
 * from its Last-Event-ID). Other streams never wait for it, and memory stays bounded.
 */
import type { Writable } from 'node:stream'
import type { EventStore, Position, RecordedEvent, Subscription } from '../eventstore/port.js'
import { isPublished, toCloudEvent, type CloudEvent, type TypeFilter } from './cloudevents.js'

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
  /** Open sinks and whether the shared subscription runs (tests, metrics). */
  stats(): { sinks: number, subscribed: boolean }
}

export interface LiveFeedOptions {
  /** The CloudEvents `source` attribute. */
  readonly source: string
  /** Unsent bytes a stream may hold before it is ended as too slow. Default 4 MiB. */
  readonly maxBufferedBytes?: number
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

const READ_BATCH = 500
const DEFAULT_MAX_BUFFERED = 4 * 1024 * 1024

/** `id:` is the position, `event:` the CloudEvents type, `data:` the CloudEvent. */
export const sseFrame = (event: CloudEvent): string => `id: ${event.position}\nevent: ${event.type}\ndata: ${JSON.stringify(event)}\n\n`

export function createLiveFeed (store: EventStore, options: LiveFeedOptions): LiveFeed {
  const { source } = options
  const maxBuffered = options.maxBufferedBytes ?? DEFAULT_MAX_BUFFERED
  const members = new Set<Member>()
  /** The shared subscription, while any member is live; `last` is the position it has delivered up to. */
  let shared: { subscription: Subscription, last: Position } | undefined
  let closed = false

  const frameOf = (entry: Entry): string => (entry.frame ??= sseFrame(toCloudEvent(entry.event, source)))

  class Member {
    cursor: Position
    /** Deliveries that arrived while this member re-read the gap on joining. */
    pending: Delivery[] | null = null
    done = false
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

    /** Frames for events read from the log by this member alone (catch-up). */
    writeRead (batch: readonly RecordedEvent[]): boolean {
      let text = ''
      for (const event of batch) if (isPublished(event) && this.selects(event)) text += sseFrame(toCloudEvent(event, source))
      const newest = batch[batch.length - 1]
      if (newest !== undefined && newest.position > this.cursor) this.cursor = newest.position
      return this.write(text)
    }

    stop (reason: EndReason, error?: unknown): void {
      if (this.done) return
      this.done = true
      this.pending = null
      leave(this)
      this.sink.end(reason, error)
    }
  }

  const leave = (member: Member): void => {
    members.delete(member)
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

  /** Reads the log from the member's cursor until a short page (the head then), waiting for the client to drain. */
  async function catchUp (member: Member): Promise<void> {
    for (;;) {
      const batch = await store.readAll({ after: member.cursor, limit: READ_BATCH })
      if (!member.writeRead(batch)) return
      if (batch.length < READ_BATCH) return
      if (member.sink.out.writableNeedDrain) await drained(member.sink.out)
      if (member.done) return
    }
  }

  async function join (member: Member): Promise<void> {
    await catchUp(member)
    if (member.done) return
    if (closed) { member.stop('closed'); return }
    members.add(member)
    if (shared === undefined) {
      shared = { subscription: store.subscribeToAll({ after: member.cursor, batchSize: READ_BATCH }), last: member.cursor }
      void pump(shared)
      return
    }
    // The shared subscription may be ahead: read the gap, holding back what it delivers meanwhile.
    member.pending = []
    const target = shared.last
    while (!member.done && member.cursor < target) {
      const batch = await store.readAll({ after: member.cursor, limit: READ_BATCH })
      if (!member.writeRead(batch) || batch.length === 0) break
    }
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
      return () => {
        if (member.done) return
        member.done = true
        leave(member)
      }
    },
    async close () {
      closed = true
      for (const member of [...members]) member.stop('closed')
      const current = shared
      shared = undefined
      await current?.subscription.close()
    },
    stats: () => ({ sinks: members.size, subscribed: shared !== undefined })
  }
}

/** Resolves when `stream` can take more, or is gone. */
async function drained (stream: Writable): Promise<void> {
  await new Promise<void>(resolve => {
    const done = (): void => {
      stream.off('drain', done)
      stream.off('close', done)
      resolve()
    }
    stream.on('drain', done)
    stream.on('close', done)
  })
}
