// Browser-side callbacks reach the DOM through globalThis: the project's TypeScript
// has no DOM lib, so that lib/ cannot use browser globals by accident.
//
// The status pages in headless Chromium, served by a real HTTP server on 127.0.0.1
// running the whole app over the store engine: what a person sees with JavaScript
// on and off, accessibility (axe-core) in light, dark and at phone width, live
// updates from the event stream without a reload, and no request leaving the machine.
// The server runs on the wall clock (so "12 s ago" on the server and in the
// browser agree); the fleet's month of history was stored at past times first.
import type { AddressInfo } from 'node:net'
import { serve, type ServerType } from '@hono/node-server'
import type { Page } from 'playwright-core'
import { afterAll, beforeAll, describe, expect, it } from 'vitest'
import type { Heartbeat } from '../lib/heartbeat.ts'
import { iso } from '../lib/status/format.ts'
import { type Harness, axe, launchChromium, screenshot, serious } from './support/browser.ts'
import { MIXED_STATES, type StatusFleet, mixedFleet } from './support/status-fleet.ts'

let fleet: StatusFleet
let server: ServerType
let base: string
let chromium: Harness

beforeAll(async () => {
  ;({ fleet } = await mixedFleet(Date.now()))
  server = serve({ fetch: fleet.appWith({}, Date.now).fetch, hostname: '127.0.0.1', port: 0 })
  await new Promise<void>((resolve) => server.once('listening', () => resolve()))
  base = `http://127.0.0.1:${(server.address() as AddressInfo).port}`
  chromium = await launchChromium()
})

afterAll(async () => {
  await chromium?.close()
  await new Promise((resolve) => server?.close(resolve))
})

/** State word, reason and class of each row, as the page shows them. */
async function rows(page: Page): Promise<Record<string, { state: string; reason: string; cls: string }>> {
  return page.$$eval('tbody tr[data-agent]', (trs) =>
    Object.fromEntries(
      trs.map((tr) => [
        tr.getAttribute('data-agent'),
        { state: tr.querySelector('.st')!.textContent!, reason: tr.querySelector('td.r')!.textContent!, cls: tr.className },
      ]),
    ),
  )
}

const statesOf = (shown: Awaited<ReturnType<typeof rows>>) => Object.fromEntries(Object.entries(shown).map(([id, r]) => [id, r.state]))

/** Each agent's state as the JSON API answers it at the wall clock: what the page must agree with. */
async function apiStates(): Promise<Record<string, string>> {
  const { agents } = (await (await fetch(`${base}/v1/agents`)).json()) as { agents: { agent: string; state: string }[] }
  return Object.fromEntries(agents.map((a) => [a.agent, a.state]))
}

/** Heartbeats at the wall clock, through the engine; their transitions go out on the stream. */
async function beatNow(...batch: Heartbeat[]): Promise<void> {
  await fleet.advanceTo(Date.now())
  await fleet.beat(...batch)
}

async function openLive(path: string, options = {}): Promise<Page> {
  const page = await chromium.page(options)
  const subscribers = fleet.subscribers
  await page.goto(base + path)
  await expect.poll(() => page.textContent('#live')).toContain('Live: updates as they happen')
  await expect.poll(() => fleet.subscribers).toBeGreaterThan(subscribers)
  return page
}

