// GET /metrics: the Prometheus exposition, rendered at scrape time from the
// stored records and counters (OpenMetrics when Accept asks for it).
import { inSpan } from '../tracing.ts'
import { OpenAPIHono, createRoute } from '@hono/zod-openapi'
import { accepts } from 'hono/accepts'
import type { Registry } from 'prom-client'
import { z } from 'zod'
import { requireToken } from '../http.ts'
import { createMetricsRenderer } from '../metrics.ts'
import { streamOf } from '../slices.ts'
import { authErrors, errorAnswer, internalError, malformedAuthorization } from '../openapi.ts'
import type { AppEnv, RouteDeps } from './deps.ts'

export interface MetricsOptions {
  build: { version: string; runtime: string }
  /** Process metrics (process_*, nodejs_*, request durations) where the runtime has them. */
  runtimeRegistry?: Registry | undefined
}

const metricsRoute = createRoute({
  method: 'get',
  path: '/metrics',
  operationId: 'metrics',
  tags: ['Metrics'],
  summary: 'The Prometheus exposition of the fleet',
  description:
    'The text format (`text/plain; version=0.0.4`), or OpenMetrics 1.0 when Accept prefers it, as Prometheus does. Gzipped when Accept-Encoding asks for it, except on Workers, whose runtime compresses.',
  security: [{ metricsToken: [] }],
  responses: {
    200: {
      description: 'The exposition',
      content: {
        'text/plain': { schema: z.string().meta({ description: 'text format 0.0.4' }) },
        'application/openmetrics-text': { schema: z.string().meta({ description: 'OpenMetrics 1.0.0, ending in # EOF' }) },
      },
    },
    400: errorAnswer(`Sent ${malformedAuthorization}`, ['invalid_authorization']),
    ...authErrors,
    ...internalError,
  },
})

export function metricsRoutes({ settings, clock, views, count }: RouteDeps, options: MetricsOptions): OpenAPIHono<AppEnv> {
  const routes = new OpenAPIHono<AppEnv>()
  const render = createMetricsRenderer({ componentLabels: settings.metricsLabels })
  let inFlight = 0

  routes.openapi(
    {
      ...metricsRoute,
      middleware: [
        async (c, next) => {
          inFlight++
          try {
            await next()
          } finally {
            inFlight--
          }
          // As Go's promhttp does: a scrape counts once it is answered, under its status code.
          await count('scrapes', String(c.res.status))
        },
        requireToken(settings.metricsTokens),
      ],
    },
    async (c) => {
      const now = clock()
      const { view, snapshot } = await views.fleet(now)
      const format = accepts(c, {
        header: 'Accept',
        supports: ['application/openmetrics-text', 'text/plain'],
        default: 'text/plain',
      })
      const input = { view, counters: snapshot.counters, build: options.build, inFlight, now, runtimeRegistry: options.runtimeRegistry }
      const openMetrics = format === 'application/openmetrics-text'
      const exposition = await inSpan('metrics.render', { 'pulsegate.components': snapshot.records.length }, () => render(input, openMetrics))
      // Sent a chunk at a time: a large fleet's exposition is never one string held up at once.
      return c.body(streamOf(exposition.chunks), 200, { 'Content-Type': exposition.contentType })
    },
  )

  return routes
}
