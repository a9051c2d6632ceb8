// Heartbeats in, agents out: POST /v1/heartbeat, GET /v1/agents (in pages), and
// GET and DELETE /v1/agents/{agent}. Each route is defined once, with its schemas:
// they validate the request, type the handler and make the OpenAPI document.
import { OpenAPIHono, createRoute } from '@hono/zod-openapi'
import { z } from 'zod'
import { agentPageSchema, agentSchema, heartbeatAnswerSchema, removedSchema } from '../api-schemas.ts'
import { ApiError } from '../errors.ts'
import { type AgentView, type ComponentView, describeAgent } from '../fleet.ts'
import { agentHistory, type Uptime } from '../history.ts'
import type { ReadinessSettings } from '../readiness.ts'
import { DEFAULT_TZ } from '../schedule.ts'
import { MAX_BODY_BYTES, agentId, heartbeatBodySchema, heartbeatIssues } from '../heartbeat.ts'
import { limitBody, requireJson, requireToken } from '../http.ts'
import { tagAgent, validationEnds, validationStarts } from '../tracing.ts'
import {
  authErrors, bodyErrors, documentedOnly, errorAnswer, internalError, invalidQueryOrAuthorization, malformedAuthorization, retryAfterHeader, storeUnavailable,
  unknownAgent,
} from '../openapi.ts'
import { type AppEnv, type RouteDeps, countRejections, refuseQuery, storeOr503 } from './deps.ts'

/** Agents a page of GET /v1/agents holds unless `limit` says otherwise, and the most it may say. */
export const PAGE_DEFAULT = 100
export const PAGE_MAX = 500

const iso = (ms: number) => new Date(ms).toISOString()

/** A component as the API answers it; `uptime` comes from its record's timeline (lib/history.ts). */
export function componentJson(c: ComponentView, uptime: Uptime) {
  const r = c.record
  return {
    component: r.component,
    state: c.state,
    reason: c.reason,
    // A declared component not heard from yet has its declaration as lastSeen (its deadline counts from it).
    last_seen: r.declared && r.beats === 0 ? null : iso(r.lastSeen),
    deadline: iso(c.deadline),
    message: r.message,
    version: r.version,
    pid: r.pid,
    labels: r.labels,
    interval_seconds: c.intervalSeconds,
    schedule: r.schedule,
    tz: r.schedule === null ? null : r.tz ?? DEFAULT_TZ,
    grace_seconds: c.graceSeconds,
    max_run_seconds: c.maxRunSeconds,
    expire_seconds: c.expireSeconds,
    expires: Number.isFinite(c.expires) ? iso(c.expires) : null,
    declared: r.declared,
    running_since: r.runs.length ? iso(r.runs.at(-1)!.since) : null,
    runs_open: r.runs.length,
    last_duration_seconds: r.lastDurationSeconds,
    last_exit_code: r.lastExitCode,
    last_success: r.lastSuccessAt === null ? null : iso(r.lastSuccessAt),
    uptime,
  }
}

export function agentJson(a: AgentView, now: number, settings: ReadinessSettings): z.infer<typeof agentSchema> {
  const history = agentHistory(a.components.map((c) => c.record), now, settings)
  return {
    agent: a.agent,
    state: a.state,
    reason: describeAgent(a),
    pid: a.pid,
    version: a.version,
    last_seen: iso(a.lastSeen),
    uptime: history.uptime,
    components: a.components.map((c) => componentJson(c, history.components.get(c.record.component)!)),
  }
}

