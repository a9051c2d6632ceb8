// STATUS_PAGE=token: the pages and badges are for holders of a READ_TOKEN. A
// script sends it as a bearer token; a person opens the page once with ?token=,
// which becomes an HttpOnly, SameSite=Strict cookie (the page's stream sends it by
// itself) and is taken out of the address bar by a redirect, so it stays out of
// history, bookmarks and Referer. A badge in a README cannot send either: it takes
// ?token= as it is.
import type { MiddlewareHandler } from 'hono'
import { getCookie, setCookie } from 'hono/cookie'
import { ApiError } from '../errors.ts'
import { isToken, requireToken } from '../http.ts'

export const READ_COOKIE = 'pulsegate_read'
/** A person stays let in for this long before the page asks for the token again. */
const COOKIE_MAX_AGE_SECONDS = 30 * 86_400

const wrongToken = () =>
  new ApiError(401, 'unauthorized', 'the token is wrong', { headers: { 'WWW-Authenticate': 'Bearer realm="pulsegate"' } })

export function requireReadAccess(tokens: readonly string[]): MiddlewareHandler {
  const bearer = requireToken(tokens)
  return async (c, next) => {
    const query = c.req.query('token')
    if (query !== undefined) {
      if (!isToken(query, tokens)) throw wrongToken()
      if (c.req.path.startsWith('/badge')) return next()
      const url = new URL(c.req.url)
      setCookie(c, READ_COOKIE, query, {
        httpOnly: true,
        sameSite: 'Strict',
        secure: url.protocol === 'https:',
        path: '/',
        maxAge: COOKIE_MAX_AGE_SECONDS,
      })
      url.searchParams.delete('token')
      return c.redirect(url.pathname + url.search, 303)
    }
    const cookie = getCookie(c, READ_COOKIE)
    if (cookie !== undefined && isToken(cookie, tokens)) return next()
    return bearer(c, next)
  }
}
