// Who is told, and who is not: GET /v1/notifications (each sink's outbox and last
// error, the silences in force), and POST and DELETE /v1/agents/{agent}/silence.
import { OpenAPIHono, createRoute } from '@hono/zod-openapi'
import { z } from 'zod'
import { notificationStatusSchema, silenceSchema } from '../api-schemas.ts'
import { ApiError } from '../errors.ts'
import { MAX_BODY_BYTES, agentId } from '../heartbeat.ts'
import { limitBody, requireJson, requireToken } from '../http.ts'
import { sinkLabel } from '../notify/notification.ts'
import { authErrors, bodyErrors, errorAnswer, internalError, invalidBody, malformedAuthorization, storeUnavailable } from '../openapi.ts'
import { type AppEnv, type RouteDeps, countRejections, refuseBody, storeOr503 } from './deps.ts'

const MAX_SILENCE_SECONDS = 90 * 86_400
const iso = (ms: number | null) => (ms === null ? null : new Date(ms).toISOString())

export const silenceBodySchema = z
  .strictObject({
    until: z.iso.datetime({ offset: true }).optional().meta({ description: 'Until when (RFC 3339); or give `for_seconds`' }),
    for_seconds: z.number().positive().max(MAX_SILENCE_SECONDS).optional().meta({ description: `For how long from now, at most ${MAX_SILENCE_SECONDS} (90 days)` }),
    reason: z.string().max(256).optional().meta({ description: 'Why, for whoever looks: a maintenance window, a ticket' }),
  })
  .refine((b) => (b.until === undefined) !== (b.for_seconds === undefined), { message: 'give `until` or `for_seconds`, one of them' })
  .meta({ id: 'SilenceRequest' })

const agentParam = z.object({ agent: agentId.meta({ description: 'The agent id; it need not have reported yet', example: 'db-1' }) })

const invalidSilence = invalidBody('invalid_silence', 'The agent id or the silence')

const silenceRoute = createRoute({
  method: 'post',
  path: '/v1/agents/{agent}/silence',
  operationId: 'silenceAgent',
  tags: ['Notifications'],
  summary: "Hold back an agent's notifications for a while",
  description:
    'Its components still change state and history, and probes and metrics answer as before; nothing is told of them until the silence ends. ' +
    'A component still down when it ends (or is lifted) is told then. A new silence replaces the one before.',
  security: [{ heartbeatToken: [] }],
  request: { params: agentParam, body: { required: true, content: { 'application/json': { schema: silenceBodySchema } } } },
  responses: {
    200: { description: 'Silenced', content: { 'application/json': { schema: silenceSchema } } },
    400: invalidSilence,
    ...authErrors,
    ...bodyErrors,
    ...internalError,
    503: storeUnavailable,
  },
})

const liftRoute = createRoute({
  method: 'delete',
  path: '/v1/agents/{agent}/silence',
  operationId: 'liftSilence',
  tags: ['Notifications'],
  summary: "Lift an agent's silence: what is still down is told now",
  security: [{ heartbeatToken: [] }],
  request: { params: agentParam },
  responses: {
    200: { description: 'Lifted', content: { 'application/json': { schema: z.strictObject({ agent: z.string(), lifted: z.literal(true) }).meta({ id: 'Lifted' }) } } },
    400: invalidSilence,
    ...authErrors,
    404: errorAnswer('The agent is not silenced (`not_silenced`)', ['not_silenced']),
    ...internalError,
    503: storeUnavailable,
  },
})

const statusRoute = createRoute({
  method: 'get',
  path: '/v1/notifications',
  operationId: 'getNotifications',
  tags: ['Notifications'],
  summary: 'Where notifications go, what waits, what failed last, and the silences in force',
  security: [{ readToken: [] }],
  responses: {
    200: { description: 'The state of delivery', content: { 'application/json': { schema: notificationStatusSchema } } },
    400: errorAnswer(`Sent ${malformedAuthorization}`, ['invalid_authorization']),
    ...authErrors,
    ...internalError,
  },
})

const refuse = refuseBody('invalid_silence', 'silence')

export function notificationRoutes({ store, settings, clock, count }: RouteDeps): OpenAPIHono<AppEnv> {
  const routes = new OpenAPIHono<AppEnv>()
  const heartbeatToken = requireToken(settings.heartbeatTokens)

  routes.openapi(
    { ...silenceRoute, middleware: [countRejections(count), heartbeatToken, requireJson('silence'), limitBody(MAX_BODY_BYTES)] },
    async (c) => {
      const { agent } = c.req.valid('param')
      const body = c.req.valid('json')
      const now = clock()
      const until = body.until !== undefined ? Date.parse(body.until) : now + body.for_seconds! * 1000
      if (until <= now) throw new ApiError(400, 'invalid_silence', 'until is not in the future; nothing was stored', { issues: [{ path: ['until'], message: 'must be in the future' }] })
      if (until > now + MAX_SILENCE_SECONDS * 1000) {
        throw new ApiError(400, 'invalid_silence', 'a silence lasts at most 90 days; nothing was stored', { issues: [{ path: ['until'], message: 'at most 90 days ahead' }] })
      }
      const silence = { agent, until, reason: body.reason ?? null, at: now }
      await storeOr503('silence', () => store.silence(silence, now))
      return c.json({ agent, until: iso(until)!, reason: silence.reason, at: iso(now)! }, 200)
    },
    refuse,
  )

  routes.openapi(
    { ...liftRoute, middleware: [countRejections(count), heartbeatToken] },
    async (c) => {
      const { agent } = c.req.valid('param')
      const lifted = await storeOr503('silence', () => store.unsilence(agent, clock()))
      if (!lifted) throw new ApiError(404, 'not_silenced', `agent ${agent} is not silenced`)
      return c.json({ agent, lifted: true as const }, 200)
    },
    refuse,
  )

  routes.openapi({ ...statusRoute, middleware: requireToken(settings.readTokens) }, async (c) => {
    const status = await store.notificationStatus(clock())
    return c.json(
      {
        sinks: status.sinks.map((s) => ({
          sink: sinkLabel(s.sink),
          pending: s.pending,
          oldest_pending: iso(s.oldestPending),
          last_delivered: iso(s.lastDelivered),
          last_error: s.lastError,
          last_error_at: iso(s.lastErrorAt),
        })),
        silences: status.silences.map((s) => ({ agent: s.agent, until: iso(s.until)!, reason: s.reason, at: iso(s.at)! })),
        fleet_silence: status.mass ? { since: iso(status.mass.since)!, agents: status.mass.agents } : null,
      },
      200,
    )
  })

  return routes
}
