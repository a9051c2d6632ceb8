// The small HTTP pieces the route modules share: bearer tokens, the body limit,
// the media type, and the 405 answer derived from the routes themselves.
import type { Hono, MiddlewareHandler } from 'hono'
import { bearerAuth } from 'hono/bearer-auth'
import { bodyLimit } from 'hono/body-limit'
import { cors } from 'hono/cors'
import { ApiError } from './errors.ts'

/**
 * Equal strings, in a time that does not depend on where they differ. Like Go's
 * subtle.ConstantTimeCompare, it does not hide the length: tokens are long
 * random strings whose length is no secret. Unlike Hono's default (a SHA-256 of
 * both sides through crypto.subtle, a round trip to the thread pool per token),
 * it costs nanoseconds, which halved heartbeat ingest with a token set.
 */
export function constantTimeEqual(given: string, expected: string): boolean {
  // Past the end of `given`, charCodeAt is NaN, which counts as 0: a difference, as no token holds NUL.
  let difference = given.length ^ expected.length
  for (let i = 0; i < expected.length; i++) difference |= given.charCodeAt(i) ^ expected.charCodeAt(i)
  return difference === 0
}

/** Whether `given` is one of `tokens`. Every token is compared, none skipped. */
export function isToken(given: string, tokens: readonly string[]): boolean {
  let match = false
  for (const token of tokens) match = constantTimeEqual(given, token) || match
  return match
}

/** Require `Authorization: Bearer <one of tokens>`; no tokens, no check. */
export function requireToken(tokens: readonly string[]): MiddlewareHandler {
  if (tokens.length === 0) return async (_c, next) => next()
  return bearerAuth({ realm: 'pulsegate', verifyToken: (given) => isToken(given, tokens) })
}

const tooLarge = (maxBytes: number) => () => {
  throw new ApiError(413, 'body_too_large', `the body must be at most ${maxBytes} bytes`)
}

/**
 * Hono's bodyLimit, with its own first step taken without it: a body that states
 * its length (the servers enforce it) is judged by the header alone. bodyLimit
 * would look at the request's body stream first, which on Node makes the adapter
 * build a full Request and costs a third of a heartbeat's time.
 */
export function limitBody(maxBytes: number): MiddlewareHandler {
  const counting = bodyLimit({ maxSize: maxBytes, onError: tooLarge(maxBytes) })
  return async (c, next) => {
    const length = c.req.header('Content-Length')
    if (length === undefined || c.req.header('Transfer-Encoding') !== undefined) return counting(c, next)
    if (Number(length) > maxBytes) tooLarge(maxBytes)()
    await next()
  }
}

export function requireJson(what: string): MiddlewareHandler {
  return async (c, next) => {
    const type = c.req.header('Content-Type')?.split(';')[0]?.trim().toLowerCase() ?? ''
    if (!/^application\/([\w.-]+\+)?json$/.test(type)) {
      throw new ApiError(415, 'unsupported_media_type', `send the ${what} as Content-Type: application/json`)
    }
    await next()
  }
}

/**
 * For every path the app routes, answer any other method with 405 and an
 * `Allow` header listing the methods it does route (GET implies HEAD): derived
 * from the routes, so it cannot fall out of step with them.
 */
export function answerOtherMethods(app: Hono<any>): void {
  const methods = new Map<string, Set<string>>()
  for (const { path, method } of app.routes) {
    if (method === 'ALL' || path.includes('*')) continue // middleware
    const allowed = methods.get(path) ?? new Set<string>()
    allowed.add(method)
    if (method === 'GET') allowed.add('HEAD')
    methods.set(path, allowed)
  }
  const order = ['GET', 'HEAD', 'POST', 'PUT', 'PATCH', 'DELETE', 'OPTIONS']
  for (const [path, allowed] of methods) {
    const allow = order.filter((m) => allowed.has(m)).join(', ')
    app.all(path, () => {
      throw new ApiError(405, 'method_not_allowed', `this path answers ${allow}`, { headers: { Allow: allow } })
    })
  }
}

/**
 * CORS for the origins of CORS_ORIGINS (`*`: any). A preflight (OPTIONS with
 * Access-Control-Request-Method) is answered on every path; any other OPTIONS
 * goes on to the 405 the path would answer. Credentials are never allowed:
 * tokens travel in Authorization, which a page sets itself, and pulsegate sets
 * no cookie, so there is nothing they would add, and `*` must never carry them.
 */
export function allowOrigins(origins: readonly string[]): MiddlewareHandler {
  const answer = cors({
    origin: origins.includes('*') ? '*' : [...origins],
    allowMethods: ['GET', 'HEAD', 'POST', 'DELETE'],
    allowHeaders: ['Authorization', 'Content-Type', 'Accept'],
    // A page may read what tells it to wait, to authenticate, or how old an answer is.
    exposeHeaders: ['Retry-After', 'WWW-Authenticate', 'Allow', 'Age'],
    maxAge: 600,
    credentials: false,
  })
  return async (c, next) => {
    if (c.req.method === 'OPTIONS' && c.req.header('Access-Control-Request-Method') === undefined) return next()
    return answer(c, next)
  }
}
