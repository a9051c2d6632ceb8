// GET /metrics: the Prometheus exposition, rendered at scrape time from the
// stored records and counters (OpenMetrics when Accept asks for it).
import { Hono } from 'hono'
import { accepts } from 'hono/accepts'
import type { Registry } from 'prom-client'
import { requireToken } from '../http.ts'
import { createMetricsRenderer } from '../metrics.ts'
import { streamOf } from '../slices.ts'
import type { AppEnv, RouteDeps } from './deps.ts'

export interface MetricsOptions {
  build: { version: string; runtime: string }
  /** Process metrics (process_*, nodejs_*, request durations) where the runtime has them. */
  runtimeRegistry?: Registry | undefined
}

export function metricsRoutes({ settings, clock, views, count }: RouteDeps, options: MetricsOptions): Hono<AppEnv> {
  const routes = new Hono<AppEnv>()
  const render = createMetricsRenderer()
  let inFlight = 0

  routes.get(
    '/metrics',
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
    async (c) => {
      const { view, snapshot } = await views.fleet(clock())
      const format = accepts(c, {
        header: 'Accept',
        supports: ['application/openmetrics-text', 'text/plain'],
        default: 'text/plain',
      })
      const exposition = await render(
        { view, counters: snapshot.counters, build: options.build, inFlight, runtimeRegistry: options.runtimeRegistry },
        format === 'application/openmetrics-text',
      )
      // Sent a chunk at a time: a large fleet's exposition is never one string held up at once.
      return c.body(streamOf(exposition.chunks), 200, { 'Content-Type': exposition.contentType })
    },
  )

  return routes
}
