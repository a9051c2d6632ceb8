// The status pages and badges through the whole app (createApp over the store
// engine, at an injected clock): what is public and what STATUS_PAGE_DETAILS
// adds, uptime, day bars and events exactly as the engine records them, the
// badges and the shields endpoint schema, STATUS_PAGE=off and =token, and the
// event stream with the store's sequence numbers.
import { describe, expect, it } from 'vitest'
import { z } from 'zod'
import { DAY_MS } from '../lib/history.ts'
import { SHIELDS_COLORS, badgeSvg, textWidth, uptimeColor } from '../lib/status/badge.ts'
import { iso, percent } from '../lib/status/format.ts'
import { visibleReason } from '../lib/status/model.ts'
import { BADGE_MAX_AGE, UPTIME_BADGE_MAX_AGE, statusRoutes } from '../lib/status/routes.ts'
import { storeStatusSource } from '../lib/status/source.ts'
import { FleetViews } from '../lib/views.ts'
import {
  DAY,
  DB_DOWN_MINUTES,
  DB_OUTAGE_HOURS,
  FLEET_NOW,
  MINUTE,
  MIXED_SECRETS,
  MIXED_STATES,
  SECOND,
  type StatusFleet,
  mixedFleet,
} from './support/status-fleet.ts'

/**
 * The shields.io endpoint schema as its documentation states it
 * (https://shields.io/badges/endpoint-badge): unknown keys are refused, as shields does.
 */
const shieldsEndpointSchema = z
  .strictObject({
    schemaVersion: z.literal(1),
    label: z.string(),
    message: z.string().min(1),
    color: z.string().min(1).optional(),
    labelColor: z.string().min(1).optional(),
    isError: z.boolean().optional(),
    namedLogo: z.string().min(1).optional(),
    logoSvg: z.string().min(1).optional(),
    logoColor: z.string().min(1).optional(),
    logoWidth: z.number().optional(),
    style: z.string().min(1).optional(),
    cacheSeconds: z.int().min(0).optional(),
  })
  .refine((b) => !(b.namedLogo && b.logoSvg), 'namedLogo or logoSvg, not both')

const AGENTS = Object.keys(MIXED_STATES)
/** The UTC day (YYYY-MM-DD) an instant falls on, as the bars name days. */
const dayOf = (ms: number) => iso(ms).slice(0, 10)
/** ms of the UTC day of `ms` gone by at `ms`. */
const sinceMidnight = (ms: number) => ms - Math.floor(ms / DAY_MS) * DAY_MS

/** A request to an app other than the fixture's default one. */
const requestTo = (app: StatusFleet['app'], path: string, init?: RequestInit) => Promise.resolve(app.request(`http://pulsegate.test${path}`, init))

