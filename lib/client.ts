// A small typed client for pulsegate, built on `fetch` only, so it runs on Node,
// Bun, Deno, Workers and in browsers (no node: imports here). Every request goes
// through openapi-fetch typed by lib/api-types.ts, which openapi-typescript
// generates from the served OpenAPI document: a path, a parameter or an answer
// the server does not have fails the typecheck. It builds every heartbeat with
// the server's own zod schemas (lib/heartbeat.ts) and validates before sending.
import createFetchClient, { type Client } from 'openapi-fetch'
import type { ZodError } from 'zod'
import type { components, paths } from './api-types.ts'
import { type Heartbeat, agentId, heartbeatBodySchema, heartbeatIssues, heartbeatSchema } from './heartbeat.ts'

export type { Heartbeat } from './heartbeat.ts'
export type { components, paths } from './api-types.ts'

export type FetchLike = (input: string, init: RequestInit) => Promise<Response>

export interface ClientOptions {
  /** Where pulsegate answers, e.g. http://127.0.0.1:8787 (a path prefix is kept). */
  baseUrl: string
  /** Sent as `Authorization: Bearer <token>` when set. */
  token?: string | undefined
  /** Defaults to the global fetch; tests and odd runtimes inject their own. */
  fetch?: FetchLike | undefined
  /** Per request, in ms; default 10 000. */
  timeout?: number | undefined
}

/** The state one heartbeat left its component in. */
export type BeatResult = components['schemas']['BeatResult']

export type ReadinessAnswer = components['schemas']['Readiness'] & {
  /** The HTTP code: 200 ok, 400 starting or recovering, 503 degraded. */
  code: number
}

export type Issue = components['schemas']['Issue']

/**
 * Anything but a success. `status` is the HTTP status, or 0 when no answer came
 * (`code` is then `network_error` or `timeout`, or `invalid_heartbeat` when the
 * client refused to send a heartbeat the server would reject).
 */
export class PulsegateError extends Error {
  override name = 'PulsegateError'
  readonly status: number
  readonly code: string
  readonly issues: Issue[] | undefined
  /** Seconds the server asked us to wait (Retry-After), when it said. */
  readonly retryAfter: number | undefined

  constructor(
    status: number,
    code: string,
    message: string,
    extra: { issues?: Issue[] | undefined; retryAfter?: number | undefined; cause?: unknown } = {},
  ) {
    super(message, extra.cause === undefined ? undefined : { cause: extra.cause })
    this.status = status
    this.code = code
    this.issues = extra.issues
    this.retryAfter = extra.retryAfter
  }

  /** Worth sending again later: no answer, a 5xx, 408 or 429. */
  get retryable(): boolean {
    if (this.status === 0) return this.code === 'network_error' || this.code === 'timeout'
    return this.status >= 500 || this.status === 408 || this.status === 429
  }

  /** The server refused the token (or wanted one). */
  get unauthorized(): boolean {
    return this.status === 401 || this.status === 403
  }
}

/** Retry-After is either delta-seconds or an HTTP date; answers seconds from `now` (≥ 0). */
export function parseRetryAfter(value: string | null, now = Date.now()): number | undefined {
  if (value === null || value.trim() === '') return undefined
  const text = value.trim()
  if (/^\d+(\.\d+)?$/.test(text)) return Number(text)
  const date = Date.parse(text)
  return Number.isNaN(date) ? undefined : Math.max(0, (date - now) / 1000)
}

function invalid(error: ZodError, sent: unknown): PulsegateError {
  const issues = heartbeatIssues(error, sent)
  const detail = issues.map((i) => (i.path.length ? `${i.path.join('.')}: ${i.message}` : i.message)).join('; ')
  return new PulsegateError(0, 'invalid_heartbeat', `the heartbeat is not valid, not sent: ${detail}`, { issues })
}

