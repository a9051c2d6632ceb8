// History through app.request(), with an injected clock: the events of a
// degraded → recovering → ok story and of a missed deadline with their exact
// times, pages of one agent and of the fleet, uptime in /v1/agents/{agent},
// READ_TOKEN, and the live stream with Last-Event-ID. Every answer is held to the
// OpenAPI document the app serves.
import { beforeEach, describe, expect, it } from 'vitest'
import { testApp } from './support/app.ts'
import { readEvents } from './support/sse.ts'

const T0 = Date.UTC(2027, 2, 1, 12, 0, 0)
let now = T0
const advance = (seconds: number) => (now += seconds * 1000)
const iso = (ms: number) => new Date(ms).toISOString()

beforeEach(() => {
  now = T0
})

const setup = (env: Record<string, string> = {}) => {
  const harness = testApp(() => now, { RATE_LIMIT_PER_SECOND: '0', ...env })
  const events = async (path: string) => {
    const { status, body } = await harness.json(path)
    expect(status, path).toBe(200)
    return body as { events: any[]; next_cursor: string | null }
  }
  const changes = (page: { events: any[] }) => page.events.map((e) => [e.at, e.component, e.from, e.to, e.reason])
  return { ...harness, events, changes }
}

/** The degraded → recovering → ok story, one heartbeat at a time (RECOVERY_SECONDS is 10). */
async function story(post: (body: unknown) => Promise<Response>) {
  await post({ agent: 'web-3', status: 'ok', interval_seconds: 60 })
  advance(30)
  await post({ agent: 'web-3', status: 'degraded', message: 'disk 97% full' })
  advance(60)
  await post({ agent: 'web-3', status: 'degraded', message: 'disk 97% full' }) // no change, no event
  advance(30)
  await post({ agent: 'web-3', status: 'ok' })
  advance(5)
  await post({ agent: 'web-3', status: 'ok' }) // still within the recovery window
  advance(5)
  await post({ agent: 'web-3', status: 'ok' })
}

describe('GET /v1/agents/{agent}/events', () => {
  it('lists every change of the story, newest first, at the time it happened, with its reason', async () => {
    const { post, events, changes } = setup()
    await story(post)
    expect(changes(await events('/v1/agents/web-3/events'))).toEqual([
      [iso(T0 + 130_000), 'main', 'recovering', 'ok', null],
      [iso(T0 + 120_000), 'main', 'degraded', 'recovering', null],
      [iso(T0 + 30_000), 'main', 'ok', 'degraded', 'disk 97% full'],
      [iso(T0), 'main', null, 'ok', null],
    ])
  })

  it('records a missed deadline at the deadline when the sweep notices it, and a late heartbeat ends it', async () => {
    const { post, store, events, changes, request } = setup()
    await post({ agent: 'cron-1', component: 'backup', status: 'ok', interval_seconds: 60, grace_seconds: 30 })
    advance(200)
    await store.sweep(now) // what the server's sweeper does; no request came in between
    expect(changes(await events('/v1/agents/cron-1/events'))[0]).toEqual([iso(T0 + 90_000), 'backup', 'ok', 'degraded', 'missed heartbeat'])
    expect((await request('/readyz/cron-1')).status).toBe(503) // the probe answers as before
    advance(10)
    await post({ agent: 'cron-1', component: 'backup', status: 'ok' })
    expect(changes(await events('/v1/agents/cron-1/events')).slice(0, 2)).toEqual([
      [iso(T0 + 210_000), 'backup', 'degraded', 'recovering', null],
      [iso(T0 + 90_000), 'backup', 'ok', 'degraded', 'missed heartbeat'],
    ])
  })

  it('pages with limit and cursor, and keeps the history of an agent that is gone', async () => {
    const { post, events, json, request } = setup()
    for (let i = 0; i < 5; i++) {
      await post({ agent: 'flappy', status: i % 2 ? 'ok' : 'degraded', message: `round ${i}` })
      advance(1)
    }
    const first = await events('/v1/agents/flappy/events?limit=2')
    const second = await events(`/v1/agents/flappy/events?limit=2&cursor=${first.next_cursor}`)
    const third = await events(`/v1/agents/flappy/events?limit=2&cursor=${second.next_cursor}`)
    expect(third.next_cursor).toBeNull()
    const all = [...first.events, ...second.events, ...third.events]
    expect(all.map((e) => e.at)).toEqual([4, 3, 2, 1, 0].map((s) => iso(T0 + s * 1000)))
    expect(new Set(all.map((e) => e.id)).size).toBe(5)

    expect((await request('/v1/agents/flappy', { method: 'DELETE' })).status).toBe(200)
    const after = await events('/v1/agents/flappy/events?limit=1')
    expect(after.events[0]).toMatchObject({ from: 'degraded', to: null, reason: 'deregistered', at: iso(now) })
    expect((await json('/v1/agents/nobody/events')).body.error.code).toBe('unknown_agent')
  })

  it.each([
    ['limit=0', ['limit']],
    ['limit=501', ['limit']],
    ['cursor=abc', ['cursor']],
  ])('refuses ?%s with 400 invalid_query naming it', async (query, path) => {
    const { post, json } = setup()
    await post({ agent: 'a', status: 'ok' })
    const { status, body } = await json(`/v1/agents/a/events?${query}`)
    expect(status).toBe(400)
    expect(body.error.code).toBe('invalid_query')
    expect(body.error.issues.map((i: any) => i.path)).toEqual([path])
  })
})

