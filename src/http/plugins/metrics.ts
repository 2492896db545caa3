/**
 * Prometheus metrics: a registry per app (tests build many apps), default process metrics, and
 * `http_request_duration_seconds` by method, route pattern (never the raw URL, which would
 * explode cardinality) and status. Other modules add their metrics to `app.metrics.registry`.
 */
import { Histogram, Registry, collectDefaultMetrics } from 'prom-client'
import { globalPlugin } from './global.js'

export interface MetricsOptions {
  /** Pass one in to register metrics before the app exists; default a new Registry. */
  readonly registry?: Registry
  /** Process metrics (CPU, memory, event loop, GC). Default true. */
  readonly defaultMetrics?: boolean
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

  app.get('/metrics', {
    config: { auth: false },
    schema: { tags: ['operations'], summary: 'Prometheus metrics (text exposition format)' }
  }, async (_request, reply) => {
    const text = await registry.metrics()
    return reply.type(registry.contentType).send(text)
  })

  app.addHook('onClose', async () => { registry.clear() })
})
