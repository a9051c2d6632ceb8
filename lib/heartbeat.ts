// What comes in: one heartbeat, or a batch of up to 100. The server validates with
// these schemas and the client (lib/client.ts) builds with them, so the two can
// never disagree about what a heartbeat is.
import { z } from 'zod'

export const MAX_BODY_BYTES = 16 * 1024
export const MAX_BATCH = 100
export const MAX_LABELS = 8
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

const labelName = z
  .string()
  .regex(/^[a-zA-Z_][a-zA-Z0-9_]*$/, 'must be a Prometheus label name')
  .refine((name) => !name.startsWith('__'), 'names starting with __ are reserved')
  .refine((name) => !RESERVED_LABELS.has(name), 'agent, component and version are reserved')

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
  labels: z
    .record(labelName, z.string().max(128))
    .refine((labels) => Object.keys(labels).length <= MAX_LABELS, `at most ${MAX_LABELS} labels`)
    .optional(),
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