describe('GET /v1/events', () => {
  it("lists the fleet's changes oldest first, from `since` on, a page at a time", async () => {
    const { post, events, changes } = setup()
    await story(post)
    advance(1)
    await post({ agent: 'db-1', status: 'starting' })
    const all = await events('/v1/events')
    expect(all.events.map((e) => [e.agent, e.to])).toEqual([
      ['web-3', 'ok'], ['web-3', 'degraded'], ['web-3', 'recovering'], ['web-3', 'ok'], ['db-1', 'starting'],
    ])
    expect(changes(await events(`/v1/events?since=${iso(T0 + 120_000)}`)).map((c) => c[3])).toEqual(['recovering', 'ok', 'starting'])
    const first = await events('/v1/events?limit=3')
    const rest = await events(`/v1/events?limit=3&cursor=${first.next_cursor}`)
    expect([...first.events, ...rest.events]).toEqual(all.events)
    expect(rest.next_cursor).toBeNull()
  })

  it('refuses a `since` that is not an RFC 3339 time', async () => {
    const { json } = setup()
    const { status, body } = await json('/v1/events?since=yesterday')
    expect(status).toBe(400)
    expect(body.error.issues.map((i: any) => i.path)).toEqual([['since']])
  })
})

describe('uptime in /v1/agents/{agent}', () => {
  it('is the fraction of time up, recovering counting as up and starting not at all', async () => {
    const { post, json } = setup()
    await post({ agent: 'db-1', status: 'starting', interval_seconds: 3600 })
    advance(600) // 10 min starting: not counted
    await post({ agent: 'db-1', status: 'ok' })
    advance(3000) // 50 min ok
    await post({ agent: 'db-1', status: 'degraded' })
    advance(600) // 10 min degraded
    await post({ agent: 'db-1', status: 'ok' }) // recovering: up
    advance(1200) // 20 min
    const { body } = await json('/v1/agents/db-1')
    const expected = (50 + 20) / (50 + 10 + 20)
    expect(body.uptime).toEqual({ '24h': expected, '7d': expected, '30d': expected })
    expect(body.components[0].uptime).toEqual(body.uptime)
  })
})

describe('READ_TOKEN', () => {
  it('guards the agent and history reads, and nothing else', async () => {
    const { post, request } = setup({ READ_TOKEN: 'reader-1,reader-2' })
    expect((await post({ agent: 'a', status: 'ok' })).status).toBe(200)
    for (const path of ['/v1/agents', '/v1/agents/a', '/v1/agents/a/events', '/v1/events', '/v1/events/stream']) {
      const refused = await request(path)
      expect(refused.status, path).toBe(401)
      expect(refused.headers.get('WWW-Authenticate'), path).toMatch(/^Bearer/)
    }
    for (const path of ['/v1/agents', '/v1/agents/a', '/v1/agents/a/events', '/v1/events']) {
      expect((await request(path, { headers: { Authorization: 'Bearer reader-2' } })).status, path).toBe(200)
    }
    expect((await request('/readyz')).status).toBe(200)
    expect((await request('/metrics')).status).toBe(200)
  })
})

describe('GET /v1/events/stream', () => {
  it('sends each change as it is stored, with the agent state after it', async () => {
    const { post, request } = setup()
    await post({ agent: 'web-1', status: 'ok' })
    const abort = new AbortController()
    const res = await request('/v1/events/stream', { signal: abort.signal })
    expect(res.status).toBe(200)
    expect(res.headers.get('Content-Type')).toMatch(/^text\/event-stream/)
    const reading = readEvents(res.body!, 2)
    advance(1)
    await post({ agent: 'web-1', component: 'disk', status: 'degraded', message: 'full' })
    advance(1)
    await post({ agent: 'web-2', status: 'ok' })
    const got = await reading
    abort.abort()
    expect(got.map((e) => e.data)).toEqual([
      { id: got[0]!.id, at: iso(T0 + 1000), agent: 'web-1', component: 'disk', from: null, to: 'degraded', reason: 'full', agent_state: 'degraded' },
      { id: got[1]!.id, at: iso(T0 + 2000), agent: 'web-2', component: 'main', from: null, to: 'ok', reason: null, agent_state: 'ok' },
    ])
    expect(got.map((e) => e.id)).toEqual(got.map((e) => e.data.id))
  })

  it('resumes after Last-Event-ID with what it missed, none twice, and can follow one agent', async () => {
    const { post, request, events } = setup()
    await story(post)
    const stored = (await events('/v1/events')).events
    const res = await request('/v1/events/stream?agent=web-3', { headers: { 'Last-Event-ID': stored[1].id } })
    const reading = readEvents(res.body!, 3)
    advance(1)
    await post({ agent: 'other', status: 'ok' }) // not web-3's: not sent
    await post({ agent: 'web-3', status: 'degraded', message: 'again' })
    const got = await reading
    expect(got.map((e) => e.id)).toEqual([stored[2].id, stored[3].id, got[2]!.id])
    expect(got[2]!.data).toMatchObject({ agent: 'web-3', from: 'ok', to: 'degraded', reason: 'again' })
    expect(Number(got[2]!.id)).toBeGreaterThan(Number(stored[3].id))
  })

  it('refuses a Last-Event-ID that is not an event id', async () => {
    const { request } = setup()
    const res = await request('/v1/events/stream', { headers: { 'Last-Event-ID': 'yesterday' } })
    expect(res.status).toBe(400)
    expect(((await res.json()) as any).error.code).toBe('invalid_query')
  })
})