describe('what is public', () => {
  it('shows built-in reasons and drops messages unless details are allowed', () => {
    expect(visibleReason('missed heartbeat', { details: false })).toBe('missed heartbeat')
    expect(visibleReason('ran too long', { details: false })).toBe('ran too long')
    expect(visibleReason('disk 97% full', { details: false })).toBeNull()
    expect(visibleReason('disk 97% full', { details: true })).toBe('disk 97% full')
    expect(visibleReason(null, { details: true })).toBeNull()
  })

  it('keeps messages, pids, versions and labels off every public page and badge', async () => {
    const { fleet } = await mixedFleet()
    // The store does hold them: the pages are what leave them out.
    expect((await fleet.eventsOf('db-1')).map((e) => e.reason)).toContain('disk 97% full on /var/lib/postgresql')
    const paths = ['/status', ...AGENTS.flatMap((agent) => [`/status/${agent}`, `/badge/${agent}.json`, `/badge/${agent}.svg`])]
    for (const path of paths) {
      const body = await fleet.text(path)
      for (const secret of MIXED_SECRETS) expect(body, `${path} shows ${secret}`).not.toContain(secret)
    }
    expect(await fleet.text('/status/batch-7')).toContain('missed heartbeat')
    const fleetPage = await fleet.text('/status')
    expect(fleetPage).toContain('<td class="r">nightly</td>') // backup's reason: the component, not its message
    expect(fleetPage).toMatch(/data-agent="db-1"[^>]*><th scope="row"><a href="status\/db-1">db-1<\/a><\/th><td><span class="st">degraded<\/span><\/td><td class="r"><\/td>/)
  })

  it('shows them, escaped, with STATUS_PAGE_DETAILS=true', async () => {
    const { fleet } = await mixedFleet()
    const detailed = fleet.appWith({ STATUS_PAGE_DETAILS: 'true' })
    await fleet.advance(SECOND)
    await fleet.beat({ agent: 'db-1', status: 'degraded', message: '<script>alert(1)</script> & more' })
    const fleetBody = await (await requestTo(detailed, '/status')).text()
    expect(fleetBody).toContain('&lt;script&gt;alert(1)&lt;/script&gt; &amp; more')
    expect(fleetBody).not.toContain('<script>alert')
    expect(fleetBody).toContain('<td class="r">nightly: first run pending</td>')
    const db = await (await requestTo(detailed, '/status/db-1')).text()
    expect(db).toContain('<td data-l="Message">&lt;script&gt;alert(1)&lt;/script&gt; &amp; more</td>')
    expect(db).toContain('<td data-l="PID">4242</td>')
    expect(db).toContain('disk 99% full on /var/lib/postgresql') // an old event's reason
    const gateway = await (await requestTo(detailed, '/status/api-gateway')).text()
    expect(gateway).toContain('<td data-l="Version">2.4.1</td>')
    expect(gateway).toContain('<td data-l="Labels">region=eu-west</td>')
    // The same store, through the public app at the same moment: none of it.
    const publicDb = await fleet.text('/status/db-1')
    expect(publicDb).not.toContain('alert(1)')
    expect(publicDb).not.toContain('data-l="Message"')
  })
})

