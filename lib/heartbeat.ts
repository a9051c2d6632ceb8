// What comes in: one heartbeat, or a batch of up to 100. The server validates with
// these schemas and the client (lib/client.ts) builds with them, so the two can
// never disagree about what a heartbeat is.
import { z } from 'zod'
import { checkSchedule, scheduleField, tzField } from './schedule.ts'

export const MAX_BODY_BYTES = 16 * 1024
export const MAX_BATCH = 100
export const MAX_LABELS = 8
export const MAX_LABEL_NAME = 64
export const MAX_MESSAGE_BYTES = 1024
const ONE_DAY_SECONDS = 86_400
const ONE_WEEK_SECONDS = 7 * ONE_DAY_SECONDS
const ONE_YEAR_SECONDS = 365 * ONE_DAY_SECONDS

/** Label names Prometheus syntax allows and pulsegate does not use itself. */
export const RESERVED_LABELS: ReadonlySet<string> = new Set(['agent', 'component', 'version'])

const utf8 = new TextEncoder()

function identifier(max: number) {
  return z
    .string()
    .min(1)
    .max(max)
    .regex(/^[A-Za-z0-9._:-]+$/, 'may hold only letters, digits and . _ : -')
}

export const agentId = identifier(128)
export const componentId = identifier(64)

/** Why a label name is refused, or null: Prometheus syntax, and not one pulsegate uses itself. */
function labelNameProblem(name: string): string | null {
  if (name.length > MAX_LABEL_NAME) return `must be at most ${MAX_LABEL_NAME} characters`
  if (!/^[a-zA-Z_][a-zA-Z0-9_]*$/.test(name)) return 'must be a Prometheus label name'
  if (name.startsWith('__')) return 'names starting with __ are reserved'
  if (RESERVED_LABELS.has(name)) return 'agent, component and version are reserved'
  return null
}

// Names are checked on the raw JSON object, before a record schema sees them:
// a key schema would only say "Invalid key in record", and a "__proto__" key
// would never reach it (it would silently vanish instead of being refused).
const labels = z.preprocess(
  (value, ctx) => {
    if (value !== null && typeof value === 'object' && !Array.isArray(value)) {
      for (const name of Object.keys(value)) {
        const problem = labelNameProblem(name)
        if (problem) ctx.issues.push({ code: 'custom', path: [name], message: `label ${JSON.stringify(name)}: ${problem}`, input: value })
      }
    }
    return value
  },
  z
    .record(z.string(), z.string().max(128))
    .refine((l) => Object.keys(l).length <= MAX_LABELS, `at most ${MAX_LABELS} labels`),
)

/** What is expected of a component: stated in a heartbeat (sticky) or declared. */
const expectation = {
  interval_seconds: z.number().positive().max(ONE_DAY_SECONDS).optional(),
  grace_seconds: z.number().min(0).max(ONE_DAY_SECONDS).optional(),
  /** Instead of an interval: a cron expression, in `tz` (default UTC). */
  schedule: scheduleField.optional(),
  tz: tzField.optional(),
  /** How long a run may take; default the grace. */
  max_run_seconds: z.number().positive().max(ONE_WEEK_SECONDS).optional(),
  /** Silence after which the component is dropped; 0 never. */
  expire_seconds: z.int().min(0).max(ONE_YEAR_SECONDS).optional(),
  labels: labels.optional(),
}

type Expectation = { interval_seconds?: number | undefined; schedule?: string | undefined; tz?: string | undefined }

/** An interval or a schedule, not both; a zone belongs to a schedule, and is checked with it (a zone can make an expression never run). */
function checkExpectation(value: Expectation, ctx: z.RefinementCtx): void {
  if (value.schedule !== undefined && value.interval_seconds !== undefined) {
    ctx.addIssue({ code: 'custom', path: ['schedule'], message: 'a component has an interval or a schedule, not both' })
  }
  if (value.tz !== undefined && value.schedule === undefined) {
    ctx.addIssue({ code: 'custom', path: ['tz'], message: 'is the time zone of a schedule: send it with schedule' })
  }
  if (value.schedule !== undefined && value.tz !== undefined) {
    const problem = checkSchedule(value.schedule, value.tz)
    if (problem?.field === 'schedule') ctx.addIssue({ code: 'custom', path: ['schedule'], message: problem.message })
  }
}

const message = z
  .string()
  .refine((m) => utf8.encode(m).byteLength <= MAX_MESSAGE_BYTES, `must be at most ${MAX_MESSAGE_BYTES} bytes`)

export const heartbeatSchema = z
  .strictObject({
    agent: agentId,
    component: componentId.optional(),
    /** Required, except for a run's start, a log line, and a finish that gives its exit code instead. */
    status: z.enum(['ok', 'degraded', 'starting']).optional(),
    message: message.optional(),
    version: z.string().min(1).max(128).optional(),
    pid: z.int().min(1).max(2 ** 31 - 1).optional(),
    ...expectation,
    /** A job's run: `start` marks it running, with no status; `finish` ends it with one. */
    run: z.enum(['start', 'finish']).optional(),
    /** Pairs a finish with its start when runs overlap. */
    run_id: z.string().min(1).max(64).optional(),
    /** Finishes a run; 0 is ok, anything else degraded. */
    exit_code: z.int().min(0).max(255).optional(),
    /** Only a message: no status, and the deadline stays where it was. */
    log: z.boolean().optional(),
  })
  .superRefine((beat, ctx) => {
    checkExpectation(beat, ctx)
    const issue = (path: string, text: string) => ctx.addIssue({ code: 'custom', path: [path], message: text })
    if (beat.log) {
      if (beat.status !== undefined) issue('status', 'a log line reports no status')
      if (beat.run !== undefined || beat.exit_code !== undefined) issue(beat.run !== undefined ? 'run' : 'exit_code', 'a log line is not part of a run')
      return
    }
    if (beat.run === 'start') {
      if (beat.status !== undefined) issue('status', "a run's start reports no status: it changes no state")
      if (beat.exit_code !== undefined) issue('exit_code', "a run's start has no exit code")
      return
    }
    if (beat.status === undefined && beat.exit_code === undefined) {
      issue('status', beat.run === 'finish' ? 'a finished run reports a status or an exit_code' : 'is required (ok, degraded or starting)')
    }
    if (beat.exit_code !== undefined && beat.status !== undefined && (beat.exit_code === 0) !== (beat.status === 'ok')) {
      issue('status', `disagrees with exit_code ${beat.exit_code} (0 is ok, anything else degraded)`)
    }
  })

/** PUT /v1/agents/:agent/components/:component: what is expected of the component. */
export const declarationSchema = z.strictObject(expectation).superRefine(checkExpectation)

/**
 * A body is one heartbeat or a batch of 1–100, read as a batch either way; a
 * batch is all-or-nothing. (A plain union would answer a bad heartbeat with
 * "Invalid input" and no path; this names the field.)
 */
export const heartbeatBodySchema = z.preprocess(
  (body) => (Array.isArray(body) ? body : [body]),
  z.array(heartbeatSchema).min(1).max(MAX_BATCH),
)

export type Heartbeat = z.infer<typeof heartbeatSchema>
