/**
 * Downstream consumers: the event feed as pages of CloudEvents, the same live as Server-Sent
 * Events, and the JSON Schema of every event's data. Readers: identity-admin,
 * identity-auditor and identity-subscriber.
 *
 * The stream: `id:` is the position, `event:` the CloudEvents type, `data:` the CloudEvent. It
 * starts with new events only, or right after `Last-Event-ID` (or `?after=`), catching up from the
 * log and then going live on the one store subscription that every open stream shares
 * (src/audit/live-feed.ts: each event serialised once; a client that falls more than 4 MiB
 * behind is ended with a comment saying so). A comment line every `IDM_SSE_HEARTBEAT_SECONDS`
 * keeps proxies from closing an idle connection. Open streams are ended before the server
 * closes, so shutting down never waits for subscribers to hang up.
 *
 * A stream outlives the request that authorised it, so the token check is repeated before every
 * delivery and heartbeat (one primary-key lookup in the read model): a stream ends when its token
 * expires or its user is deactivated, changes password or loses the role (a lockout ends no stream). The client's
 * reconnect then gets the 401 it would get anywhere else.
 */
import type { FastifyPluginAsyncTypebox } from '@fastify/type-provider-typebox'
import type { FastifyRequest } from 'fastify'
import { Gauge } from 'prom-client'
import { resolveTypeFilter, type TypeFilter } from '../../audit/cloudevents.js'
import { headPosition, readFeed } from '../../audit/feed.js'
import { createFeedConnections } from '../../audit/feed-connections.js'
import { createLiveFeed } from '../../audit/live-feed.js'
import { createReadTurns } from '../../audit/read-turns.js'
import { eventSchemaDocument } from '../../audit/schema.js'
import { getCredentialState } from '../../projections/user-queries.js'
import { isAllowed } from '../auth/policy.js'
import type { Principal } from '../auth/verification.js'
import { problem } from '../plugins/problems.js'
import { CloudEventSchema, FeedQuery, StreamQuery } from '../schemas/audit.js'
import { Paged } from '../schemas/common.js'
import { AUDITORS, pagePosition } from './audit.js'
import type { RouteDeps } from './context.js'
import { credentialStillValid } from '../../domain/credentials.js'
import { ROLES } from '../../domain/roles.js'

const FEED_READERS = [...AUDITORS, ROLES.subscriber]

function typeFilter (types: readonly string[] | undefined): TypeFilter {
  const resolved = resolveTypeFilter(types ?? [])
  if (resolved.ok) return resolved.filter
  throw problem.badRequest(`Unknown or unpublished event type: ${resolved.unknown.join(', ')}. See GET /v1/events/schema.`,
    [{ path: '/query/type', message: 'must be a published CloudEvents type or domain event name' }])
}

/** Last-Event-ID (what an EventSource sends when it reconnects) wins over ?after=. */
function resumePosition (request: FastifyRequest, after: number | undefined): number | undefined {
  const header = request.headers['last-event-id']
  if (header === undefined) return after
  const value = Array.isArray(header) ? header[0] : header
  if (value === undefined || !/^(0|[1-9][0-9]{0,15})$/.test(value.trim()) || !Number.isSafeInteger(Number(value))) {
    throw problem.badRequest('Last-Event-ID must be the position of an event this stream sent.',
      [{ path: '/headers/last-event-id', message: 'must be a position (an integer ≥ 0)' }])
  }
  return Number(value)
}

/** What a refused stream is told to wait before trying again. */
const STREAM_RETRY_SECONDS = 5

export interface EventsRouteOptions extends RouteDeps {
  /** Heartbeat interval override in milliseconds (tests); default IDM_SSE_HEARTBEAT_SECONDS. */
  readonly sseHeartbeatMs?: number
  /** Unsent bytes a stream may hold before it is ended as too slow (tests); default 4 MiB. */
  readonly sseMaxBufferedBytes?: number
}