describe('uptime, day bars and events, from the store', () => {
  it("works db-1's uptime out exactly from its outages", async () => {
    const { fleet } = await mixedFleet()
    // Up all month but 3 h twelve days ago and the last 38 min (recovering counts as up).
    const expected = {
      '24h': (1440 - DB_DOWN_MINUTES) / 1440,
      '7d': (7 * 1440 - DB_DOWN_MINUTES) / (7 * 1440),
      '30d': (30 * 1440 - DB_DOWN_MINUTES - DB_OUTAGE_HOURS * 60) / (30 * 1440),
    }
    const badge = (await (await fleet.request('/badge/db-1.json')).json()) as any
    expect(badge).toEqual({ status: 'agent db-1 is in a degraded state, check /readyz?verbose for details', state: 'degraded', uptime: expected })
    expect(percent(expected['24h'])).toBe('97.36%')

    const row = /<tr class="s-degraded" data-agent="db-1".*?<\/tr>/.exec(await fleet.text('/status'))![0]
    const cells = [...row.matchAll(/<td>([^<]*)<\/td>/g)].map((m) => m[1])
    expect(cells).toEqual([percent(expected['24h']), percent(expected['7d']), percent(expected['30d'])])
    const facts = [...(await fleet.text('/status/db-1')).matchAll(/<dt>Uptime [^<]+<\/dt><dd>([^<]*)<\/dd>/g)].map((m) => m[1])
    expect(facts).toEqual(cells)
  })

  it('counts only time up or down: a new agent is 100% over 30 days, a missed deadline is down from the deadline', async () => {
    const { fleet, times } = await mixedFleet()
    const uptime = async (agent: string) => ((await (await fleet.request(`/badge/${agent}.json`)).json()) as any).uptime
    expect(await uptime('web-4')).toEqual({ '24h': 1, '7d': 1, '30d': 1 }) // 15 days old, never down
    const missedFor = times.end - times.batchDeadline
    expect(missedFor).toBe(210 * SECOND)
    expect((await uptime('batch-7'))['24h']).toBe((DAY - missedFor) / DAY)
    expect((await uptime('cache-2'))['24h']).toBe((DAY - (times.cacheRecovering - times.cacheDegraded)) / DAY)
    // backup's new component has been starting for 20 min: that time counts neither way.
    expect((await uptime('backup'))['24h']).toBe(1)
    // An agent that has only ever been starting has no uptime at all, and the page says why.
    await fleet.advance(SECOND)
    await fleet.beat({ agent: 'fresh-1', status: 'starting', interval_seconds: 3600 })
    await fleet.advance(10 * MINUTE)
    expect(await uptime('fresh-1')).toEqual({ '24h': null, '7d': null, '30d': null })
    const page = await fleet.text('/status')
    expect(/data-agent="fresh-1".*?<\/tr>/.exec(page)![0]).toContain('<td>—</td><td>—</td><td>—</td>')
    expect(page).toContain('Uptime counts ok and recovering as up, degraded as down; time starting is not counted.')
  })

  it('draws a bar per UTC day, coloured by its worst state, with no-data days before an agent was born', async () => {
    const { fleet, times } = await mixedFleet()
    expect(sinceMidnight(FLEET_NOW)).toBe(18 * 60 * MINUTE + 4 * MINUTE) // the fleet is looked at at 18:04 UTC
    const page = await fleet.text('/status')
    const label = (agent: string) => new RegExp(`data-agent="${agent}".*?class="bars" role="img" aria-label="([^"]*)"`).exec(page)![1]
    const today = sinceMidnight(times.end)
    // db-1: down 3 h of one whole day (08:04–11:04 UTC), and 38 of today's 1084 minutes.
    expect(dayOf(times.dbOutage.from)).toBe(dayOf(times.dbOutage.to))
    expect(label('db-1')).toBe(
      `Last 30 days: 28 days ok, degraded on ${dayOf(times.dbOutage.from)} (${percent(1 - (DB_OUTAGE_HOURS * 60) / 1440)} up), ` +
        `degraded on ${dayOf(times.end)} (${percent((today - DB_DOWN_MINUTES * MINUTE) / today)} up)`,
    )
    // cache-2: a bad hour late one evening, recovering until its next report the day after (a recovering day is up).
    const cacheBad = times.end - 9 * DAY + 2 * 60 * MINUTE
    expect(label('cache-2')).toBe(
      `Last 30 days: 18 days ok, degraded on ${dayOf(cacheBad)} (${percent(23 / 24)} up), recovering on ${dayOf(cacheBad + DAY)} (100% up), ` +
        `degraded on ${dayOf(times.end)} (${percent((today - (times.cacheRecovering - times.cacheDegraded)) / today)} up), 9 days without data`,
    )
    // web-4 first reported 15 days ago, at 18:04: that day is its first bar.
    expect(label('web-4')).toBe('Last 30 days: 16 days ok, 14 days without data')
    // The agent page has the same days as a table, newest first.
    const days = [...(await fleet.text('/status/db-1')).matchAll(/<tr><th scope="row">([\d-]+)<\/th><td><span class="st s-(\w+)">\w+<\/span><\/td><td class="n">([^<]*)<\/td><\/tr>/g)]
    expect(days).toHaveLength(30)
    expect(days[0]!.slice(1)).toEqual([dayOf(times.end), 'degraded', percent((today - DB_DOWN_MINUTES * MINUTE) / today)])
    expect(days.find((d) => d[1] === dayOf(times.dbOutage.from))!.slice(2)).toEqual(['degraded', '87.50%'])
  })

  it("lists an agent's events newest first, a missed deadline at the deadline, though the sweep noticed it later", async () => {
    const { fleet, times } = await mixedFleet()
    const events = await fleet.eventsOf('db-1')
    expect(events.map(({ at, from, to, reason }) => ({ at, from, to, reason }))).toEqual([
      { at: times.born['db-1'], from: null, to: 'ok', reason: null },
      { at: times.dbOutage.from, from: 'ok', to: 'degraded', reason: 'disk 99% full on /var/lib/postgresql' },
      { at: times.dbOutage.to, from: 'degraded', to: 'recovering', reason: null },
      { at: times.dbOutage.to + MINUTE, from: 'recovering', to: 'ok', reason: null },
      { at: times.dbDegradedSince, from: 'ok', to: 'degraded', reason: 'disk 97% full on /var/lib/postgresql' },
    ])
    const page = await fleet.text('/status/db-1')
    const listed = [...page.matchAll(/<li><time datetime="([^"]+)"/g)].map((m) => m[1])
    expect(listed).toEqual(events.map((e) => iso(e.at)).reverse())

    const [miss] = (await fleet.eventsOf('batch-7')).slice(-1)
    expect(miss).toMatchObject({ at: times.batchDeadline, from: 'ok', to: 'degraded', reason: 'missed heartbeat' })
    expect(miss!.seq).toBeGreaterThan(times.batchDeadline * 1000) // recorded by a later sweep
    const batch = await fleet.text('/status/batch-7')
    expect(batch).toMatch(
      new RegExp(`<li><time datetime="${iso(times.batchDeadline)}" title="[^"]+">3 min ago</time><strong>main</strong>.*?missed heartbeat</span></li>`),
    )
  })

  it('degrades a component when its deadline passes, with no heartbeat, once the sweep runs', async () => {
    const { fleet, times } = await mixedFleet()
    // api-gateway reported hourly 50 min before the end: due by 40 min after it (interval + grace of 30 min).
    const deadline = times.end - 50 * MINUTE + 90 * MINUTE
    const state = async () => ((await (await fleet.request('/badge/api-gateway.json')).json()) as any).state
    await fleet.advanceTo(deadline)
    expect(await state()).toBe('ok') // due by the deadline, not at it
    await fleet.advance(1)
    expect(await state()).toBe('degraded')
    expect((await fleet.eventsOf('api-gateway')).at(-1)).toMatchObject({ at: deadline, from: 'ok', to: 'degraded', reason: 'missed heartbeat' })
    expect(await fleet.text('/status')).toMatch(/data-agent="api-gateway"[^>]*><th[^>]*>.*?<\/th><td><span class="st">degraded<\/span><\/td><td class="r">missed heartbeat<\/td>/)
  })
})

