/**
 * Prometheus metrics: a registry per app (tests build many apps), default process metrics, and
 * `http_request_duration_seconds` by method, route pattern (never the raw URL, which would
 * explode cardinality) and status. Other modules add their metrics to `app.metrics.registry`.
 *
 * With IDM_METRICS_TOKEN set, GET /metrics wants `Authorization: Bearer <that token>` (what
 * Prometheus sends with `authorization: { credentials: … }`), compared in constant time; without
 * it, anyone who reaches the address reads sign-in counts per status, so it is a setting for a
 * private network only (the README says so).
 */
import { createHash, timingSafeEqual } from 'node:crypto'
import { Histogram, Registry, collectDefaultMetrics } from 'prom-client'
import { globalPlugin } from './global.js'
import { HttpProblem, unauthorized } from './problems.js'

export interface MetricsOptions {
  /** Pass one in to register metrics before the app exists; default a new Registry. */
  readonly registry?: Registry
  /** Process metrics (CPU, memory, event loop, GC). Default true. */
  readonly defaultMetrics?: boolean
  /** The bearer token GET /metrics requires; none: open. */
  readonly token?: string | null
}

export interface AppMetrics {
  readonly registry: Registry
  readonly httpRequestDuration: Histogram<'method' | 'route' | 'status_code'>
}

declare module 'fastify' {
  interface FastifyInstance {
    metrics: AppMetrics
  }
}

export const metricsPlugin = globalPlugin<MetricsOptions>('idm-metrics', async (app, options) => {
  const registry = options.registry ?? new Registry()
  if (options.defaultMetrics !== false) collectDefaultMetrics({ register: registry })
  const httpRequestDuration = new Histogram({
    name: 'http_request_duration_seconds',
    help: 'HTTP request duration in seconds, by method, route pattern and status code',
    labelNames: ['method', 'route', 'status_code'] as const,
    buckets: [0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10],
    registers: [registry]
  })
  app.decorate('metrics', { registry, httpRequestDuration })

  // A callback hook: an async one costs a promise and a microtask per request, for nothing here.
  app.addHook('onResponse', (request, reply, done) => {
    httpRequestDuration.observe({
      method: request.method,
      route: request.routeOptions.url ?? 'unmatched',
      status_code: String(reply.statusCode)
    }, reply.elapsedTime / 1000)
    done()
  })

  const digest = (value: string): Buffer => createHash('sha256').update(value).digest()
  const expected = options.token === undefined || options.token === null ? null : digest(`Bearer ${options.token}`)
  app.get('/metrics', {
    config: { auth: false },
    schema: {
      tags: ['operations'],
      summary: 'Prometheus metrics (text exposition format)',
      description: 'With IDM_METRICS_TOKEN set, requires `Authorization: Bearer <IDM_METRICS_TOKEN>` (401 otherwise).'
    }
  }, async (request, reply) => {
    if (expected !== null) {
      const header = request.headers.authorization
      // Hashes of equal length: the comparison takes the same time whatever was sent.
      if (typeof header !== 'string' || !timingSafeEqual(digest(header), expected)) {
        throw new HttpProblem(unauthorized('Bearer realm="metrics"'))
      }
    }
    const text = await registry.metrics()
    return reply.type(registry.contentType).send(text)
  })

  app.addHook('onClose', async () => { registry.clear() })
})
