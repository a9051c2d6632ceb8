// What every route module is built from: the store, the settings, the clock and
// the shared views; one small OpenAPIHono app per module, composed by lib/app.ts.
import type { MiddlewareHandler } from 'hono'
import type { ZodError } from 'zod'
import { ApiError } from '../errors.ts'
import { heartbeatIssues } from '../heartbeat.ts'
import { LimitError } from '../limits.ts'
import { logOnce } from '../logging.ts'
import type { Settings } from '../settings.ts'
import type { Store, TrafficCounter } from '../stores/store.ts'
import type { FleetViews } from '../views.ts'

export type AppEnv = { Variables: { errorCode: string } }

export interface RouteDeps {
  store: Store
  settings: Settings
  /** The clock, in ms since the epoch; tests inject their own. */
  clock: () => number
  views: FleetViews
  /**
   * Count a rejection or a scrape once it is answered, before the response
   * leaves (so the next scrape sees it). Bookkeeping: it never rejects, so a
   * failure to count never turns the answer into an error.
   */
  count: (counter: TrafficCounter, label: string) => Promise<void>
}

/**
 * A write the client is told was stored only once it is. A cap or the rate limit
 * refusing it stays that answer; any other failure (a full disk) is a 503 to retry,
 * said in the log once a minute with its cause, not a stack per request.
 */
export async function storeOr503<T>(what: string, write: () => Promise<T>): Promise<T> {
  try {
    return await write()
  } catch (error) {
    if (error instanceof LimitError) throw error
    logOnce(`${what} write`, error)
    throw new ApiError(503, 'store_unavailable', `the ${what} was not stored; retry`, { headers: { 'Retry-After': '1' } })
  }
}

/** Count each refusal (4xx) of the routes it guards in pulsegate_heartbeats_rejected_total, by its code. */
export function countRejections(count: RouteDeps['count']): MiddlewareHandler<AppEnv> {
  return async (c, next) => {
    await next()
    if (c.res.status >= 400 && c.res.status < 500) await count('rejected', c.get('errorCode'))
  }
}

/** A query's zod issues as the JSON error's `issues`. */
export function queryIssues(error: ZodError) {
  return error.issues.map((i) => ({ path: i.path.map((p) => (typeof p === 'number' ? p : String(p))), message: i.message }))
}

/** The hook of a route with a validated body: a 400 `code` naming each field; nothing is stored. */
export function refuseBody(code: string, what: string) {
  return (result: { success: true } | { success: false; error: ZodError }): undefined => {
    if (result.success) return undefined
    throw new ApiError(400, code, `the ${what} is not valid; nothing was stored`, { issues: heartbeatIssues(result.error, undefined) })
  }
}

/** The hook of a route with a validated query: a 400 naming each field. */
export function refuseQuery(result: { success: true } | { success: false; error: ZodError }): undefined {
  if (!result.success) throw new ApiError(400, 'invalid_query', 'the query is not valid', { issues: queryIssues(result.error) })
  return undefined
}
