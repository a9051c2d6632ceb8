// The status page, the agent page, their assets and event stream, and the badges,
// as one Hono sub-app over a StatusSource. Portable: hono and the web platform
// only, so Node, Bun, Deno and Workers serve the same pages.
import { Hono, type Context } from 'hono'
import { compress } from 'hono/compress'
import { etag } from 'hono/etag'
import { z } from 'zod'
import { ApiError, errorResponse, toApiError } from '../errors.ts'
import { agentId } from '../heartbeat.ts'
import { readyzStatus } from '../probes.ts'
import type { State } from '../readiness.ts'
import { KEEP_ALIVE_MS, relay } from '../sse.ts'
import { type Badge, badgeFor, badgeSvg, shieldsEndpoint } from './badge.ts'
import { LIVE_SCRIPT } from './live.ts'
import {
  type AgentPage,
  type FleetPage,
  type FleetSummary,
  type TransitionEvent,
  type Uptime,
  UPTIME_WINDOWS,
  type UptimeWindow,
  type Visibility,
  visibleReason,
} from './model.ts'
import { type PageContext, agentPage, fleetPage, notFoundPage } from './pages.ts'
import { STYLE } from './style.ts'
import { requireReadAccess } from './access.ts'

/** What the pages need from the store engine: a few reads, and the live transitions if it has them. */
export interface StatusSource {
  fleet(now: number): Promise<FleetPage>
  /** undefined: no such agent (the page answers 404). */
  agent(id: string, now: number): Promise<AgentPage | undefined>
  /** The fleet's state and uptime, for /badge.svg. */
  summary(now: number): Promise<FleetSummary>
  /**
   * Transitions with a sequence number above `after` (null: from now on), then
   * each new one as it happens, until `signal` aborts. Without it the pages are
   * not live (they still render, and reload themselves with JavaScript off).
   */
  transitions?(options: { after: number | null; signal: AbortSignal }): AsyncIterable<TransitionEvent>
}

export interface StatusOptions {
  /** ms since the epoch; tests inject their own. */
  clock?: () => number
  /** Default: no messages, labels, pids or versions (a public page). */
  visibility?: Visibility
  /** gzip pages when asked (default); off on Workers, whose runtime compresses itself. */
  compression?: boolean
  /** A comment on an idle stream this often, so proxies keep it open (default 25 s). */
  keepAliveMs?: number
  /** Only holders of one of these tokens see the pages and badges (STATUS_PAGE=token); none: anyone. */
  tokens?: readonly string[]
}

/** A README badge tracks reality within this (GitHub's camo honours max-age). */
export const BADGE_MAX_AGE = 30
/** Uptime moves slowly: a badge of it can be cached longer. */
export const UPTIME_BADGE_MAX_AGE = 300
const ASSET_CACHE = 'public, max-age=31536000, immutable'

/** FNV-1a, in base 36: a cache-busting version for an asset, computed the same way on every runtime. */
function version(text: string): string {
  let hash = 0x811c9dc5
  for (let i = 0; i < text.length; i++) hash = Math.imul(hash ^ text.charCodeAt(i), 0x01000193)
  return (hash >>> 0).toString(36)
}

const ASSETS = { style: version(STYLE), script: version(LIVE_SCRIPT) }

// Pages: only our own assets and our own stream; styles only from the stylesheet.
const PAGE_HEADERS = {
  'Content-Security-Policy':
    "default-src 'none'; style-src 'self'; script-src 'self'; connect-src 'self'; img-src 'self'; base-uri 'none'; form-action 'none'",
  'Cache-Control': 'no-store',
  'Referrer-Policy': 'no-referrer',
  'X-Content-Type-Options': 'nosniff',
}

const uptimeQuery = z.enum(UPTIME_WINDOWS).optional()
const sequence = z.coerce.number().int().min(0)

function badRequest(message: string): never {
  throw new ApiError(400, 'invalid_query', message)
}