export const eventsRoutes: FastifyPluginAsyncTypebox<EventsRouteOptions> = async (app, deps) => {
  const store = deps.commands.store
  const source = app.config.eventSource
  /** Every feed read takes turns: stream catch-ups and page scans alike (src/audit/read-turns.ts). */
  const turns = createReadTurns()
  /** One store subscription for every open stream, each event serialised once. */
  const live = createLiveFeed(store, { source, turns, ...(deps.sseMaxBufferedBytes === undefined ? {} : { maxBufferedBytes: deps.sseMaxBufferedBytes }) })
  const connections = createFeedConnections({
    feed: live,
    caps: app.config.sse,
    heartbeatMs: deps.sseHeartbeatMs ?? app.config.sseHeartbeatSeconds * 1000
  })
  new Gauge({ // eslint-disable-line no-new
    name: 'idm_event_streams_open',
    help: 'Open Server-Sent Events streams (GET /v1/events/stream)',
    registers: [app.metrics.registry],
    collect () { this.set(connections.stats().total) }
  })

  app.get('/events', {
    config: { auth: { roles: FEED_READERS } },
    schema: {
      tags: ['events'],
      summary: 'Published events as CloudEvents 1.0, by position (internal streams leave gaps)',
      querystring: FeedQuery,
      response: { 200: Paged(CloudEventSchema) }
    }
  }, async (request) => {
    const { limit, type } = request.query
    return await readFeed(store, { after: pagePosition(request.query), limit: limit ?? 50, filter: typeFilter(type), source, turns })
  })

  app.get('/events/schema', {
    config: { auth: { roles: FEED_READERS } },
    schema: {
      tags: ['events'],
      summary: 'JSON Schema (2020-12) of every event type\'s data, with its CloudEvents type',
      response: { 200: { description: 'A JSON Schema document', type: 'object', additionalProperties: true } }
    }
  }, async (_request, reply) => {
    reply.header('cache-control', 'public, max-age=300')
    return eventSchemaDocument()
  })

  /** Whether the token that opened a stream would still be accepted now. */
  const stillAuthorised = (principal: Principal, credentialVersion: number | undefined, exp: number | undefined): boolean => {
    const now = app.clock().getTime()
    if (exp !== undefined && now / 1000 >= exp) return false
    const state = getCredentialState(deps.db, principal.userId)
    if (state === null || !credentialStillValid(state, credentialVersion, now)) return false
    return isAllowed({ ...principal, roles: state.roles }, { roles: FEED_READERS }, {})
  }

  app.get('/events/stream', {
    config: { auth: { roles: FEED_READERS } },
    schema: {
      tags: ['events'],
      summary: 'The feed live, as Server-Sent Events (resume with Last-Event-ID)',
      querystring: StreamQuery,
      response: {
        200: {
          description: '`id:` position, `event:` CloudEvents type, `data:` the CloudEvent JSON; heartbeat comments in between',
          content: { 'text/event-stream': { schema: { type: 'string' } } }
        }
      }
    }
  }, async (request, reply) => {
    const filter = typeFilter(request.query.type)
    const after = resumePosition(request, request.query.after) ?? await headPosition(store)
    const principal = request.principal!
    const credentialVersion = getCredentialState(deps.db, principal.userId)?.credentialVersion
    const claims = request.user as { exp?: unknown } | undefined
    const exp = typeof claims?.exp === 'number' ? claims.exp : undefined
    const admitted = connections.open({
      principalId: principal.userId,
      after,
      filter,
      authorised: () => stillAuthorised(principal, credentialVersion, exp),
      destroy: () => reply.raw.destroy(),
      log: request.log
    })
    if (!admitted.ok) {
      request.log.warn({ cap: admitted.cap }, 'event stream refused: too many open streams')
      throw problem.tooManyRequests(STREAM_RETRY_SECONDS)
    }
    reply.raw.once('close', () => admitted.connection.clientGone())
    return reply
      .header('content-type', 'text/event-stream; charset=utf-8')
      .header('cache-control', 'no-cache, no-transform')
      .header('x-accel-buffering', 'no')
      // Not kept alive once the stream ends: shutdown then never waits out a keep-alive timeout.
      .header('connection', 'close')
      // The documented body is text; the type provider cannot know a stream produces it.
      .send(admitted.connection.body as unknown as string)
  })

  // preClose runs before the server closes idle connections and waits for the others: ending the
  // streams (and waiting for their responses to close) here is what lets close() finish at once.
  app.addHook('preClose', async () => {
    await live.close()
    await connections.close()
  })
}