describe('pages', () => {
  it('answers HTML with a strict Content-Security-Policy and no caching', async () => {
    const { fleet } = await mixedFleet()
    const res = await fleet.request('/status')
    expect(res.status).toBe(200)
    expect(res.headers.get('content-type')).toBe('text/html; charset=UTF-8')
    expect(res.headers.get('content-security-policy')).toContain("script-src 'self'")
    expect(res.headers.get('cache-control')).toBe('no-store')
    const body = await res.text()
    expect(body.match(/<script/g)).toHaveLength(1) // one deferred script for the whole page, none per row
    expect(body).not.toMatch(/https?:\/\//) // nothing from elsewhere
    expect(body.match(/<tr class="s-/g)).toHaveLength(AGENTS.length)
    expect(body).toContain('<strong id="headline">2 agents degraded</strong>')
    expect(body).toContain(`As of ${iso(FLEET_NOW).slice(0, 16).replace('T', ' ')} UTC.`)
  })

  it('shows each agent in the state the engine holds for it', async () => {
    const { fleet } = await mixedFleet()
    const page = await fleet.text('/status')
    const shown = Object.fromEntries([...page.matchAll(/<tr class="s-(\w+)" data-agent="([^"]+)"/g)].map((m) => [m[2], m[1]]))
    expect(shown).toEqual(MIXED_STATES)
    // The JSON API agrees, through its own route.
    const api = (await (await fleet.request('/v1/agents')).json()) as { agents: { agent: string; state: string }[] }
    expect(Object.fromEntries(api.agents.map((a) => [a.agent, a.state]))).toEqual(MIXED_STATES)
  })

  it('tags an agent whose notifications are silenced, on both pages, until the silence is lifted', async () => {
    const { fleet } = await mixedFleet()
    const silence = await fleet.request('/v1/agents/db-1/silence', {
      method: 'POST',
      headers: { 'Content-Type': 'application/json' },
      body: JSON.stringify({ for_seconds: 3600, reason: 'disk swap' }),
    })
    expect(silence.status).toBe(200)
    const row = (page: string) => /<tr class="s-\w+" data-agent="db-1".*?<\/tr>/.exec(page)![0]
    expect(row(await fleet.text('/status'))).toContain('<span class="tag">silenced</span>')
    expect(row(await fleet.text('/status'))).not.toContain('disk swap') // the reason is the operator's, not for a public page
    expect(await fleet.text('/status/db-1')).toMatch(/<h1[^>]*>db-1 <span class="st">degraded<\/span><span class="tag">silenced<\/span><\/h1>/)
    expect((await fleet.text('/status')).match(/>silenced</g)).toHaveLength(1)
    await fleet.request('/v1/agents/db-1/silence', { method: 'DELETE' })
    expect(await fleet.text('/status')).not.toContain('silenced</span>')
  })

  it('answers an unknown or impossible agent with a 404 HTML page', async () => {
    const { fleet } = await mixedFleet()
    for (const id of ['ghost', encodeURIComponent('<b>x</b>')]) {
      const res = await fleet.request(`/status/${id}`)
      expect(res.status).toBe(404)
      expect(res.headers.get('content-type')).toMatch(/^text\/html/)
      const body = await res.text()
      expect(body).toContain('No agent')
      expect(body).not.toContain('<b>x</b>')
    }
  })

  it('serves its stylesheet and script itself, cacheable for good under a versioned URL', async () => {
    const { fleet } = await mixedFleet()
    const page = await fleet.text('/status')
    const css = /href="(status\/~\/style\.css\?v=\w+)"/.exec(page)![1]!
    const js = /src="(status\/~\/live\.js\?v=\w+)"/.exec(page)![1]!
    const style = await fleet.request(`/${css}`)
    expect(style.headers.get('content-type')).toBe('text/css; charset=utf-8')
    expect(style.headers.get('cache-control')).toContain('immutable')
    expect(await style.text()).toContain('prefers-color-scheme:dark')
    const script = await fleet.request(`/${js}`)
    expect(script.headers.get('content-type')).toBe('text/javascript; charset=utf-8')
    const source = await script.text()
    expect(() => new Function(source)).not.toThrow() // parses (new Function compiles without running it)
  })

  it('gzips a page when asked', async () => {
    const { fleet } = await mixedFleet()
    const res = await fleet.request('/status', { headers: { 'Accept-Encoding': 'gzip' } })
    expect(res.headers.get('content-encoding')).toBe('gzip')
  })
})

describe('badges', () => {
  it('measures text as shields does (Verdana 11px)', () => {
    // badge-maker 6 draws "pulsegate | recovering" 132 px wide, the texts with textLength 530 and 590.
    const svg = badgeSvg({ label: 'pulsegate', message: 'recovering', color: 'yellow' })
    expect(svg).toContain('width="132"')
    expect(svg).toContain('textLength="530"')
    expect(svg).toContain('textLength="590"')
    expect(textWidth('degraded')).toBeGreaterThan(textWidth('ok'))
  })

  it('draws an agent state in shields colours, cached briefly', async () => {
    const { fleet } = await mixedFleet()
    const cases = { 'db-1': SHIELDS_COLORS.red, 'cache-2': SHIELDS_COLORS.yellow, 'web-1': SHIELDS_COLORS.brightgreen, backup: SHIELDS_COLORS.lightgrey }
    for (const [agent, color] of Object.entries(cases)) {
      const state = MIXED_STATES[agent as keyof typeof MIXED_STATES]
      const res = await fleet.request(`/badge/${agent}.svg`)
      expect(res.status).toBe(200)
      expect(res.headers.get('content-type')).toBe('image/svg+xml; charset=utf-8')
      expect(res.headers.get('cache-control')).toBe(`public, max-age=${BADGE_MAX_AGE}`)
      const svg = await res.text()
      expect(svg).toContain(`aria-label="${agent}: ${state}"`)
      expect(svg).toContain(`fill="${color}"`)
      expect(svg).toContain(`>${state}</text>`)
    }
    // camo and browsers revalidate cheaply.
    const etag = (await fleet.request('/badge/db-1.svg')).headers.get('etag')!
    expect(etag).toBeTruthy()
    expect((await fleet.request('/badge/db-1.svg', { headers: { 'If-None-Match': etag } })).status).toBe(304)
  })

  it('answers uptime for a window, and the fleet as the mean of its agents', async () => {
    const { fleet } = await mixedFleet()
    const db24h = (1440 - DB_DOWN_MINUTES) / 1440
    const res = await fleet.request('/badge/db-1.svg?uptime=24h')
    expect(res.headers.get('cache-control')).toBe(`public, max-age=${UPTIME_BADGE_MAX_AGE}`)
    const svg = await res.text()
    expect(svg).toContain(`aria-label="db-1 uptime 24h: ${percent(db24h)}"`)
    expect(svg).toContain(`fill="${SHIELDS_COLORS[uptimeColor(db24h)]}"`)
    expect(uptimeColor(db24h)).toBe('yellow') // 97.36%: at least 97, below 99

    const uptimes = await Promise.all(AGENTS.map(async (agent) => ((await (await fleet.request(`/badge/${agent}.json`)).json()) as any).uptime))
    const fleetJson = (await (await fleet.request('/badge.json')).json()) as any
    expect(fleetJson).toMatchObject({ state: 'degraded', status: 'fleet is in a degraded state, check /readyz?verbose for details' })
    for (const window of ['24h', '7d', '30d'] as const) {
      const known = uptimes.map((u) => u[window]).filter((r): r is number => r !== null)
      expect(fleetJson.uptime[window]).toBeCloseTo(known.reduce((a, b) => a + b, 0) / known.length, 12)
    }
    expect(await (await fleet.request('/badge.svg?uptime=30d')).text()).toContain(`>${percent(fleetJson.uptime['30d'])}</text>`)
  })

  it('.shields follows the shields.io endpoint schema', async () => {
    const { fleet } = await mixedFleet()
    for (const path of ['/badge/db-1.shields', '/badge/web-1.shields?uptime=7d', '/badge.shields', '/badge.shields?uptime=30d', '/badge/ghost.shields']) {
      const res = await fleet.request(path)
      expect(res.headers.get('content-type')).toMatch(/^application\/json/)
      const body = (await res.json()) as any
      const parsed = shieldsEndpointSchema.safeParse(body)
      expect(parsed.success, `${path}: ${JSON.stringify(parsed.error?.issues)}`).toBe(true)
      expect(Object.keys(SHIELDS_COLORS)).toContain(body.color)
    }
    expect(await (await fleet.request('/badge/db-1.shields')).json()).toEqual({ schemaVersion: 1, label: 'db-1', message: 'degraded', color: 'red', cacheSeconds: 300 })
    expect(await (await fleet.request('/badge/web-1.shields?uptime=7d')).json()).toMatchObject({ label: 'web-1 uptime 7d', message: '100%', color: 'brightgreen' })
    expect(shieldsEndpointSchema.safeParse({ schemaVersion: 1, label: 'x', message: '' }).success).toBe(false) // the check can fail
  })

  it('refuses bad input with a JSON error, and draws an unknown agent as such with 404', async () => {
    const { fleet } = await mixedFleet()
    const bad = await fleet.request('/badge/db-1.svg?uptime=1y')
    expect(bad.status).toBe(400)
    expect(await bad.json()).toEqual({ error: { code: 'invalid_query', message: 'uptime must be one of 24h, 7d, 30d' } })
    expect((await fleet.request('/badge/db-1.png')).status).toBe(404)
    const unknown = await fleet.request('/badge/ghost.svg')
    expect(unknown.status).toBe(404)
    expect(await unknown.text()).toContain('unknown agent')
    expect(await (await fleet.request('/badge/ghost.json')).json()).toEqual({ error: { code: 'unknown_agent', message: 'no agent ghost' } })
  })

  it('escapes what it draws', () => {
    const svg = badgeSvg({ label: 'a<b', message: '"&"', color: 'red' })
    expect(svg).toContain('a&lt;b')
    expect(svg).toContain('&quot;&amp;&quot;')
  })

  it('never rounds uptime up to 100%', () => {
    expect(percent(0.99999)).toBe('99.99%')
    expect(percent(1)).toBe('100%')
    expect(percent(0.5)).toBe('50%')
  })
})

const READ_TOKEN = 'reader-secret'
const ROTATED_TOKEN = 'rotated-secret'

describe('who may read the pages', () => {
  it('STATUS_PAGE=off: the pages and badges are not there, the API still is', async () => {
    const { fleet } = await mixedFleet()
    const off = fleet.appWith({ STATUS_PAGE: 'off' })
    for (const path of ['/status', '/status/db-1', '/status/~/events', '/status/~/style.css', '/badge.svg', '/badge/db-1.svg']) {
      const res = await requestTo(off, path)
      expect(res.status, path).toBe(404)
      expect(await res.json()).toEqual({ error: { code: 'not_found', message: 'no such path' } })
    }
    expect((await requestTo(off, '/v1/agents')).status).toBe(200)
  })

  it('STATUS_PAGE=token: a bearer token, or ?token= once (then a cookie), opens the pages; a badge takes ?token= as it is', async () => {
    const { fleet } = await mixedFleet()
    const guarded = fleet.appWith({ STATUS_PAGE: 'token', READ_TOKEN: `${READ_TOKEN},${ROTATED_TOKEN}` })
    const get = (path: string, headers: Record<string, string> = {}, base = 'http://pulsegate.test') =>
      Promise.resolve(guarded.request(base + path, { headers, redirect: 'manual' }))

    for (const path of ['/status', '/status/db-1', '/status/~/events', '/badge.svg', '/badge/db-1.json']) {
      const res = await get(path)
      expect(res.status, path).toBe(401)
      expect(res.headers.get('www-authenticate')).toBe('Bearer realm="pulsegate"')
      expect(((await res.json()) as any).error.code).toBe('unauthorized')
    }
    for (const token of [READ_TOKEN, ROTATED_TOKEN]) {
      const res = await get('/status', { Authorization: `Bearer ${token}` })
      expect(res.status).toBe(200)
      expect(await res.text()).toContain('data-agent="db-1"')
    }
    expect((await get('/status', { Authorization: 'Bearer wrong' })).status).toBe(401)

    // A person follows a link with ?token=: it becomes a cookie, and the address bar loses it.
    const opened = await get(`/status/db-1?token=${READ_TOKEN}`)
    expect(opened.status).toBe(303)
    expect(opened.headers.get('location')).toBe('/status/db-1')
    const setCookie = opened.headers.get('set-cookie')!
    expect(setCookie).toMatch(new RegExp(`^pulsegate_read=${READ_TOKEN};`))
    expect(setCookie).toContain('HttpOnly')
    expect(setCookie).toContain('SameSite=Strict')
    expect(setCookie).toContain('Path=/')
    expect(setCookie).not.toContain('Secure') // plain http; over https it is Secure:
    expect((await get(`/status?token=${READ_TOKEN}`, {}, 'https://pulsegate.test')).headers.get('set-cookie')).toContain('Secure')
    const cookie = { Cookie: setCookie.split(';')[0]! }
    const page = await get('/status/db-1', cookie)
    expect(page.status).toBe(200)
    expect(await page.text()).toContain('data-stream="../status/~/events?agent=db-1"')
    // The page's stream sends the cookie by itself (same origin).
    const controller = new AbortController()
    const stream = await Promise.resolve(guarded.request('http://pulsegate.test/status/~/events?agent=db-1', { headers: cookie, signal: controller.signal }))
    expect(stream.status).toBe(200)
    expect(stream.headers.get('content-type')).toBe('text/event-stream')
    controller.abort()
    await stream.body?.cancel().catch(() => {})
    expect((await get('/status', { Cookie: 'pulsegate_read=wrong' })).status).toBe(401)

    const wrong = await get('/status?token=wrong')
    expect(wrong.status).toBe(401)
    expect(wrong.headers.get('set-cookie')).toBeNull()

    // A README's badge cannot keep a cookie or send a header.
    const badge = await get(`/badge/db-1.svg?token=${READ_TOKEN}`)
    expect(badge.status).toBe(200)
    expect(badge.headers.get('content-type')).toBe('image/svg+xml; charset=utf-8')
    expect(badge.headers.get('set-cookie')).toBeNull()
    expect((await get(`/badge.svg?uptime=24h&token=${READ_TOKEN}`)).status).toBe(200)
    expect((await get('/badge/db-1.svg?token=wrong')).status).toBe(401)
  })
})

/** Read an SSE response until `count` transitions have arrived. */
async function transitions(res: Response, count: number): Promise<{ id: string; data: any }[]> {
  const reader = res.body!.pipeThrough(new TextDecoderStream()).getReader()
  let text = ''
  const out: { id: string; data: any }[] = []
  while (out.length < count) {
    const { value, done } = await reader.read()
    if (done) break
    text += value
    let end
    while ((end = text.indexOf('\n\n')) >= 0) {
      const message = text.slice(0, end)
      text = text.slice(end + 2)
      if (!message.includes('event: transition')) continue
      const id = /^id: (.*)$/m.exec(message)![1]!
      out.push({ id, data: JSON.parse(/^data: (.*)$/m.exec(message)![1]!) })
    }
  }
  await reader.cancel()
  return out
}

describe('GET /status/~/events', () => {
  it("sends each transition as the store records it, with the store's seq as its id and public reasons only", async () => {
    const { fleet } = await mixedFleet()
    const controller = new AbortController()
    const res = await fleet.request('/status/~/events', { signal: controller.signal })
    expect(res.headers.get('content-type')).toBe('text/event-stream')
    const received = transitions(res, 2)
    await expect.poll(() => fleet.subscribers).toBe(1)
    await fleet.advance(SECOND)
    const degradedAt = fleet.now
    await fleet.beat({ agent: 'web-1', status: 'degraded', message: 'secret host name' })
    await fleet.advance(20 * SECOND)
    await fleet.beat({ agent: 'web-1', status: 'ok' })
    const [first, second] = await received
    const [degraded, recovering] = (await fleet.eventsOf('web-1')).slice(-2)
    expect(degraded!.reason).toBe('secret host name') // stored, but not sent to a public page
    expect(degraded!.seq).toBe(degradedAt * 1000) // µs of the clock: the first event recorded at that instant
    expect(first).toEqual({
      id: String(degraded!.seq),
      data: { seq: degraded!.seq, at: degradedAt, agent: 'web-1', component: 'main', from: 'ok', to: 'degraded', reason: null, agent_state: 'degraded' },
    })
    expect(second).toEqual({
      id: String(recovering!.seq),
      data: { seq: recovering!.seq, at: degradedAt + 20 * SECOND, agent: 'web-1', component: 'main', from: 'degraded', to: 'recovering', reason: null, agent_state: 'recovering' },
    })
    controller.abort()
    await expect.poll(() => fleet.subscribers).toBe(0) // the stream let go of the store
  })

  it('sends a missed deadline when the sweep records it, dated at the deadline', async () => {
    const { fleet, times } = await mixedFleet()
    const controller = new AbortController()
    const res = await fleet.request('/status/~/events?agent=api-gateway', { signal: controller.signal })
    const received = transitions(res, 1)
    await expect.poll(() => fleet.subscribers).toBe(1)
    const deadline = times.end + 40 * MINUTE // hourly from 50 min before the end, 30 min of grace
    await fleet.advanceTo(deadline + 5 * MINUTE)
    const [missed] = await received
    expect(missed!.data).toEqual({ seq: (deadline + 5 * MINUTE) * 1000, at: deadline, agent: 'api-gateway', component: 'main', from: 'ok', to: 'degraded', reason: 'missed heartbeat', agent_state: 'degraded' })
    controller.abort()
    await expect.poll(() => fleet.subscribers).toBe(0)
  })

  it('resumes after Last-Event-ID and filters by agent', async () => {
    const { fleet } = await mixedFleet()
    const backup = await fleet.eventsOf('backup')
    expect(backup.map((e) => [e.component, e.from, e.to])).toEqual([
      ['offsite', null, 'ok'],
      ['nightly', null, 'starting'],
    ])
    const res = await fleet.request('/status/~/events?agent=backup', { headers: { 'Last-Event-ID': String(backup[0]!.seq - 1) } })
    const got = await transitions(res, backup.length)
    expect(got.map((e) => e.id)).toEqual(backup.map((e) => String(e.seq)))
    expect(got.map((e) => e.data.at)).toEqual(backup.map((e) => e.at))
    expect(got.every((e) => e.data.agent === 'backup' && e.data.agent_state === 'starting')).toBe(true)
    // ?after= does the same for a client that cannot set the header.
    const after = await fleet.request(`/status/~/events?agent=backup&after=${backup[0]!.seq}`)
    expect((await transitions(after, 1)).map((e) => e.id)).toEqual([String(backup[1]!.seq)])
  })

  it('refuses a bad Last-Event-ID or agent, and says 204 when there is no stream', async () => {
    const { fleet } = await mixedFleet()
    expect((await fleet.request('/status/~/events', { headers: { 'Last-Event-ID': 'x' } })).status).toBe(400)
    const bad = await fleet.request('/status/~/events?agent=%3Cb%3E')
    expect(bad.status).toBe(400)
    expect(((await bad.json()) as any).error.code).toBe('invalid_query')
    // The real source without its stream: a backend that cannot watch.
    const clock = () => fleet.now
    const source = storeStatusSource(fleet.store, new FleetViews(fleet.store, fleet.settings), fleet.settings, clock)
    const still = statusRoutes({ fleet: source.fleet, agent: source.agent, summary: source.summary }, { clock })
    expect((await still.request('/status/~/events')).status).toBe(204)
    // Without a stream the page loads no script at all.
    expect(await (await still.request('/status')).text()).not.toContain('<script')
  })
})
