// The portable core: every route of pulsegate over one Store, composed from small
// route modules (lib/routes/). Runtime entries in functions/ only build a Store
// and hand this app to their server.
import { OpenAPIHono } from '@hono/zod-openapi'
import { compress } from 'hono/compress'
import type { Context } from 'hono'
import type { Registry } from 'prom-client'
import { inBackground } from './background.ts'
import { debugEnabled, logRequest } from './logging.ts'
import { ApiError, errorResponse, toApiError } from './errors.ts'
import { allowOrigins, answerOtherMethods } from './http.ts'
import { openApiDocument } from './openapi.ts'
import { requestMetrics } from './request-metrics.ts'
import { agentRoutes } from './routes/agents.ts'
import { componentRoutes } from './routes/components.ts'
import { debugRoutes, type Profiler } from './routes/debug.ts'
import { eventRoutes } from './routes/events.ts'
import { notificationRoutes } from './routes/notifications.ts'
import { pingRoutes } from './routes/ping.ts'
import type { AppEnv, RouteDeps } from './routes/deps.ts'
import { docsRoutes } from './routes/docs.ts'
import { metricsRoutes } from './routes/metrics.ts'
import { probeRoutes } from './routes/probes.ts'
import type { Settings } from './settings.ts'
import { statusRoutes } from './status/routes.ts'
import { storeStatusSource } from './status/source.ts'
import type { Store, TrafficCounter } from './stores/store.ts'
import { carryTraceContext, traceRequests } from './tracing.ts'
import { FleetViews } from './views.ts'

export const VERSION = '0.1.0'

export interface AppOptions {
  store: Store
  settings: Settings
  /** Which runtime serves the app, for pulsegate_build_info. */
  runtime: string
  /** The clock, in ms since the epoch; tests inject their own. */
  clock?: () => number
  /**
   * Where process metrics live on runtimes that keep a process (Node, Bun, Deno):
   * default metrics and request durations. Absent on Workers, whose isolates keep nothing.
   */
  runtimeRegistry?: Registry | undefined
  /**
   * Workers: carry the caller's traceparent into the request's context (no SDK runs there to make spans).
   */
  carryTraceparent?: boolean
  /**
   * gzip /metrics, /v1/agents and the status pages when asked to (default). Off on Workers, whose
   * runtime compresses responses itself and would compress ours a second time.
   */
  compression?: boolean
  /** DEBUG=true: what takes /debug/pprof/'s profiles (lib/server/profiles.ts); absent, they answer 501. */
  profiler?: Profiler
  /** The client's address, where the runtime tells it: DEBUG=true's /debug/pprof/ answers loopback clients only. */
  clientAddress?: (c: Context) => string | undefined
}

export function createApp(options: AppOptions): OpenAPIHono<AppEnv> {
  const { store, settings, runtime, runtimeRegistry } = options
  const count = (counter: TrafficCounter, label: string) => inBackground('count', () => store.count(counter, label))
  const deps: RouteDeps = { store, settings, clock: options.clock ?? Date.now, views: new FleetViews(store, settings), count }
  const app = new OpenAPIHono<AppEnv>()

  app.onError((error, c) => {
    const apiError = toApiError(error)
    // Our own ApiErrors were logged where they arose, with their cause.
    if (apiError.status >= 500 && !(error instanceof ApiError)) console.error(error)
    c.set('errorCode', apiError.code)
    return errorResponse(c, apiError)
  })
  app.notFound((c) => errorResponse(c, new ApiError(404, 'not_found', 'no such path')))

  // Probe answers must never come from a cache, and never be sniffed into something else.
  // Set before the handler runs, so every response the context makes carries them
  // (set afterwards, each header would rebuild the finished Response).
  app.use(async (c, next) => {
    c.header('Cache-Control', 'no-store')
    c.header('X-Content-Type-Options', 'nosniff')
    await next()
  })
  // Only with tracing on: off, a request pays nothing for it (not even reading its headers for a traceparent).
  if (settings.tracing.exporter) app.use(traceRequests(settings.tracing.samplingRatePerMillion, VERSION))
  if (options.carryTraceparent) app.use(carryTraceContext())
  if (runtimeRegistry) app.use(requestMetrics(runtimeRegistry))
  // LOG_SEVERITY=debug: a line per request, said inside its span (so it carries a sampled trace's id).
  if (debugEnabled()) {
    app.use(async (c, next) => {
      const started = performance.now()
      await next()
      logRequest({ method: c.req.method, path: c.req.path, status: c.res.status, durationMs: performance.now() - started })
    })
  }
  // Unset, no CORS header at all, and OPTIONS is a 405 like any method a path does not route.
  if (settings.corsOrigins.length > 0) app.use(allowOrigins(settings.corsOrigins))
  // Prometheus always asks for gzip, and a large fleet's exposition shrinks about tenfold.
  if (options.compression ?? true) {
    app.use('/metrics', compress())
    app.use('/v1/agents', compress())
  }

  app.route('/', probeRoutes(deps))
  app.route('/', agentRoutes(deps))
  app.route('/', componentRoutes(deps))
  app.route('/', pingRoutes(deps))
  app.route('/', eventRoutes(deps))
  app.route('/', notificationRoutes(deps))
  if (settings.statusPage !== 'off') {
    const source = storeStatusSource(store, deps.views, settings, deps.clock)
    app.route(
      '/',
      statusRoutes(source, {
        clock: deps.clock,
        visibility: { details: settings.statusPageDetails },
        compression: options.compression ?? true,
        tokens: settings.statusPage === 'token' ? settings.readTokens : [],
      }),
    )
  }
  app.route('/', metricsRoutes(deps, { build: { version: VERSION, runtime }, runtimeRegistry }))
  if (settings.debug) app.route('/', debugRoutes({ profiler: options.profiler, loopbackOnly: { clientAddress: options.clientAddress } }))
  // Built once, at the first ask, from every route registered by then (its own included).
  let document: Record<string, unknown> | undefined
  app.route('/', docsRoutes(() => (document ??= openApiDocument(app, VERSION))))
  answerOtherMethods(app)
  return app
}