// What the fleet is built to show comes first, screenshots included; the tests that change it come last.
describe('GET /status', () => {
  it('shows every agent with its state in words, and only built-in reasons on a public page', async () => {
    const page = await chromium.page()
    const response = await page.goto(`${base}/status`)
    expect(response!.status()).toBe(200)
    const shown = await rows(page)
    expect(statesOf(shown)).toEqual(MIXED_STATES)
    expect(await apiStates()).toEqual(MIXED_STATES)
    for (const [id, state] of Object.entries(MIXED_STATES)) expect(shown[id]!.cls).toBe(`s-${state}`)
    expect(shown['batch-7']!.reason).toBe('missed heartbeat')
    expect(shown['db-1']!.reason).toBe('') // its message is not public
    expect(shown['backup']!.reason).toBe('nightly') // the component, not its message
    expect(await page.textContent('body')).not.toContain('disk 97%')
    expect(await page.textContent('#headline')).toBe('2 agents degraded')
    expect(await page.title()).toBe('2 agents degraded · pulsegate status')
    // db-1 is degraded now, so today (UTC) is one of its bad days, whatever the time of day; the exact
    // days and ratios are test/status.test.ts's, at a clock it sets.
    const today = iso(Date.now()).slice(0, 10)
    const label = (await page.getAttribute('tr[data-agent="db-1"] .bars', 'aria-label'))!
    expect(label).toMatch(/^Last 30 days: \d+ days ok, degraded on /)
    expect(label).toContain(`degraded on ${today} (`)
    await screenshot(page, 'status-light')
  })

  it('renders in full with JavaScript disabled, and says how it stays current', async () => {
    const page = await chromium.page({ javaScript: false })
    await page.goto(`${base}/status`)
    expect(statesOf(await rows(page))).toEqual(MIXED_STATES)
    expect(await page.textContent('#live')).toMatch(/^As of \d{4}-\d\d-\d\d \d\d:\d\d UTC\. Without JavaScript, this page reloads itself every minute\.$/)
    // What makes that true in a browser with scripting off (the emulation here keeps <noscript> inert).
    expect(await page.innerHTML('head noscript')).toBe('<meta http-equiv="refresh" content="60">')
    expect(await page.locator('.bars').count()).toBe(Object.keys(MIXED_STATES).length)
  })

  it('has no serious accessibility violations in light, dark and at phone width', async () => {
    for (const [name, options] of [
      ['light', {}],
      ['dark', { colorScheme: 'dark' as const }],
      ['phone', { phone: true }],
      ['phone-dark', { phone: true, colorScheme: 'dark' as const }],
    ] as const) {
      const page = await chromium.page(options)
      await page.goto(`${base}/status`)
      const violations = await axe(page)
      expect(serious(violations), `${name}: ${JSON.stringify(serious(violations), null, 1)}`).toEqual([])
      if (name !== 'light') await screenshot(page, `status-${name}`)
      // Ids and the short reasons of this fleet fit on one line: a cell squeezed narrow breaks them mid-word.
      const broken = await page.$$eval('tbody tr[data-agent] th a, tbody tr[data-agent] td.r', (cells) =>
        cells.filter((cell) => {
          const range = (globalThis as any).document.createRange()
          range.selectNodeContents(cell)
          const lines = new Set([...range.getClientRects()].map((r: { top: number }) => Math.round(r.top)))
          return lines.size > 1
        }).map((cell) => cell.textContent),
      )
      expect(broken, name).toEqual([])
      // At 360 px nothing scrolls sideways.
      if (name.startsWith('phone')) {
        const overflow = await page.$$eval('main *', (elements) =>
          elements
            .filter((e) => !e.closest('thead, .sr') && e.getBoundingClientRect().right > 360.5) // what only screen readers get is clipped
            .map((e) => e.outerHTML.slice(0, 80)),
        )
        expect(overflow).toEqual([])
      }
    }
  })
})

describe('GET /status/:agent', () => {
  it('shows the components, the uptime and the recent events, accessibly', async () => {
    const events = await fleet.eventsOf('db-1')
    for (const [name, options] of [
      ['light', {}],
      ['dark', { colorScheme: 'dark' as const }],
      ['phone', { phone: true }],
    ] as const) {
      const page = await chromium.page(options)
      const response = await page.goto(`${base}/status/db-1`)
      expect(response!.status()).toBe(200)
      expect(await page.textContent('h1')).toContain('db-1')
      expect(await page.textContent('h1 .st')).toBe('degraded')
      const components = await page.$$eval('tr[data-component]', (trs) => trs.map((tr) => [tr.getAttribute('data-component'), tr.querySelector('.st')!.textContent]))
      expect(components).toEqual([['main', 'degraded']])
      // Every event the store holds for it, newest first, at the times it happened.
      const listed = await page.$$eval('ol.events li time', (times) => times.map((t) => t.getAttribute('datetime')))
      expect(listed).toEqual(events.map((e) => iso(e.at)).reverse())
      expect(await page.locator('dl.facts dd').count()).toBe(4) // last seen, and uptime over 24 h, 7 d, 30 d
      expect(serious(await axe(page)), name).toEqual([])
      await screenshot(page, `agent-${name}`)
    }
  })

  it('answers an unknown agent with a 404 page', async () => {
    const page = await chromium.page()
    const response = await page.goto(`${base}/status/no-such-agent`)
    expect(response!.status()).toBe(404)
    expect(response!.headers()['content-type']).toMatch(/^text\/html/)
    expect(await page.textContent('h1')).toBe('No agent “no-such-agent”')
    expect(serious(await axe(page))).toEqual([])
  })
})

describe('badges in the browser', () => {
  it('are well-formed SVG that shows the state', async () => {
    const page = await chromium.page()
    await page.goto(`${base}/status`)
    const parsed = await page.evaluate(async (paths) => {
      const out = []
      for (const path of paths) {
        const text = await (await fetch(path)).text()
        const doc = new (globalThis as any).DOMParser().parseFromString(text, 'image/svg+xml')
        out.push({
          path,
          error: doc.getElementsByTagName('parsererror').length > 0,
          root: doc.documentElement.localName,
          label: doc.documentElement.getAttribute('aria-label'),
          texts: [...doc.querySelectorAll('text:not([aria-hidden])')].map((t: { textContent: string }) => t.textContent),
        })
      }
      return out
    }, ['/badge/db-1.svg', '/badge.svg', '/badge/web-1.svg?uptime=30d', '/badge/no-such-agent.svg'])
    expect(parsed.map(({ error, root }) => ({ error, root }))).toEqual(Array(4).fill({ error: false, root: 'svg' }))
    expect(parsed[0]).toMatchObject({ label: 'db-1: degraded', texts: ['db-1', 'degraded'] })
    expect(parsed[1]!.texts).toEqual(['pulsegate', 'degraded'])
    expect(parsed[2]!.texts).toEqual(['web-1 uptime 30d', '100%'])
    expect(parsed[3]!.texts).toEqual(['no-such-agent', 'unknown agent'])
    // And an <img> draws it, at the width the SVG says.
    const width = await page.evaluate(async () => {
      const img = new (globalThis as any).Image()
      img.src = '/badge/db-1.svg'
      await img.decode()
      return img.naturalWidth
    })
    expect(width).toBeGreaterThan(60)
  })
})

