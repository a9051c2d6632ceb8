// healthchecks.io's ping URLs, so a crontab line that pings healthchecks.io pings
// pulsegate with only the host and key changed: GET, HEAD or POST on
// /ping/{key}/{slug} (success), …/start, …/fail, …/log and …/{exit code}, with
// ?rid= pairing runs and ?create=1 adding an unknown slug. The answers are
// healthchecks.io's own, in text/plain ("OK", "Created", "not found",
// "invalid url format", "invalid uuid format"); what healthchecks.io has no
// answer for (a cap, the rate limit, a store that cannot write) is pulsegate's
// JSON error, as for a heartbeat. The slug is the agent; the component is "main".
import { OpenAPIHono, createRoute } from '@hono/zod-openapi'
import type { Context } from 'hono'
import { z } from 'zod'
import { ApiError } from '../errors.ts'
import { type Heartbeat, MAX_MESSAGE_BYTES, agentId, cutToBytes } from '../heartbeat.ts'
import { constantTimeEqual } from '../http.ts'
import { documentedOnly, errorAnswer, internalError, retryAfterHeader, storeUnavailable } from '../openapi.ts'
import { DEFAULT_COMPONENT } from '../readiness.ts'
import { type AppEnv, type RouteDeps, countRejections, storeOr503 } from './deps.ts'

/** The bytes of a POST body that are read: what becomes the message. The rest is not read at all. */
export const PING_BODY_LIMIT = MAX_MESSAGE_BYTES

/** What the URL's last segment asks for. */
export type Signal =
  | { kind: 'success' }
  | { kind: 'start' }
  | { kind: 'fail' }
  | { kind: 'log' }
  | { kind: 'exit'; code: number }

/** The signal of a URL's last segment; `invalid` for an exit code past 255; undefined for no ping URL at all. */
export function parseSignal(segment: string | undefined): Signal | 'invalid' | undefined {
  if (segment === undefined) return { kind: 'success' }
  if (segment === 'start' || segment === 'fail' || segment === 'log') return { kind: segment }
  if (!/^\d{1,10}$/.test(segment)) return undefined
  const code = Number(segment)
  return code <= 255 ? { kind: 'exit', code } : 'invalid'
}

// healthchecks.io takes a UUID as the run id, in any case.
const RUN_ID = /^[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}$/i

/** The heartbeat a ping stands for: a run's start, its finish (success, failure, exit code), or a log line. */
export function pingHeartbeat(agent: string, signal: Signal, message: string | undefined, runId: string | undefined): Heartbeat {
  const beat: Heartbeat = { agent, component: DEFAULT_COMPONENT }
  if (runId !== undefined) beat.run_id = runId
  switch (signal.kind) {
    case 'start':
      beat.run = 'start'
      break
    case 'log':
      delete beat.run_id
      beat.log = true
      beat.message = message ?? ''
      return beat
    case 'success':
      Object.assign(beat, { run: 'finish', status: 'ok' })
      break
    case 'fail':
      Object.assign(beat, { run: 'finish', status: 'degraded' })
      message ??= 'failed'
      break
    case 'exit':
      Object.assign(beat, { run: 'finish', exit_code: signal.code })
      if (signal.code !== 0) message ??= `exit code ${signal.code}`
  }
  if (message !== undefined) beat.message = message
  return beat
}

/**
 * At most `limit` bytes of a body, as text cut on a character boundary (a
 * character cut in two is left out, not mangled); the rest is never read, so a
 * large POST costs no more than a small one.
 */
export async function readBodyPrefix(body: ReadableStream<Uint8Array> | null, limit: number): Promise<string> {
  if (!body) return ''
  const bytes = new Uint8Array(limit)
  let length = 0
  const reader = body.getReader()
  try {
    while (length < limit) {
      const { done, value } = await reader.read()
      if (done) break
      const take = Math.min(value.byteLength, limit - length)
      bytes.set(value.subarray(0, take), length)
      length += take
    }
  } finally {
    void reader.cancel().catch(() => {})
  }
  let end = length
  // Back off a UTF-8 sequence cut short: continuation bytes (10xxxxxx) after a lead byte that wants more.
  let start = end
  while (start > 0 && start > end - 4 && (bytes[start - 1]! & 0xc0) === 0x80) start--
  if (start > 0) {
    const lead = bytes[start - 1]!
    const wants = lead >= 0xf0 ? 4 : lead >= 0xe0 ? 3 : lead >= 0xc0 ? 2 : 1
    if (wants > 1 && end - (start - 1) < wants) end = start - 1
  }
  // An invalid byte decodes to U+FFFD, three bytes: cut again to stay within the limit.
  return cutToBytes(new TextDecoder().decode(bytes.subarray(0, end)), limit)
}

const pingParams = z.object({
  key: z.string().meta({ description: 'One of the PING_KEY values' }),
  slug: z.string().meta({ description: 'The agent id (its component is "main")', example: 'db-backup' }),
})
const signalParams = pingParams.extend({
  signal: z.string().meta({
    description: '`start` (a run starts: no state change), `fail` (the run failed), `log` (only a message), or an exit code 0–255 (0 is success)',
    example: 'start',
  }),
})
const pingQuery = z.object({
  create: z.string().optional().meta({ description: '`1`: an unknown slug is created (201 `Created`) instead of answering 404' }),
  rid: z.string().optional().meta({ description: "A UUID pairing a run's start with its finish when runs overlap" }),
})

