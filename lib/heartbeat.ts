// What comes in: one heartbeat, or a batch of up to 100. The server validates with
// these schemas and the client (lib/client.ts) builds with them, so the two can
// never disagree about what a heartbeat is.
import { z } from 'zod'

export const MAX_BODY_BYTES = 16 * 1024
export const MAX_BATCH = 100
export const MAX_LABELS = 8
export const MAX_LABEL_NAME = 64
export const MAX_MESSAGE_BYTES = 1024
const ONE_DAY_SECONDS = 86_400

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

export const heartbeatSchema = z.strictObject({
  agent: agentId,
  component: componentId.optional(),
  status: z.enum(['ok', 'degraded', 'starting']),
  message: z
    .string()
    .refine((m) => utf8.encode(m).byteLength <= MAX_MESSAGE_BYTES, `must be at most ${MAX_MESSAGE_BYTES} bytes`)
    .optional(),
  version: z.string().min(1).max(128).optional(),
  pid: z.int().min(1).max(2 ** 31 - 1).optional(),
  interval_seconds: z.number().positive().max(ONE_DAY_SECONDS).optional(),
  grace_seconds: z.number().min(0).max(ONE_DAY_SECONDS).optional(),
  labels: labels.optional(),
})

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
