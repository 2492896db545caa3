/**
 * The open event streams (GET /v1/events/stream) as objects the route drives, without Fastify:
 * `connections.open(…)` admits a stream under the caps (per principal and in all) or says which
 * cap refused it; a connection owns its body, its heartbeat, its stall watch and its place on
 * the live feed, and `clientGone()` (the response closed) releases all of them at once.
 *
 * What ends a stream, and what the client reads last:
 *   - the token no longer holds (checked before every delivery and heartbeat): the stream ends;
 *     the client's reconnect gets the 401 it would get anywhere else;
 *   - the client fell more than the feed's buffer behind (`slow`): a comment saying so, then the
 *     client gets STALL_MS to read its backlog before the connection is cut;
 *   - the client stopped reading altogether (unsent data that has not moved for STALL_MS, or
 *     two heartbeats): the connection is cut;
 *   - a read failed (`error`): a comment saying so;
 *   - the server shuts down: the streams end at once, so closing never waits for subscribers.
 */
import { PassThrough, type Readable } from 'node:stream'
import type { Position } from '../eventstore/port.js'
import type { TypeFilter } from './cloudevents.js'
import type { EndReason, LiveFeed } from './live-feed.js'

export interface StreamCaps {
  /** Open streams one principal may hold. */
  readonly maxPerPrincipal: number
  /** Open streams in all. */
  readonly maxTotal: number
}

export interface ConnectionLog {
  warn (details: Record<string, unknown>, message: string): void
  error (details: Record<string, unknown>, message: string): void
}

export interface OpenRequest {
  readonly principalId: string
  readonly after: Position
  readonly filter: TypeFilter
  /** Whether the token that opened the stream would still be accepted now. */
  readonly authorised: () => boolean
  /** Cuts the connection (the response's socket). */
  readonly destroy: () => void
  readonly log: ConnectionLog
}

export interface FeedConnection {
  /** The response body: comments and frames. */
  readonly body: Readable
  /** The response closed (the client went, or the connection was cut): releases everything. */
  clientGone (): void
}

export type Admission =
  | { readonly ok: true, readonly connection: FeedConnection }
  | { readonly ok: false, readonly cap: 'principal' | 'total' }

export interface FeedConnections {
  open (request: OpenRequest): Admission
  /** Ends every stream; resolves once their responses closed (at most `waitMs`). */
  close (waitMs?: number): Promise<void>
  stats (): { total: number, principals: number }
}

export interface FeedConnectionsOptions {
  readonly feed: LiveFeed
  readonly caps: StreamCaps
  readonly heartbeatMs: number
  /** The stall period (tests shorten it). */
  readonly stallMs?: number
}

/**
 * A subscriber that has not read what was sent for this long is cut off (a dead peer would
 * otherwise hold its connection forever); its reconnect resumes from its last id.
 */
export const STALL_MS = 60_000

/** What the client reads as the stream's last line when the server ends it, by reason. */
const END_COMMENTS: Partial<Record<EndReason, string>> = {
  slow: ': closed: this client fell behind the feed; reconnect with Last-Event-ID to resume\n\n',
  error: ': closed: the feed failed; reconnect with Last-Event-ID to resume\n\n'
}

export function createFeedConnections (options: FeedConnectionsOptions): FeedConnections {
  const { feed, caps, heartbeatMs } = options
  const stallMs = options.stallMs ?? STALL_MS
  const perPrincipal = new Map<string, number>()
  const open = new Set<Connection>()

  class Connection implements FeedConnection {
    readonly body = new PassThrough()
    /** Resolves once the response has closed. */
    readonly gone: Promise<void>
    #markGone: () => void = () => {}
    #ended = false
    #released = false
    #stalledSince: number | null = null
    readonly #heartbeat: NodeJS.Timeout
    readonly #detach: () => void
    #cutOff: NodeJS.Timeout | undefined

    constructor (private readonly request: OpenRequest) {
      this.gone = new Promise(resolve => { this.#markGone = resolve })
      this.#heartbeat = setInterval(() => this.beat(), heartbeatMs).unref()
      this.body.once('error', () => this.end())
      // A comment first, so the client sees the response (and its headers) at once.
      this.body.write(': stream open\n\n')
      this.#detach = feed.attach({
        after: request.after,
        filter: request.filter,
        out: this.body,
        authorised: request.authorised,
        end: (reason, err) => {
          if (reason === 'error') request.log.error({ err }, 'event stream failed')
          else if (reason === 'slow') request.log.warn({ buffered: this.body.writableLength }, 'event stream closed: the client fell behind')
          this.end(reason)
        }
      })
    }

    private beat (): void {
      if (this.#ended) return
      // Unsent data that has not moved since the last beat: the client stopped reading.
      if (this.body.writableNeedDrain) this.#stalledSince ??= Date.now()
      else this.#stalledSince = null
      if (this.#stalledSince !== null && Date.now() - this.#stalledSince > Math.max(stallMs, 2 * heartbeatMs)) {
        this.end()
        this.request.destroy()
      } else if (this.request.authorised()) {
        this.body.write(': heartbeat\n\n')
      } else {
        this.end()
      }
    }

    /** Stops delivery and ends the body (the response then finishes); the place is freed when it has closed. */
    end (reason?: EndReason): void {
      if (this.#ended) return
      this.#ended = true
      clearInterval(this.#heartbeat)
      this.#detach()
      const comment = reason === undefined ? undefined : END_COMMENTS[reason]
      if (!this.body.writableEnded) this.body.end(comment)
      // A client too slow to read its backlog gets the stall period to do so, then is cut off.
      if (reason === 'slow') this.#cutOff = setTimeout(() => this.request.destroy(), stallMs).unref()
    }

    clientGone (): void {
      this.end()
      clearTimeout(this.#cutOff)
      // What the client never read is dropped with the stream.
      this.body.destroy()
      if (!this.#released) {
        this.#released = true
        open.delete(this)
        const held = (perPrincipal.get(this.request.principalId) ?? 1) - 1
        if (held <= 0) perPrincipal.delete(this.request.principalId)
        else perPrincipal.set(this.request.principalId, held)
      }
      this.#markGone()
    }
  }

  return {
    open (request) {
      if (open.size >= caps.maxTotal) return { ok: false, cap: 'total' }
      const held = perPrincipal.get(request.principalId) ?? 0
      if (held >= caps.maxPerPrincipal) return { ok: false, cap: 'principal' }
      perPrincipal.set(request.principalId, held + 1)
      const connection = new Connection(request)
      open.add(connection)
      return { ok: true, connection }
    },
    async close (waitMs = 2000) {
      const closing = [...open]
      for (const connection of closing) connection.end()
      await Promise.race([
        Promise.all(closing.map(async connection => await connection.gone)),
        new Promise(resolve => setTimeout(resolve, waitMs).unref())
      ])
    },
    stats: () => ({ total: open.size, principals: perPrincipal.size })
  }
}