describe('live, without a reload', () => {
  it('updates a row when its agent degrades, and again when it recovers', async () => {
    const page = await openLive('/status')
    const navigations: string[] = []
    page.on('framenavigated', (frame) => navigations.push(frame.url()))
    await page.evaluate(() => ((globalThis as unknown as { marker: number }).marker = 42))
    expect((await rows(page))['web-2']).toMatchObject({ state: 'ok', cls: 's-ok' })

    await beatNow({ agent: 'web-2', status: 'degraded', message: 'upstream 502s' })

    await expect.poll(async () => (await rows(page))['web-2']).toEqual({ state: 'degraded', reason: '', cls: 's-degraded' })
    expect(await page.textContent('#headline')).toBe('3 agents degraded')
    expect(await page.textContent('[data-count="degraded"]')).toBe('3 degraded')
    expect(await page.textContent('tr[data-agent="web-2"] time')).toBe('just now')
    expect(await page.title()).toBe('3 agents degraded · pulsegate status')
    expect(await page.textContent('body')).not.toContain('upstream 502s') // the stream is as public as the page
    // Still the same document: no navigation, and what the test left in it is still there.
    expect(navigations).toEqual([])
    expect(await page.evaluate(() => (globalThis as unknown as { marker: number }).marker)).toBe(42)

    // And back: an ok makes it recovering, with the agent's state recomputed on the server.
    await beatNow({ agent: 'web-2', status: 'ok' })
    await expect.poll(async () => (await rows(page))['web-2']?.state).toBe('recovering')
    expect(await page.textContent('#headline')).toBe('2 agents degraded')
    expect(statesOf(await rows(page))).toEqual(await apiStates())
  })

  it('takes the row of a deregistered agent away, never showing it in a state it is not in', async () => {
    const page = await openLive('/status')
    const okBefore = Number((await page.textContent('[data-count="ok"]'))!.split(' ')[0])
    // Every class the row takes until it goes: its two components' events arrive one by one.
    await page.evaluate(() => {
      const doc = (globalThis as any).document
      const row = doc.querySelector('tr[data-agent="queue-1"]')
      const seen: string[] = ((globalThis as any).seenClasses = [row.className])
      new (globalThis as any).MutationObserver(() => seen.push(row.className)).observe(row, { attributes: true, attributeFilter: ['class'] })
    })
    const removed = await fetch(`${base}/v1/agents/queue-1`, { method: 'DELETE' })
    expect(removed.status).toBe(200)
    expect((await fleet.eventsOf('queue-1')).slice(-2).map((e) => [e.component, e.to, e.reason])).toEqual([
      ['consumer', null, 'deregistered'],
      ['producer', null, 'deregistered'],
    ])
    await expect.poll(() => page.locator('tr[data-agent="queue-1"]').count()).toBe(0)
    expect(await page.evaluate(() => (globalThis as any).seenClasses)).toEqual(['s-ok'])
    expect(await page.textContent('[data-count="ok"]')).toBe(`${okBefore - 1} ok`)
    expect(statesOf(await rows(page))).toEqual(await apiStates())
  })

  it('adds a transition to the agent page as it happens', async () => {
    const page = await openLive('/status/backup')
    const before = await page.locator('ol.events li').count()
    expect(before).toBe((await fleet.eventsOf('backup')).length)
    await beatNow({ agent: 'backup', component: 'nightly', status: 'ok' })
    await expect.poll(() => page.textContent('tr[data-component="nightly"] .st')).toBe('ok')
    expect(await page.textContent('h1 .st')).toBe('ok')
    expect(await page.locator('ol.events li').count()).toBe(before + 1)
    const newest = (await fleet.eventsOf('backup')).at(-1)!
    expect(await page.getAttribute('ol.events li:first-child time', 'datetime')).toBe(iso(newest.at))
    expect(await page.textContent('ol.events li:first-child')).toContain('nightly')
    expect(await page.textContent('ol.events li:first-child')).toMatch(/starting\s*→\s*to\s*ok/)
  })
})

describe('the network fence', () => {
  it('records and aborts a request beyond 127.0.0.1', async () => {
    const page = await chromium.page()
    const before = chromium.outside.length
    // .invalid never resolves (RFC 6761): nothing can leave even if the fence were down.
    await expect(page.goto('http://fence-check.invalid/x')).rejects.toThrow(/ERR_BLOCKED_BY_CLIENT/)
    expect(chromium.outside.slice(before)).toEqual(['http://fence-check.invalid/x'])
    chromium.outside.splice(before)
  })

  it('saw no request leave 127.0.0.1 from any page', () => {
    expect(chromium.outside).toEqual([])
  })
})
