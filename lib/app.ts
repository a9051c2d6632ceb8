// The portable core: every route of pulsegate over one Store. Runtime entries in
// functions/ only build a Store and hand this app to their server.
import { prometheus } from '@hono/prometheus'
import { zValidator } from '@hono/zod-validator'
import { type Context, Hono, type MiddlewareHandler } from 'hono'
import { accepts } from 'hono/accepts'
import { bearerAuth } from 'hono/bearer-auth'
import { bodyLimit } from 'hono/body-limit'
import { compress } from 'hono/compress'
import type { Registry } from 'prom-client'
import { ApiError, errorResponse, toApiError } from './errors.ts'
import { type AgentView, type ComponentView, type FleetView, describeAgent, viewAgentAt, viewFleet } from './fleet.ts'
import { MAX_BODY_BYTES, heartbeatBodySchema } from './heartbeat.ts'
import { LimitError } from './limits.ts'
import { createMetricsRenderer } from './metrics.ts'
import {
  type Check,
  READYZ_CODE,
  agentChecks,
  componentChecks,
  readiness,
  readyzStatus,
  verboseReadyz,
} from './probes.ts'
import type { State } from './readiness.ts'
import type { Settings } from './settings.ts'
import type { Snapshot, Store } from './stores/store.ts'

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
  runtimeRegistry?: Registry
  /**
   * gzip /metrics and /v1/agents when asked to (default). Off on Workers, whose
   * runtime compresses responses itself and would compress ours a second time.
   */
  compression?: boolean
}

type AppEnv = { Variables: { errorCode: string } }

const iso = (ms: number) => new Date(ms).toISOString()

function componentJson(c: ComponentView) {
  const r = c.record
  return {
    component: r.component,
    state: c.state,
    reason: c.reason,
    last_seen: iso(r.lastSeen),
    deadline: iso(c.deadline),
    message: r.message,
    version: r.version,
    pid: r.pid,
    labels: r.labels,
    interval_seconds: c.intervalSeconds,
    grace_seconds: c.graceSeconds,
  }
}

function agentJson(a: AgentView) {
  return {
    agent: a.agent,
    state: a.state,
    reason: describeAgent(a),
    pid: a.pid,
    version: a.version,
    last_seen: iso(a.lastSeen),
    components: a.components.map(componentJson),
  }
}

/** 405 with `Allow` for a known path asked with another method. */
function methodNotAllowed(allow: string): MiddlewareHandler {
  return () => {
    throw new ApiError(405, 'method_not_allowed', `this path answers ${allow}`, { headers: { Allow: allow } })
  }
}

const tooLarge = () => {
  throw new ApiError(413, 'body_too_large', `the body must be at most ${MAX_BODY_BYTES} bytes`)
}
const countingBodyLimit = bodyLimit({ maxSize: MAX_BODY_BYTES, onError: tooLarge })

/**
 * Hono's bodyLimit, with its own first step taken without it: a body that states
 * its length (the servers enforce it) is judged by the header alone. bodyLimit
 * would look at the request's body stream first, which on Node makes the adapter
 * build a full Request and costs a third of a heartbeat's time.
 */
const limitBody: MiddlewareHandler = async (c, next) => {
  const length = c.req.header('Content-Length')
  if (length === undefined || c.req.header('Transfer-Encoding') !== undefined) return countingBodyLimit(c, next)
  if (Number(length) > MAX_BODY_BYTES) tooLarge()
  await next()
}

const requireJson: MiddlewareHandler = async (c, next) => {
  const type = c.req.header('Content-Type')?.split(';')[0]?.trim().toLowerCase() ?? ''
  if (!/^application\/([\w.-]+\+)?json$/.test(type)) {
    throw new ApiError(415, 'unsupported_media_type', 'send the heartbeat as Content-Type: application/json')
  }
  await next()
}

