// What goes out: the zod schemas of every answer, from which the OpenAPI document
// says what each route answers and the route handlers are type-checked
// (OpenAPIHono checks `c.json(body, status)` against them). Strict objects, so the
// document says no field is left out of it, and the tests that validate every
// answer against the document catch one that is.
import { z } from 'zod'
import { agentId } from './heartbeat.ts'
import { STATES } from './readiness.ts'

export const stateSchema = z.enum(STATES).meta({
  id: 'State',
  description: "Teleport's process_state: ok 0, recovering 1, degraded 2, starting 3",
})

const timestamp = z.iso.datetime().meta({ description: 'ISO 8601, UTC', example: '2026-11-22T18:04:35.592Z' })

export const beatResultSchema = z
  .strictObject({ agent: z.string(), component: z.string(), state: stateSchema })
  .meta({ id: 'BeatResult', description: 'The state one heartbeat left its component in' })

export const heartbeatAnswerSchema = z
  .strictObject({
    accepted: z.int().min(1).max(100).meta({ description: 'How many heartbeats were stored: all of them' }),
    results: z.array(beatResultSchema).meta({ description: 'One per heartbeat, in the order sent' }),
  })
  .meta({ id: 'HeartbeatAnswer' })

export const uptimeSchema = z
  .strictObject({
    '24h': z.number().min(0).max(1).nullable(),
    '7d': z.number().min(0).max(1).nullable(),
    '30d': z.number().min(0).max(1).nullable(),
  })
  .meta({
    id: 'Uptime',
    description: 'The fraction of each window up: ok and recovering count as up, degraded as down, starting not at all; null when nothing in the window counts',
  })

export const componentSchema = z
  .strictObject({
    component: z.string(),
    state: stateSchema,
    reason: z.string().nullable().meta({ description: 'Why it is not ok: its message, or "missed heartbeat"; null when ok' }),
    last_seen: timestamp.nullable().meta({ description: 'When its last heartbeat arrived; null for a declared component not heard from yet' }),
    deadline: timestamp.meta({ description: 'After this instant it counts as having missed its heartbeat' }),
    message: z.string().nullable(),
    version: z.string().nullable(),
    pid: z.int().nullable(),
    labels: z.record(z.string(), z.string()),
    interval_seconds: z.number().nullable().meta({ description: 'When the next heartbeat is due after the last; null for a component on a schedule' }),
    schedule: z.string().nullable().meta({ description: 'Its cron schedule, or null for one on an interval', example: '0 3 * * *' }),
    tz: z.string().nullable().meta({ description: "The schedule's time zone; null without a schedule", example: 'UTC' }),
    grace_seconds: z.number(),
    max_run_seconds: z.number().meta({ description: 'How long a run may take before it is degraded, "ran too long"' }),
    expire_seconds: z.number().meta({ description: 'Silence after which it is dropped; 0 never' }),
    expires: timestamp.nullable().meta({ description: 'When it will be dropped unless it reports; null never' }),
    declared: z.boolean().meta({ description: 'Declared with PUT /v1/agents/{agent}/components/{component}: expected, and kept' }),
    running_since: timestamp.nullable().meta({ description: 'When the latest run still open started; null when none is' }),
    runs_open: z.int().min(0).meta({ description: 'Runs started and not finished (overlapping runs pair by run_id)' }),
    last_duration_seconds: z.number().nullable().meta({ description: 'How long the last finished run took; null when it had no start' }),
    last_exit_code: z.int().nullable().meta({ description: 'The last finished run\'s exit code, when it gave one' }),
    last_success: timestamp.nullable().meta({ description: 'When a run last finished with success' }),
    uptime: uptimeSchema,
  })
  .meta({ id: 'Component' })

export const agentSchema = z
  .strictObject({
    agent: z.string(),
    state: stateSchema.meta({ description: "Its components aggregated with Teleport's rule" }),
    reason: z.string().nullable().meta({ description: 'Its worst component and why (`component: reason` when it has several); null when ok' }),
    pid: z.int().nullable().meta({ description: 'The latest any component reported' }),
    version: z.string().nullable().meta({ description: 'The latest any component reported' }),
    last_seen: timestamp,
    uptime: uptimeSchema.meta({ description: "Its components' states aggregated over time with Teleport's rule" }),
    components: z.array(componentSchema).meta({ description: 'Sorted by name' }),
  })
  .meta({ id: 'Agent' })

