// What happened: GET /v1/agents/{agent}/events (newest first), GET /v1/events (the
// fleet's, oldest first, from a time on) and GET /v1/events/stream, the same events
// as Server-Sent Events the moment they are stored, resumable with Last-Event-ID.
import { OpenAPIHono, createRoute } from '@hono/zod-openapi'
import { z } from 'zod'
import { eventPageSchema, eventSchema, stateSchema } from '../api-schemas.ts'
import { ApiError } from '../errors.ts'
import { agentId } from '../heartbeat.ts'
import { type HistoryEvent, seqBefore } from '../history.ts'
import { requireToken } from '../http.ts'
import { authErrors, internalError, invalidQueryOrAuthorization, unknownAgent } from '../openapi.ts'
import { relay } from '../sse.ts'
import type { EventPage } from '../stores/store.ts'
import { type AppEnv, type RouteDeps, refuseQuery } from './deps.ts'

export const EVENTS_DEFAULT = 50
export const EVENTS_MAX = 500

/** An event as the API answers it; its id is its seq, which orders every event of the fleet. */
export function eventJson(e: HistoryEvent): z.infer<typeof eventSchema> {
  return { id: String(e.seq), at: new Date(e.at).toISOString(), agent: e.agent, component: e.component, from: e.from, to: e.to, reason: e.reason }
}

// An event id is what pages continue after, and what Last-Event-ID resumes from.
const eventId = z.string().regex(/^\d{1,17}$/, 'an event id (digits)').transform(Number)
const limit = z.coerce
  .number()
  .int()
  .min(1)
  .max(EVENTS_MAX)
  .default(EVENTS_DEFAULT)
  .meta({ description: `Events per page, 1–${EVENTS_MAX}; default ${EVENTS_DEFAULT}` })
const cursor = eventId.optional().meta({ description: 'The `next_cursor` of the page before' })

const readAuth = { security: [{ readToken: [] }] }
const readErrors = { 400: invalidQueryOrAuthorization, ...authErrors, ...internalError }

const agentEventsRoute = createRoute({
  method: 'get',
  path: '/v1/agents/{agent}/events',
  operationId: 'listAgentEvents',
  tags: ['History'],
  summary: "One agent's state changes, newest first, a page at a time",
  description: `Kept for HISTORY_DAYS, at most HISTORY_PER_COMPONENT per component (the oldest go first, counted in pulsegate_history_dropped_total). An agent that is gone still has its history.`,
  ...readAuth,
  request: {
    params: z.object({ agent: agentId.meta({ description: 'The agent id', example: 'web-3' }) }),
    query: z.object({ limit, cursor }),
  },
  responses: {
    200: { description: 'A page of events, newest first', content: { 'application/json': { schema: eventPageSchema } } },
    ...readErrors,
    404: unknownAgent,
  },
})

const fleetEventsRoute = createRoute({
  method: 'get',
  path: '/v1/events',
  operationId: 'listEvents',
  tags: ['History'],
  summary: "The fleet's state changes, oldest first, from a time on",
  ...readAuth,
  request: {
    query: z.object({
      since: z.iso.datetime({ offset: true }).optional().meta({ description: 'Events that happened at or after this time (RFC 3339); default: all that are kept', example: '2026-12-01T03:00:00Z' }),
      limit,
      cursor,
    }),
  },
  responses: {
    200: { description: 'A page of events, oldest first', content: { 'application/json': { schema: eventPageSchema } } },
    ...readErrors,
  },
})

const streamRoute = createRoute({
  method: 'get',
  path: '/v1/events/stream',
  operationId: 'streamEvents',
  tags: ['History'],
  summary: 'State changes as they happen (Server-Sent Events)',
  description:
    'Each event as `event: transition`, `id: <event id>`, `data: <Event with agent_state>`; a comment every 25 s keeps proxies from closing an idle stream. ' +
    'Resume with the `Last-Event-ID` header (an EventSource sends it by itself) or `?after`: every event stored since is sent first, none twice. Without either, from now on.',
  ...readAuth,
  request: {
    query: z.object({
      agent: agentId.optional().meta({ description: "Only this agent's events" }),
      after: eventId.optional().meta({ description: 'Resume after this event id (Last-Event-ID wins when both are sent)' }),
    }),
    headers: z.object({ 'last-event-id': eventId.optional().meta({ description: 'The id of the last event received' }) }),
  },
  responses: {
    200: {
      description: 'The stream',
      content: { 'text/event-stream': { schema: z.string().meta({ description: 'event: transition, id, data as StreamedEvent' }) } },
    },
    ...readErrors,
  },
})

export const streamedEventSchema = eventSchema
  .extend({ agent_state: stateSchema.nullable().meta({ description: "The agent's state as the event is sent (for an event sent again on resumption, its state then); null: the agent is gone" }) })
  .meta({ id: 'StreamedEvent' })

/** A page of `shown` (the result, or some of it); the next page continues after the result's last event. */
function page(result: EventPage, shown = result.events) {
  return { events: shown.map(eventJson), next_cursor: result.more ? String(result.events.at(-1)!.seq) : null }
}

export function eventRoutes({ store, settings, clock, views }: RouteDeps): OpenAPIHono<AppEnv> {
  const routes = new OpenAPIHono<AppEnv>()
  routes.openAPIRegistry.register('StreamedEvent', streamedEventSchema)
  const readToken = requireToken(settings.readTokens)

  routes.openapi(
    { ...agentEventsRoute, middleware: readToken },
    async (c) => {
      const { agent } = c.req.valid('param')
      const { limit, cursor } = c.req.valid('query')
      const result = await store.events({ agent, before: cursor, limit })
      if (result.events.length === 0 && cursor === undefined && !(await views.agent(agent, clock()))) {
        throw new ApiError(404, 'unknown_agent', `no agent ${agent}, and no history of one`)
      }
      return c.json(page(result), 200)
    },
    refuseQuery,
  )

  routes.openapi(
    { ...fleetEventsRoute, middleware: readToken },
    async (c) => {
      const { since, limit, cursor } = c.req.valid('query')
      // Events are ordered by when they were recorded, which is never before they happened.
      const after = cursor ?? (since === undefined ? 0 : Math.max(0, seqBefore(Date.parse(since))))
      const result = await store.events({ after, limit })
      // A missed deadline noticed late is recorded after `since` but happened before it.
      const shown = since === undefined ? result.events : result.events.filter((e) => e.at >= Date.parse(since))
      return c.json(page(result, shown), 200)
    },
    refuseQuery,
  )

  routes.openapi(
    { ...streamRoute, middleware: readToken },
    (c) => {
      const { agent, after } = c.req.valid('query')
      const resume = c.req.valid('header')['last-event-id'] ?? after
      return relay(
        c,
        (signal) => store.watch(resume, signal),
        async (e) => {
          if (agent !== undefined && e.agent !== agent) return undefined
          const agentNow = await views.agent(e.agent, clock())
          const data = { ...eventJson(e), agent_state: agentNow?.state ?? null }
          return { event: 'transition', id: String(e.seq), data: JSON.stringify(data) }
        },
      ) as never
    },
    refuseQuery,
  )

  return routes
}
