// What comes in: one heartbeat, or a batch of up to 100. The server validates with
// these schemas, the served OpenAPI document is generated from them, and the client
// (lib/client.ts) builds with them, so none of the three can disagree about what a
// heartbeat is.
import { type ZodError, z } from 'zod'
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
// With the u flag a well-formed pair is one code point; only a lone surrogate is in Cs.
const LONE_SURROGATE = /\p{Cs}/u

/** True when `text` is well-formed Unicode: no lone surrogate, so it has one UTF-8 encoding and reads back as sent. */
export function isWellFormed(text: string): boolean {
  return !LONE_SURROGATE.test(text)
}

/** A string that must survive UTF-8 unchanged: JSON's \ud800 escapes can make one that would not. */
const text = () => z.string().refine(isWellFormed, 'must be well-formed Unicode (no lone surrogates)')

/**
 * `text` cut to at most `maxBytes` of UTF-8, on a character boundary, ending in
 * `mark` (which counts against the bytes) when it was cut.
 */
export function cutToBytes(text: string, maxBytes: number, mark = ''): string {
  if (utf8.encode(text).byteLength <= maxBytes) return text
  const budget = maxBytes - utf8.encode(mark).byteLength
  let used = 0
  let cut = 0
  for (const char of text) {
    const size = utf8.encode(char).byteLength
    if (used + size > budget) break
    used += size
    cut += char.length
  }
  return text.slice(0, cut) + mark
}

function identifier(max: number) {
  return z
    .string()
    .min(1)
    .max(max)
    .regex(/^[A-Za-z0-9._:-]+$/, 'may hold only letters, digits and . _ : -')
}

export const agentId = identifier(128).meta({ description: 'The agent: 1–128 of A-Z a-z 0-9 . _ : -', example: 'node-17' })
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
    .record(z.string(), text().max(128))
    .refine((l) => Object.keys(l).length <= MAX_LABELS, `at most ${MAX_LABELS} labels`)
    .meta({
      description:
        'Shown in /v1/agents and carried by notifications and alerts; on /metrics only as pulsegate_component_info, for the names METRICS_LABELS lists. At most 8; names are Prometheus label names, not starting with __ and not agent, component or version; values at most 128 characters. Replaced as a whole.',
      maxProperties: MAX_LABELS,
      propertyNames: { pattern: '^[a-zA-Z_][a-zA-Z0-9_]*$', maxLength: MAX_LABEL_NAME },
      example: { region: 'eu-west' },
    }),
)

/** What is expected of a component: stated in a heartbeat (sticky) or declared. */
const expectation = {
  interval_seconds: z
    .number()
    .positive()
    .max(ONE_DAY_SECONDS)
    .optional()
    .meta({ description: 'When the next heartbeat is due; sticky; default DEFAULT_INTERVAL_SECONDS (60). Not with schedule' }),
  grace_seconds: z
    .number()
    .min(0)
    .max(ONE_DAY_SECONDS)
    .optional()
    .meta({ description: 'How late it may be before it counts as missed; sticky; default max(5, interval / 2), for a schedule half the gap between runs (5 s to 1 h)' }),
  schedule: scheduleField
    .optional()
    .meta({ description: 'Instead of interval_seconds: a cron expression (5 fields, 6 with seconds first, or @hourly, @daily, @weekly, @monthly, @yearly); sticky', example: '0 3 * * *' }),
  tz: tzField.optional().meta({ description: "The schedule's IANA time zone; default UTC; only with schedule", example: 'Europe/Berlin' }),
  max_run_seconds: z
    .number()
    .positive()
    .max(ONE_WEEK_SECONDS)
    .optional()
    .meta({ description: 'How long a run may take before the component is degraded, "ran too long"; sticky; default the grace' }),
  expire_seconds: z
    .int()
    .min(0)
    .max(ONE_YEAR_SECONDS)
    .optional()
    .meta({ description: 'Silence after which the component is dropped (never before it has been seen missed for a whole period); 0 never; sticky; default EXPIRE_SECONDS, never for a declared component' }),
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

export const heartbeatSchema = z
  .strictObject({
    agent: agentId,
    component: componentId.optional().meta({ description: 'The component, 1–64 of A-Z a-z 0-9 . _ : -; default "main"', example: 'proxy' }),
    status: z
      .enum(['ok', 'degraded', 'starting'])
      .optional()
      .meta({ description: "What the component reports; recovering is never sent, it is earned. Required, except for a run's start, a log line, and a finish with an exit_code" }),
    message: text()
      .refine((m) => utf8.encode(m).byteLength <= MAX_MESSAGE_BYTES, `must be at most ${MAX_MESSAGE_BYTES} bytes`)
      .optional()
      .meta({ description: 'At most 1024 bytes once UTF-8 encoded; belongs to this heartbeat only, and is the reason of a component that is not ok', maxLength: MAX_MESSAGE_BYTES }),
    version: text().min(1).max(128).optional().meta({ description: 'Sticky: kept until a heartbeat states another', example: '19.1.2' }),
    pid: z.int().min(1).max(2 ** 31 - 1).optional().meta({ description: 'Sticky', example: 4242 }),
    ...expectation,
    run: z
      .enum(['start', 'finish'])
      .optional()
      .meta({ description: "A job's run: start marks it running (no status, no state change); finish ends it, with a status or an exit_code" }),
    run_id: text().min(1).max(64).optional().meta({ description: 'Pairs a finish with its start when runs overlap; a finish without one ends the latest start', example: 'b5d8f0c2' }),
    exit_code: z.int().min(0).max(255).optional().meta({ description: "Finishes a run: 0 is ok, anything else degraded (a status, if also given, must agree)" }),
    log: z.boolean().optional().meta({ description: 'true: only a message; no status, no state change, and the deadline stays where it was' }),
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
  .meta({ id: 'Heartbeat', description: 'One heartbeat: the state one component of an agent reports, or a signal of a job\'s run. Unknown fields are refused.' })

/** PUT /v1/agents/{agent}/components/{component}: what is expected of the component. */
export const declarationSchema = z
  .strictObject(expectation)
  .superRefine(checkExpectation)
  .meta({
    id: 'Declaration',
    description: 'What is expected of a component. Each declaration replaces the one before: a field left out is its default again. Unknown fields are refused.',
  })

/**
 * A body is one heartbeat or a batch of 1–100, read as a batch either way; a
 * batch is all-or-nothing. A union, so the OpenAPI document says both; its
 * issues are read with heartbeatIssues, which keeps the path into the shape sent.
 */
export const heartbeatBodySchema = z
  .union([heartbeatSchema, z.array(heartbeatSchema).min(1).max(MAX_BATCH).meta({ description: 'A batch of 1–100, stored all or nothing' })])
  .transform((body) => (Array.isArray(body) ? body : [body]))

export type Heartbeat = z.infer<typeof heartbeatSchema>

export interface Issue {
  path: (string | number)[]
  message: string
}

/**
 * What is wrong with a body, as paths into what was sent: a heartbeat's own
 * fields for one heartbeat, `[index, field]` in a batch. The union's two
 * branches each failed; the one that matches the shape sent says why.
 */
export function heartbeatIssues(error: ZodError, body: unknown): Issue[] {
  const issues = error.issues.flatMap((issue) =>
    issue.code === 'invalid_union' && issue.errors.length === 2 ? issue.errors[Array.isArray(body) ? 1 : 0]! : [issue],
  )
  return issues.map((i) => ({ path: i.path.map((p) => (typeof p === 'number' ? p : String(p))), message: i.message }))
}