/** The sub-app: GET /status, /status/:agent, /status/~/…, /badge.svg and /badge/:agent.(svg|json|shields). */
export function statusRoutes(source: StatusSource, options: StatusOptions = {}): Hono {
  const clock = options.clock ?? Date.now
  const visibility = options.visibility ?? { details: false }
  const keepAliveMs = options.keepAliveMs ?? KEEP_ALIVE_MS
  const app = new Hono()
  const live = source.transitions !== undefined

  app.onError((error, c) => errorResponse(c, toApiError(error)))
  if (options.tokens?.length) {
    const access = requireReadAccess(options.tokens)
    for (const path of ['/status', '/status/*', '/badge*']) app.use(path, access)
  }
  if (options.compression ?? true) {
    app.use('/status', compress())
    app.use('/status/*', compress())
  }

  const context = (root: string): PageContext => ({ now: clock(), visibility, root, assets: ASSETS, live })

  app.get('/status', async (c) => {
    const ctx = context('')
    return c.html(await fleetPage(await source.fleet(ctx.now), ctx), 200, PAGE_HEADERS)
  })

  app.get('/status/~/style.css', (c) => c.body(STYLE, 200, { 'Content-Type': 'text/css; charset=utf-8', 'Cache-Control': ASSET_CACHE }))
  app.get('/status/~/live.js', (c) =>
    c.body(LIVE_SCRIPT, 200, { 'Content-Type': 'text/javascript; charset=utf-8', 'Cache-Control': ASSET_CACHE }),
  )

  app.get('/status/~/events', (c) => {
    if (!source.transitions) return c.body(null, 204) // an EventSource stops on 204: nothing to wait for
    const agent = c.req.query('agent')
    if (agent !== undefined && !agentId.safeParse(agent).success) badRequest('agent must be an agent id')
    const resume = c.req.header('Last-Event-ID') ?? c.req.query('after')
    const after = resume === undefined ? { success: true as const, data: null } : sequence.safeParse(resume)
    if (!after.success) badRequest('Last-Event-ID (or after) must be a sequence number')
    const transitions = source.transitions.bind(source)
    return relay(
      c,
      (signal) => transitions({ after: after.data, signal }),
      (e) => {
        if (agent !== undefined && e.agent !== agent) return undefined
        const data: TransitionEvent = { ...e, reason: visibleReason(e.reason, visibility) }
        return { event: 'transition', id: String(e.seq), data: JSON.stringify(data) }
      },
      keepAliveMs,
    )
  })

  app.get('/status/:agent', async (c) => {
    const ctx = context('../')
    const id = c.req.param('agent')
    const page = agentId.safeParse(id).success ? await source.agent(id, ctx.now) : undefined
    if (!page) return c.html(await notFoundPage(id, ctx), 404, PAGE_HEADERS)
    return c.html(await agentPage(page, ctx), 200, PAGE_HEADERS)
  })

  app.use('/badge*', etag())
  app.get('/badge/:file', async (c) => {
    const file = c.req.param('file')
    const dot = file.lastIndexOf('.')
    const [id, format] = [file.slice(0, dot), file.slice(dot + 1)]
    if (dot <= 0 || !isFormat(format)) throw new ApiError(404, 'not_found', 'badges are /badge/<agent>.svg, .json or .shields')
    const window = parseWindow(c)
    const page = agentId.safeParse(id).success ? await source.agent(id, clock()) : undefined
    if (!page) return answerUnknown(c, id, format)
    return answerBadge(c, format, `agent ${id}`, id, page.state, page.uptime, window)
  })
  for (const format of FORMATS) {
    app.get(`/badge.${format}`, async (c) => {
      const window = parseWindow(c)
      const { state, uptime } = await source.summary(clock())
      return answerBadge(c, format, 'fleet', 'pulsegate', state, uptime, window)
    })
  }

  return app
}

const FORMATS = ['svg', 'json', 'shields'] as const
type Format = (typeof FORMATS)[number]
const isFormat = (s: string): s is Format => (FORMATS as readonly string[]).includes(s)

function parseWindow(c: Context): UptimeWindow | undefined {
  const parsed = uptimeQuery.safeParse(c.req.query('uptime'))
  if (!parsed.success) badRequest('uptime must be one of 24h, 7d, 30d')
  return parsed.data
}

function answerBadge(c: Context, format: Format, subject: string, label: string, state: State, uptime: Uptime, window?: UptimeWindow) {
  const maxAge = window ? UPTIME_BADGE_MAX_AGE : BADGE_MAX_AGE
  const headers = { 'Cache-Control': `public, max-age=${maxAge}`, 'X-Content-Type-Options': 'nosniff' }
  const badge = badgeFor(label, state, window && { window, ratio: uptime[window] })
  switch (format) {
    case 'svg':
      return svgResponse(c, badge, 200, headers)
    case 'json':
      return c.json({ status: readyzStatus(state, subject), state, uptime }, 200, headers)
    case 'shields':
      return c.json(shieldsEndpoint(badge), 200, headers)
  }
}

function svgResponse(c: Context, badge: Badge, status: 200 | 404, headers: Record<string, string>) {
  return c.body(badgeSvg(badge), status, { ...headers, 'Content-Type': 'image/svg+xml; charset=utf-8' })
}

/** A badge of an unknown agent still draws (a README shows why), with a 404 for scripts. */
function answerUnknown(c: Context, id: string, format: Format) {
  const headers = { 'Cache-Control': `public, max-age=${BADGE_MAX_AGE}` }
  const badge: Badge = { label: id, message: 'unknown agent', color: 'lightgrey' }
  if (format === 'svg') return svgResponse(c, badge, 404, headers)
  if (format === 'shields') return c.json(shieldsEndpoint(badge, true), 404, headers)
  return errorResponse(c, new ApiError(404, 'unknown_agent', `no agent ${id}`, { headers }))
}