export const agentPageSchema = z
  .strictObject({
    state: stateSchema.meta({ description: 'The whole fleet aggregated, not only this page' }),
    agents: z.array(agentSchema).meta({ description: 'Sorted by id' }),
    next_cursor: z.string().nullable().meta({ description: 'Pass as `cursor` for the next page; null on the last page' }),
  })
  .meta({ id: 'AgentPage' })

export const declaredSchema = componentSchema.extend({ agent: agentId }).meta({
  id: 'DeclaredComponent',
  description: 'The component as GET /v1/agents/{agent} shows it, with its agent',
})

export const removedComponentSchema = z
  .strictObject({ agent: agentId, component: z.string(), removed: z.literal(true) })
  .meta({ id: 'RemovedComponent' })

export const removedSchema = z
  .strictObject({ agent: agentId, removed: z.int().min(1).meta({ description: 'How many components it had' }) })
  .meta({ id: 'Removed' })

export const readinessSchema = z
  .strictObject({
    status: z.string().meta({ description: "Teleport's wording", example: 'ok' }),
    state: stateSchema,
    pid: z.int().optional().meta({ description: '/readyz/{agent} only, when the agent reported one' }),
  })
  .meta({ id: 'Readiness' })

export const livenessSchema = z.strictObject({ status: z.literal('ok') }).meta({ id: 'Liveness' })

export const issueSchema = z
  .strictObject({
    path: z.array(z.union([z.string(), z.int()])).meta({ description: 'Into the body (a batch: index first) or the query' }),
    message: z.string(),
  })
  .meta({ id: 'Issue' })

/** The one error shape, with the codes a given answer can carry. */
export function errorSchema(codes: readonly [string, ...string[]]) {
  return z.strictObject({
    error: z.strictObject({
      code: z.enum(codes).meta({ description: 'Stable and machine-readable' }),
      message: z.string().meta({ description: 'For people' }),
      issues: z.array(issueSchema).optional().meta({ description: 'invalid_heartbeat and invalid_query only: what is wrong, where' }),
    }),
  })
}

export const eventSchema = z
  .strictObject({
    id: z.string().meta({ description: 'Increasing; the SSE id of the event, and what `cursor` and Last-Event-ID continue after' }),
    at: timestamp.meta({ description: 'When the change happened: a missed deadline at the deadline, whenever it was noticed' }),
    agent: z.string(),
    component: z.string(),
    from: stateSchema.nullable().meta({ description: 'null: the component was new' }),
    to: stateSchema.nullable().meta({ description: 'null: the component is gone (deregistered, expired)' }),
    reason: z
      .string()
      .nullable()
      .meta({ description: 'A message, or pulsegate\'s own: missed heartbeat, ran too long, deregistered, expired, declared' }),
  })
  .meta({ id: 'Event', description: 'One change of one component\'s state as a reader sees it' })

export const eventPageSchema = z
  .strictObject({
    events: z.array(eventSchema),
    next_cursor: z.string().nullable().meta({ description: 'Pass as `cursor` for the next page; null on the last page' }),
  })
  .meta({ id: 'EventPage' })

export const silenceSchema = z
  .strictObject({
    agent: z.string(),
    until: timestamp.meta({ description: 'Notifications are held back until then' }),
    reason: z.string().nullable(),
    at: timestamp.meta({ description: 'When the silence was set' }),
  })
  .meta({ id: 'Silence', description: "An agent whose components notify nothing (their states and history still change)" })

export const sinkStatusSchema = z
  .strictObject({
    sink: z.string().meta({ description: 'The kind and host: the URL itself may hold a secret (a Slack webhook does)', example: 'webhook:hooks.example.com' }),
    pending: z.int().min(0).meta({ description: 'Notifications waiting for it, retries included' }),
    oldest_pending: timestamp.nullable().meta({ description: 'When the oldest of them was written' }),
    last_delivered: timestamp.nullable(),
    last_error: z.string().nullable().meta({ description: 'What the last failed attempt got' }),
    last_error_at: timestamp.nullable(),
  })
  .meta({ id: 'SinkStatus' })

export const notificationStatusSchema = z
  .strictObject({
    sinks: z.array(sinkStatusSchema).meta({ description: 'Every sink the settings name, and any that still has notifications' }),
    silences: z.array(silenceSchema).meta({ description: 'The silences in force' }),
    fleet_silence: z
      .strictObject({ since: timestamp, agents: z.int().min(1) })
      .nullable()
      .meta({ description: 'A fleet-wide silence in force: many agents missed their deadlines at once, and one notification said so' }),
  })
  .meta({ id: 'NotificationStatus' })