// A cursor is the last agent id of a page, base64url-encoded: opaque to clients, so
// what it holds may change, and stable under writes, since agents are listed by id.
const toBase64Url = (text: string) => btoa(text).replace(/\+/g, '-').replace(/\//g, '_').replace(/=+$/, '')

/** The agent id a cursor continues after, or undefined for a string no page answered. */
export function cursorAgent(cursor: string): string | undefined {
  if (!/^[A-Za-z0-9_-]+$/.test(cursor)) return undefined
  let decoded: string
  try {
    decoded = atob(cursor.replace(/-/g, '+').replace(/_/g, '/'))
  } catch {
    return undefined
  }
  return agentId.safeParse(decoded).success ? decoded : undefined
}

/** The index of the first agent after `id`, in agents sorted by id. */
function firstAfter(agents: readonly AgentView[], id: string): number {
  let low = 0
  let high = agents.length
  while (low < high) {
    const middle = (low + high) >>> 1
    if (agents[middle]!.agent <= id) low = middle + 1
    else high = middle
  }
  return low
}

const agentParam = z.object({ agent: z.string().meta({ description: 'The agent id', example: 'node-17' }) })

const heartbeatRoute = createRoute({
  method: 'post',
  path: '/v1/heartbeat',
  operationId: 'postHeartbeat',
  tags: ['Heartbeats'],
  summary: 'Send one heartbeat or a batch of 1–100',
  description:
    'Checked in this order: token, Content-Type, size, JSON syntax, schema, then (atomically, with the store) the caps and the rate limit. ' +
    'A 200 means every heartbeat of the batch is stored durably; any refusal stores nothing and is counted in pulsegate_heartbeats_rejected_total.',
  security: [{ heartbeatToken: [] }],
  request: {
    body: {
      required: true,
      description: `One heartbeat, or an array of 1–100 (all or nothing); at most ${MAX_BODY_BYTES} bytes, any application/json or application/*+json`,
      content: { 'application/json': { schema: heartbeatBodySchema } },
    },
  },
  responses: {
    200: { description: 'Stored: the state each heartbeat left its component in', content: { 'application/json': { schema: heartbeatAnswerSchema } } },
    400: errorAnswer(
      `Not a valid heartbeat or batch (\`invalid_heartbeat\`, with \`issues\`), not JSON (\`malformed_json\`), or ${malformedAuthorization}`,
      ['invalid_heartbeat', 'malformed_json', 'invalid_authorization'],
    ),
    ...authErrors,
    ...bodyErrors,
    422: errorAnswer('The batch would take the fleet past MAX_AGENTS, MAX_COMPONENTS_PER_AGENT or MAX_VERSIONS', [
      'too_many_agents',
      'too_many_components',
      'too_many_versions',
    ]),
    429: errorAnswer('A component beat faster than RATE_LIMIT_PER_SECOND (`rate_limited`)', ['rate_limited'], { 'Retry-After': retryAfterHeader }),
    ...internalError,
    503: storeUnavailable,
  },
})

const listRoute = createRoute({
  method: 'get',
  path: '/v1/agents',
  operationId: 'listAgents',
  tags: ['Agents'],
  summary: 'Every agent and its components, a page at a time, sorted by id',
  security: [{ readToken: [] }],
  request: {
    query: z.object({
      limit: z.coerce
        .number()
        .int()
        .min(1)
        .max(PAGE_MAX)
        .default(PAGE_DEFAULT)
        .meta({ description: `Agents per page, 1–${PAGE_MAX}; default ${PAGE_DEFAULT}` }),
      cursor: z
        .string()
        .refine((cursor) => cursorAgent(cursor) !== undefined, 'not a cursor pulsegate answered')
        .optional()
        .meta({ description: 'The `next_cursor` of the page before; opaque' }),
    }),
  },
  responses: {
    200: { description: 'One page of agents, and the fleet state', content: { 'application/json': { schema: agentPageSchema } } },
    400: invalidQueryOrAuthorization,
    ...authErrors,
    ...internalError,
  },
})

const agentRoute = createRoute({
  method: 'get',
  path: '/v1/agents/{agent}',
  operationId: 'getAgent',
  tags: ['Agents'],
  summary: 'One agent and its components, with their uptime',
  security: [{ readToken: [] }],
  request: { params: agentParam },
  responses: {
    200: { description: 'The agent', content: { 'application/json': { schema: agentSchema } } },
    400: errorAnswer(`Sent ${malformedAuthorization}`, ['invalid_authorization']),
    ...authErrors,
    404: unknownAgent,
    ...internalError,
  },
})

const deregisterRoute = createRoute({
  method: 'delete',
  path: '/v1/agents/{agent}',
  operationId: 'deleteAgent',
  tags: ['Agents'],
  summary: 'Deregister an agent: gone from every answer',
  description: 'An agent that deregisters on shutdown should take 404 as success: it is gone either way.',
  security: [{ heartbeatToken: [] }],
  request: { params: agentParam },
  responses: {
    200: { description: 'Removed', content: { 'application/json': { schema: removedSchema } } },
    400: errorAnswer(`Sent ${malformedAuthorization}`, ['invalid_authorization']),
    ...authErrors,
    404: unknownAgent,
    ...internalError,
    503: storeUnavailable,
  },
})

export function agentRoutes({ store, settings, clock, views, count }: RouteDeps): OpenAPIHono<AppEnv> {
  const routes = new OpenAPIHono<AppEnv>()
  const heartbeatToken = requireToken(settings.heartbeatTokens)
  const readToken = requireToken(settings.readTokens)

  routes.openapi(
    {
      ...heartbeatRoute,
      middleware: [
        countRejections(count),
        heartbeatToken,
        requireJson('heartbeat'),
        limitBody(MAX_BODY_BYTES),
        validationStarts,
      ],
    },
    async (c) => {
      const batch = c.req.valid('json')
      tagAgent(batch[0]!.agent)
      const records = await storeOr503('heartbeat', () => store.apply(batch, clock()))
      const results = records.map((r) => ({ agent: r.agent, component: r.component, state: r.state }))
      return c.json({ accepted: results.length, results }, 200)
    },
    (result, c) => {
      validationEnds(c, result.success)
      if (result.success) return
      const issues = heartbeatIssues(result.error, (result as { data?: unknown }).data)
      throw new ApiError(400, 'invalid_heartbeat', 'the heartbeat is not valid; nothing was stored', { issues })
    },
  )

  routes.openapi(
    { ...listRoute, middleware: readToken },
    async (c) => {
      const { limit, cursor } = c.req.valid('query')
      const now = clock()
      const { view } = await views.fleet(now)
      const start = cursor === undefined ? 0 : firstAfter(view.agents, cursorAgent(cursor)!)
      const page = view.agents.slice(start, start + limit)
      const more = start + limit < view.agents.length
      const next = more ? toBase64Url(page.at(-1)!.agent) : null
      return c.json({ state: view.state, agents: page.map((a) => agentJson(a, now, settings)), next_cursor: next }, 200)
    },
    refuseQuery,
  )

  routes.openapi(documentedOnly(routes, { ...agentRoute, middleware: readToken }), async (c) => {
    const id = c.req.param('agent')
    const now = clock()
    const agent = await views.agent(id, now)
    if (!agent) throw new ApiError(404, 'unknown_agent', `no agent ${id}`)
    return c.json(agentJson(agent, now, settings), 200)
  })

  routes.openapi(documentedOnly(routes, { ...deregisterRoute, middleware: heartbeatToken }), async (c) => {
    const agent = c.req.param('agent')
    const removed = await store.remove(agent, clock())
    if (removed === 0) throw new ApiError(404, 'unknown_agent', `no agent ${agent}`)
    return c.json({ agent, removed }, 200)
  })

  return routes
}
