// Heartbeats in, agents out: POST /v1/heartbeat, GET /v1/agents, and
// GET and DELETE /v1/agents/:agent.
import { zValidator } from '@hono/zod-validator'
import { Hono } from 'hono'
import { ApiError } from '../errors.ts'
import { type AgentView, type ComponentView, describeAgent } from '../fleet.ts'
import { MAX_BODY_BYTES, heartbeatBodySchema } from '../heartbeat.ts'
import { requireJson, limitBody, requireToken } from '../http.ts'
import { LimitError } from '../limits.ts'
import { logOnce } from '../logging.ts'
import type { AppEnv, RouteDeps } from './deps.ts'

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

export function agentJson(a: AgentView) {
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

const validHeartbeats = zValidator('json', heartbeatBodySchema, (result) => {
  if (result.success) return
  // A single heartbeat was read as a batch of one: its paths should not start at [0].
  const single = !Array.isArray(result.data)
  const issues = result.error.issues.map((i) => ({
    path: (single ? i.path.slice(1) : i.path) as (string | number)[],
    message: i.message,
  }))
  throw new ApiError(400, 'invalid_heartbeat', 'the heartbeat is not valid; nothing was stored', { issues })
})

export function agentRoutes({ store, settings, clock, views, count }: RouteDeps): Hono<AppEnv> {
  const routes = new Hono<AppEnv>()
  const heartbeatToken = requireToken(settings.heartbeatTokens)

  routes.post(
    '/v1/heartbeat',
    async (c, next) => {
      await next()
      if (c.res.status >= 400 && c.res.status < 500) await count('rejected', c.get('errorCode'))
    },
    heartbeatToken,
    requireJson('heartbeat'),
    limitBody(MAX_BODY_BYTES),
    validHeartbeats,
    async (c) => {
      let records
      try {
        records = await store.apply(c.req.valid('json'), clock())
      } catch (error) {
        if (error instanceof LimitError) throw error
        // A store that keeps failing (a full disk) says so once a minute, with its cause: not a stack per request.
        logOnce('heartbeat write', error)
        throw new ApiError(503, 'store_unavailable', 'the heartbeat was not stored; retry', { headers: { 'Retry-After': '1' } })
      }
      const results = records.map((r) => ({ agent: r.agent, component: r.component, state: r.state }))
      return c.json({ accepted: results.length, results })
    },
  )

  routes.get('/v1/agents', async (c) => {
    const { view } = await views.fleet(clock())
    return c.json({ state: view.state, agents: view.agents.map(agentJson) })
  })

  routes.get('/v1/agents/:agent', async (c) => {
    const id = c.req.param('agent')
    const agent = await views.agent(id, clock())
    if (!agent) throw new ApiError(404, 'unknown_agent', `no agent ${id}`)
    return c.json(agentJson(agent))
  })

  routes.delete('/v1/agents/:agent', heartbeatToken, async (c) => {
    const agent = c.req.param('agent')
    const removed = await store.remove(agent, clock())
    if (removed === 0) throw new ApiError(404, 'unknown_agent', `no agent ${agent}`)
    return c.json({ agent, removed })
  })

  return routes
}