const plain = (text: string, values: readonly [string, ...string[]]) => ({
  description: text,
  headers: z.object({ 'Ping-Body-Limit': z.string().meta({ description: `How many bytes of a POST body become the message: ${PING_BODY_LIMIT}` }) }),
  content: { 'text/plain': { schema: z.enum(values) } },
})

const pingResponses = {
  200: plain('Recorded (`OK`)', ['OK']),
  201: plain('Recorded, and the slug created with ?create=1 (`Created`)', ['Created']),
  400: plain('An exit code past 255 (`invalid url format`), a slug that cannot be an agent id (the same), or a rid that is not a UUID (`invalid uuid format`)', [
    'invalid url format',
    'invalid uuid format',
  ]),
  404: {
    description:
      'A wrong key, an unknown slug without ?create=1, or a last segment that is no signal (text/plain `not found`); with PING_KEY unset, the ping URLs are off (JSON `pings_off`)',
    content: {
      'text/plain': { schema: z.enum(['not found']) },
      ...errorAnswer('', ['pings_off']).content,
    },
  },
  422: errorAnswer('A new slug would take the fleet past a cap', ['too_many_agents', 'too_many_components']),
  429: errorAnswer('Pinged faster than RATE_LIMIT_PER_SECOND (`rate_limited`)', ['rate_limited'], { 'Retry-After': retryAfterHeader }),
  ...internalError,
  503: storeUnavailable,
} as const

function pingRoute(method: 'get' | 'post', withSignal: boolean) {
  const path = withSignal ? '/ping/{key}/{slug}/{signal}' : '/ping/{key}/{slug}'
  const what = withSignal ? "A run's start, failure, exit code or log line" : 'Success: a run finished well (or a plain heartbeat)'
  return createRoute({
    method,
    path,
    operationId: `ping${withSignal ? 'Signal' : 'Success'}${method === 'get' ? 'Get' : 'Post'}`,
    tags: ['Pings'],
    summary: `${what}, as healthchecks.io's ping URL`,
    description:
      method === 'post'
        ? `The body (any type) becomes the message: its first ${PING_BODY_LIMIT} bytes, cut on a character; more is accepted and not read.`
        : 'HEAD answers the same, without a body.',
    request: {
      params: withSignal ? signalParams : pingParams,
      query: pingQuery,
      ...(method === 'post' ? { body: { required: false, content: { 'text/plain': { schema: z.string() } } } } : {}),
    },
    responses: pingResponses,
  })
}

export function pingRoutes({ store, settings, clock, count }: RouteDeps): OpenAPIHono<AppEnv> {
  const routes = new OpenAPIHono<AppEnv>()
  const keys = settings.pingKeys

  /** A healthchecks.io answer: its status and its words, with the body limit announced. */
  const answer = <S extends 200 | 201 | 400 | 404, T extends string>(c: Context<AppEnv>, status: S, text: T) => {
    if (status >= 400) c.set('errorCode', text.replace(/ /g, '_'))
    return c.text(text, status, { 'Ping-Body-Limit': String(PING_BODY_LIMIT) })
  }

  const ping = async (c: Context<AppEnv>) => {
    if (keys.length === 0) throw new ApiError(404, 'pings_off', 'ping URLs are off: set PING_KEY to turn them on')
    const { key, slug, signal: segment } = c.req.param() as { key: string; slug: string; signal?: string }
    let known = false
    for (const k of keys) known = constantTimeEqual(key, k) || known // every key compared, none skipped
    if (!known) return answer(c, 404, 'not found')
    const signal = parseSignal(segment)
    if (signal === undefined) return answer(c, 404, 'not found')
    if (signal === 'invalid' || !agentId.safeParse(slug).success) return answer(c, 400, 'invalid url format')
    const runId = c.req.query('rid')
    if (runId !== undefined && runId !== '' && !RUN_ID.test(runId)) return answer(c, 400, 'invalid uuid format')

    const now = clock()
    const exists = (await store.agent(slug, now)).records.some((r) => r.component === DEFAULT_COMPONENT)
    const create = c.req.query('create') === '1'
    if (!exists && !create) return answer(c, 404, 'not found')
    const body = c.req.method === 'POST' ? await readBodyPrefix(c.req.raw.body, PING_BODY_LIMIT) : ''
    const beat = pingHeartbeat(slug, signal, body === '' ? undefined : body, runId || undefined)
    await storeOr503('ping', () => store.apply([beat], now))
    return exists ? answer(c, 200, 'OK') : answer(c, 201, 'Created')
  }

  for (const method of ['get', 'post'] as const) {
    for (const withSignal of [false, true]) {
      routes.openapi(documentedOnly(routes, { ...pingRoute(method, withSignal), middleware: countRejections(count) }), ping)
    }
  }
  return routes
}