export function createApp(options: AppOptions): Hono<AppEnv> {
  const { store, settings, runtime, runtimeRegistry } = options
  const clock = options.clock ?? Date.now
  const app = new Hono<AppEnv>()
  let scrapesInFlight = 0

  const auth = (tokens: string[]): MiddlewareHandler =>
    tokens.length > 0 ? bearerAuth({ token: tokens, realm: 'pulsegate' }) : async (_c, next) => next()

  const renderMetrics = createMetricsRenderer()

  // The view of the fleet is derived again only when the records change (a new
  // snapshot array) or a deadline passes; probes in between cost a lookup.
  let cached: { records: Snapshot['records']; view: FleetView } | undefined
  const fleetAt = async (now: number): Promise<{ view: FleetView; snapshot: Snapshot }> => {
    const snapshot = await store.snapshot(now)
    if (!cached || cached.records !== snapshot.records || now > cached.view.validUntil) {
      cached = { records: snapshot.records, view: viewFleet(snapshot.records, now, settings) }
    }
    return { view: cached.view, snapshot }
  }

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
  if (runtimeRegistry) app.use(prometheus({ registry: runtimeRegistry, prefix: 'pulsegate_' }).registerMetrics)
  // Prometheus always asks for gzip, and a large fleet's exposition shrinks about tenfold.
  if (options.compression ?? true) {
    app.use('/metrics', compress())
    app.use('/v1/agents', compress())
  }

  app.get('/healthz', (c) => c.json({ status: 'ok' }))
  app.get('/livez', (c) => c.json({ status: 'ok' }))

  app.post(
    '/v1/heartbeat',
    async (c, next) => {
      await next()
      if (c.res.status >= 400 && c.res.status < 500) await store.count('rejected', c.get('errorCode'))
    },
    auth(settings.heartbeatTokens),
    requireJson,
    limitBody,
    zValidator('json', heartbeatBodySchema, (result) => {
      if (!result.success) {
        // A single heartbeat was read as a batch of one: its paths should not start at [0].
        const single = !Array.isArray(result.data)
        const issues = result.error.issues.map((i) => ({
          path: (single ? i.path.slice(1) : i.path) as (string | number)[],
          message: i.message,
        }))
        throw new ApiError(400, 'invalid_heartbeat', 'the heartbeat is not valid; nothing was stored', { issues })
      }
    }),
    async (c) => {
      const batch = c.req.valid('json')
      let records
      try {
        records = await store.apply(batch, clock())
      } catch (error) {
        if (error instanceof LimitError) {
          const headers: Record<string, string> = error.retryAfter ? { 'Retry-After': String(error.retryAfter) } : {}
          throw new ApiError(error.status, error.code, `${error.message}; nothing was stored`, { headers })
        }
        console.error(error)
        throw new ApiError(503, 'store_unavailable', 'the heartbeat was not stored; retry', {
          headers: { 'Retry-After': '1' },
        })
      }
      const results = records.map((r) => ({ agent: r.agent, component: r.component, state: r.state }))
      return c.json({ accepted: results.length, results })
    },
  )

  app.get('/v1/agents', async (c) => {
    const { view } = await fleetAt(clock())
    return c.json({ state: view.state, agents: view.agents.map(agentJson) })
  })

  /** One agent from its own records, never the whole fleet; 404 for an agent the store does not know. */
  const agentAt = async (c: Context, now: number): Promise<AgentView> => {
    const agent = viewAgentAt(await store.agent(c.req.param('agent')!, now), now, settings)
    if (!agent) throw new ApiError(404, 'unknown_agent', `no agent ${c.req.param('agent')}`)
    return agent
  }

  app.get('/v1/agents/:agent', async (c) => c.json(agentJson(await agentAt(c, clock()))))

  app.delete('/v1/agents/:agent', auth(settings.heartbeatTokens), async (c) => {
    const agent = c.req.param('agent')
    const removed = await store.remove(agent, clock())
    if (removed === 0) throw new ApiError(404, 'unknown_agent', `no agent ${agent}`)
    return c.json({ agent, removed })
  })

  const answerReadyz = async (
    c: Context,
    subject: string,
    state: State,
    checks: () => Promise<Check[]>,
    pid: number | null = null,
  ) => {
    const exclude = c.req.queries('exclude') ?? []
    const verbose = c.req.query('verbose') !== undefined
    // Most probes ask for neither, and then the state is the aggregate already kept.
    const result = exclude.length > 0 || verbose ? readiness(await checks(), exclude) : undefined
    const answered = result?.state ?? state
    const code = READYZ_CODE[answered]
    if (result && verbose) return c.text(verboseReadyz(result), code)
    const body: { status: string; state: State; pid?: number } = { status: readyzStatus(answered, subject), state: answered }
    if (pid !== null) body.pid = pid
    return c.json(body, code)
  }

  // The two hot probes never look at the whole fleet: the store keeps every
  // agent's state up to date as heartbeats arrive, and one agent is its own records.
  app.get('/readyz', async (c) => {
    const now = clock()
    const { state } = await store.summary(now)
    return answerReadyz(c, 'fleet', state, async () => agentChecks((await fleetAt(now)).view.agents))
  })

  app.get('/readyz/:agent', async (c) => {
    const agent = await agentAt(c, clock())
    return answerReadyz(c, `agent ${agent.agent}`, agent.state, async () => componentChecks(agent), agent.pid)
  })

  app.get(
    '/metrics',
    async (c, next) => {
      scrapesInFlight++
      try {
        await next()
      } finally {
        scrapesInFlight--
      }
      await store.count('scrapes', String(c.res.status))
    },
    auth(settings.metricsTokens),
    async (c) => {
      const { view, snapshot } = await fleetAt(clock())
      const format = accepts(c, {
        header: 'Accept',
        supports: ['application/openmetrics-text', 'text/plain'],
        default: 'text/plain',
      })
      const exposition = await renderMetrics(
        {
          view,
          counters: snapshot.counters,
          build: { version: VERSION, runtime },
          inFlight: scrapesInFlight,
          runtimeRegistry,
        },
        format === 'application/openmetrics-text',
      )
      return c.body(exposition.body, 200, { 'Content-Type': exposition.contentType })
    },
  )

  app.all('/healthz', methodNotAllowed('GET, HEAD'))
  app.all('/livez', methodNotAllowed('GET, HEAD'))
  app.all('/readyz', methodNotAllowed('GET, HEAD'))
  app.all('/readyz/:agent', methodNotAllowed('GET, HEAD'))
  app.all('/metrics', methodNotAllowed('GET, HEAD'))
  app.all('/v1/heartbeat', methodNotAllowed('POST'))
  app.all('/v1/agents', methodNotAllowed('GET, HEAD'))
  app.all('/v1/agents/:agent', methodNotAllowed('GET, HEAD, DELETE'))

  return app
}