/** What went wrong with a fetch that got no answer, in words a log line can carry. */
function noAnswer(error: unknown, timeoutMs: number): PulsegateError {
  if (error instanceof Error && (error.name === 'TimeoutError' || error.name === 'AbortError')) {
    return new PulsegateError(0, 'timeout', `no answer from pulsegate within ${timeoutMs / 1000}s`, { cause: error })
  }
  return new PulsegateError(0, 'network_error', fetchFailureReason(error) || 'network error', { cause: error })
}

/** Why a fetch got no answer: Node's fetch says only "fetch failed" and keeps the reason (ECONNREFUSED …) in `cause`. */
export function fetchFailureReason(error: unknown): string {
  const cause = error instanceof Error ? error.cause : undefined
  if (cause instanceof Error && cause.message) return cause.message
  return error instanceof Error ? error.message : String(error)
}

/** An error's body as openapi-fetch left it: parsed when it was JSON, else the text. */
function errorBody(error: unknown): any {
  return typeof error === 'string' ? undefined : error
}

function parseJson(text: string): any {
  try {
    return JSON.parse(text)
  } catch {
    return undefined
  }
}

function failure(res: Response, body: any): PulsegateError {
  const retryAfter = parseRetryAfter(res.headers.get('Retry-After'))
  const e = body?.error
  if (e && typeof e.code === 'string' && typeof e.message === 'string') {
    const issues = Array.isArray(e.issues) ? (e.issues as Issue[]) : undefined
    return new PulsegateError(res.status, e.code, e.message, { issues, retryAfter })
  }
  // Not pulsegate's shape: a proxy in between, or not pulsegate at all.
  const reason = `HTTP ${res.status}${res.statusText ? ` ${res.statusText}` : ''}${res.ok ? ', not an answer from pulsegate' : ''}`
  return new PulsegateError(res.status, 'http_error', reason, { retryAfter })
}

export interface PulsegateClient {
  /** Send one heartbeat; answers the state it left its component in. */
  beat(heartbeat: Heartbeat): Promise<BeatResult>
  /** Send 1–100 heartbeats in one all-or-nothing batch; answers each in order. */
  beatMany(heartbeats: Heartbeat[]): Promise<BeatResult[]>
  /** Remove an agent; answers how many components went (0: it was already gone). */
  deregister(agent: string): Promise<number>
  /** /readyz, or /readyz/:agent when an agent is named. Not-ok states are answers, not errors. */
  readiness(agent?: string, options?: { exclude?: string[] }): Promise<ReadinessAnswer>
}

/**
 * The whole API, typed from the OpenAPI document (openapi-fetch over
 * lib/api-types.ts): `api.GET('/v1/agents', { params: { query: { limit: 50 } } })`.
 * It sends the token and uses the injected fetch; it validates nothing itself.
 */
export function createApiClient(options: Omit<ClientOptions, 'timeout'>): Client<paths> {
  const doFetch: FetchLike = options.fetch ?? ((input, init) => fetch(input, init))
  const headers: Record<string, string> = options.token ? { Authorization: `Bearer ${options.token}` } : {}
  return createFetchClient<paths>({ baseUrl: options.baseUrl.replace(/\/+$/, ''), headers, fetch: forward(doFetch) })
}

/**
 * openapi-fetch hands over a Request; FetchLike takes a URL and its init, as fetch
 * does. The signal is the caller's own when given: a Request's signal follows its
 * init's only while something holds the Request, and a fetch that never answers
 * holds nothing, so its timeout could be collected before it fires.
 */
function forward(doFetch: FetchLike, signal?: AbortSignal) {
  return async (request: Request) =>
    doFetch(request.url, {
      method: request.method,
      headers: request.headers,
      body: request.body === null ? undefined : await request.text(),
      signal: signal ?? request.signal,
    })
}

export function createClient(options: ClientOptions): PulsegateClient {
  const api = createApiClient(options)
  const doFetch: FetchLike = options.fetch ?? ((input, init) => fetch(input, init))
  const timeoutMs = options.timeout ?? 10_000
  const init = (signal: AbortSignal) => ({ headers: { Accept: 'application/json' }, parseAs: 'text' as const, fetch: forward(doFetch, signal) })

  /**
   * One answer, read as pulsegate's JSON: status and body when `accept(status,
   * body)` holds, else the server's error. openapi-fetch reads an error's body
   * as JSON when it can, and a success's as the text asked for.
   */
  async function settle(
    call: (signal: AbortSignal) => Promise<{ data?: unknown; error?: unknown; response: Response }>,
    accept: (status: number, body: any) => boolean,
  ) {
    // Not AbortSignal.timeout: its timer holds the signal weakly, so a request that nothing
    // else holds (a fetch that never answers) could be collected and never time out.
    const controller = new AbortController()
    const timer = setTimeout(() => controller.abort(new DOMException(`no answer within ${timeoutMs} ms`, 'TimeoutError')), timeoutMs)
    let answer: Awaited<ReturnType<typeof call>>
    try {
      answer = await call(controller.signal)
    } catch (error) {
      throw noAnswer(error, timeoutMs)
    } finally {
      clearTimeout(timer)
    }
    const { response } = answer
    const body = response.ok ? (typeof answer.data === 'string' ? parseJson(answer.data) : undefined) : errorBody(answer.error)
    if (!accept(response.status, body)) throw failure(response, body)
    return { status: response.status, json: body }
  }
  const ok = (status: number, body: any) => status >= 200 && status < 300 && body !== undefined

  async function send(batch: Heartbeat[] | Heartbeat): Promise<BeatResult[]> {
    const parsed = heartbeatBodySchema.safeParse(batch)
    if (!parsed.success) throw invalid(parsed.error, batch)
    // A single heartbeat goes as an object, exactly as it was given.
    const body = Array.isArray(batch) ? parsed.data : parsed.data[0]!
    const answered = (status: number, answer: any) => ok(status, answer) && Array.isArray(answer.results)
    const { json } = await settle((signal) => api.POST('/v1/heartbeat', { ...init(signal), body }), answered)
    return (json as components['schemas']['HeartbeatAnswer']).results
  }

  return {
    async beat(heartbeat) {
      const results = await send(heartbeat)
      return results[0]!
    },
    beatMany: (heartbeats) => send(heartbeats),
    async deregister(agent) {
      const id = agentId.safeParse(agent)
      if (!id.success) throw new PulsegateError(0, 'invalid_agent', `not an agent id: ${id.error.issues[0]?.message}`)
      // 404 unknown_agent: already gone, which is what was asked for.
      const gone = (status: number, body: any) => ok(status, body) || (status === 404 && body?.error?.code === 'unknown_agent')
      const { status, json } = await settle((signal) => api.DELETE('/v1/agents/{agent}', { ...init(signal), params: { path: { agent } } }), gone)
      return status === 404 ? 0 : (json as components['schemas']['Removed']).removed
    },
    async readiness(agent, { exclude = [] } = {}) {
      const query = exclude.length ? { exclude } : undefined
      const answer = (status: number, body: any) => [200, 400, 503].includes(status) && typeof body?.state === 'string'
      const call = (signal: AbortSignal) =>
        agent === undefined
          ? api.GET('/readyz', { ...init(signal), params: { query } })
          : api.GET('/readyz/{agent}', { ...init(signal), params: { path: { agent }, query } })
      const { status, json } = await settle(call, answer)
      return { code: status, ...(json as components['schemas']['Readiness']) }
    },
  }
}

/** Validate one heartbeat as the server would, without sending it (for early, clear errors). */
export function checkHeartbeat(heartbeat: unknown): PulsegateError | undefined {
  const parsed = heartbeatSchema.safeParse(heartbeat)
  return parsed.success ? undefined : invalid(parsed.error, heartbeat)
}
