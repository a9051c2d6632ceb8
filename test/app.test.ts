// Every route, code and body of the README's API through app.request(), with an
// injected clock. Every answer is also held to the OpenAPI document the app serves.
import { collectDefaultMetrics, Registry } from 'prom-client'
import { beforeEach, describe, expect, it } from 'vitest'
import { loadSettings } from '../lib/settings.ts'
import { MemoryStore } from '../lib/stores/memory.ts'
import { testApp } from './support/app.ts'

const T0 = 1_800_000_000_000
let now = T0
const advance = (seconds: number) => (now += seconds * 1000)

const setup = (env: Record<string, string> = {}, extra: Parameters<typeof testApp>[2] = {}) => testApp(() => now, env, extra)

beforeEach(() => {
  now = T0
})

describe('liveness', () => {
  it.each(['/healthz', '/livez'])('%s answers 200 {"status":"ok"} and HEAD', async (path) => {
    const { request } = setup()
    const res = await request(path)
    expect(res.status).toBe(200)
    expect(await res.json()).toEqual({ status: 'ok' })
    const head = await request(path, { method: 'HEAD' })
    expect(head.status).toBe(200)
    expect(await head.text()).toBe('')
  })
})

describe('POST /v1/heartbeat', () => {
  it('accepts one heartbeat and answers with its state', async () => {
    const { post } = setup()
    const res = await post({ agent: 'node-17', component: 'proxy', status: 'ok', version: '19.1.2', pid: 4242 })
    expect(res.status).toBe(200)
    expect(await res.json()).toEqual({ accepted: 1, results: [{ agent: 'node-17', component: 'proxy', state: 'ok' }] })
  })

  it("accepts the README's full example body", async () => {
    const { post } = setup()
    const res = await post({
      agent: 'node-17', component: 'proxy', status: 'ok', message: 'joined cluster', version: '19.1.2', pid: 4242,
      interval_seconds: 5, grace_seconds: 5, labels: { region: 'eu-west' },
    })
    expect(res.status).toBe(200)
  })

  it('accepts a batch and answers each in order', async () => {
    const { post } = setup()
    const res = await post([
      { agent: 'a', status: 'degraded' },
      { agent: 'a', status: 'ok' },
      { agent: 'b', component: 'ssh', status: 'starting' },
    ])
    expect(await res.json()).toEqual({
      accepted: 3,
      results: [
        { agent: 'a', component: 'main', state: 'degraded' },
        { agent: 'a', component: 'main', state: 'recovering' },
        { agent: 'b', component: 'ssh', state: 'starting' },
      ],
    })
  })

  it('accepts a batch of exactly 100 and a media type with parameters', async () => {
    const { post } = setup()
    const batch = Array.from({ length: 100 }, (_, i) => ({ agent: `a${i}`, status: 'ok' }))
    expect((await post(batch, { 'Content-Type': 'application/json; charset=utf-8' })).status).toBe(200)
  })

  const long = (n: number) => 'x'.repeat(n)
  const labels = (n: number) => Object.fromEntries(Array.from({ length: n }, (_, i) => [`l${i}`, 'v']))
  const invalid: [string, unknown, (string | number)[]][] = [
    ['agent missing', { status: 'ok' }, ['agent']],
    ['agent empty', { agent: '', status: 'ok' }, ['agent']],
    ['agent with a space', { agent: 'node 17', status: 'ok' }, ['agent']],
    ['agent with a slash', { agent: 'a/b', status: 'ok' }, ['agent']],
    ['agent of 129 chars', { agent: long(129), status: 'ok' }, ['agent']],
    ['agent not a string', { agent: 17, status: 'ok' }, ['agent']],
    ['component of 65 chars', { agent: 'a', component: long(65), status: 'ok' }, ['component']],
    ['status missing', { agent: 'a' }, ['status']],
    ['status recovering (earned, never reported)', { agent: 'a', status: 'recovering' }, ['status']],
    ['message over 1 KiB in UTF-8', { agent: 'a', status: 'ok', message: 'é'.repeat(513) }, ['message']],
    ['version empty', { agent: 'a', status: 'ok', version: '' }, ['version']],
    ['pid not an integer', { agent: 'a', status: 'ok', pid: 1.5 }, ['pid']],
    ['pid zero', { agent: 'a', status: 'ok', pid: 0 }, ['pid']],
    ['interval zero', { agent: 'a', status: 'ok', interval_seconds: 0 }, ['interval_seconds']],
    ['interval over a day', { agent: 'a', status: 'ok', interval_seconds: 86_401 }, ['interval_seconds']],
    ['interval as text', { agent: 'a', status: 'ok', interval_seconds: '5' }, ['interval_seconds']],
    ['grace negative', { agent: 'a', status: 'ok', grace_seconds: -1 }, ['grace_seconds']],
    ['grace over a day', { agent: 'a', status: 'ok', grace_seconds: 86_401 }, ['grace_seconds']],
    ['nine labels', { agent: 'a', status: 'ok', labels: labels(9) }, ['labels']],
    ['label name not Prometheus syntax', { agent: 'a', status: 'ok', labels: { 'a-b': 'v' } }, ['labels', 'a-b']],
    ['label name starting with __', { agent: 'a', status: 'ok', labels: { __name__: 'v' } }, ['labels', '__name__']],
    ['label name agent', { agent: 'a', status: 'ok', labels: { agent: 'v' } }, ['labels', 'agent']],
    ['label name version', { agent: 'a', status: 'ok', labels: { version: 'v' } }, ['labels', 'version']],
    ['label name __proto__', JSON.parse('{"agent":"a","status":"ok","labels":{"__proto__":{"x":"y"}}}'), ['labels', '__proto__']],
    ['label name of 65 chars', { agent: 'a', status: 'ok', labels: { [long(65)]: 'v' } }, ['labels', long(65)]],
    ['label value of 129 chars', { agent: 'a', status: 'ok', labels: { a: long(129) } }, ['labels', 'a']],
    ['label value not a string', { agent: 'a', status: 'ok', labels: { a: 1 } }, ['labels', 'a']],
    ['an unknown field', { agent: 'a', status: 'ok', interval: 5 }, []],
    ['an empty batch', [], []],
    ['a batch of 101', Array.from({ length: 101 }, () => ({ agent: 'a', status: 'ok' })), []],
    ['one bad item in a batch', [{ agent: 'a', status: 'ok' }, { agent: 'b', status: 'nope' }], [1, 'status']],
    ['a JSON string', 'ok', []],
    ['JSON null', null, []],
    ['a message with a lone surrogate', { agent: 'a', status: 'ok', message: 'x\ud800y' }, ['message']],
    ['a version with a lone surrogate', { agent: 'a', status: 'ok', version: '1\udc00' }, ['version']],
    ['a label value with a lone surrogate', { agent: 'a', status: 'ok', labels: { a: '\ud83d' } }, ['labels', 'a']],
    ['a lone surrogate in a batch', [{ agent: 'a', status: 'ok' }, { agent: 'b', status: 'ok', message: '\udfff' }], [1, 'message']],
  ]
  it.each(invalid)('rejects %s with 400 invalid_heartbeat naming the field, storing nothing', async (_, body, path) => {
    const { post, store } = setup()
    await post({ agent: 'a', status: 'degraded', labels: { keep: 'me' } })
    const before = await store.snapshot(now)
    const res = await post(JSON.stringify(body))
    expect(res.status).toBe(400)
    const { error } = (await res.json()) as any
    expect(error.code).toBe('invalid_heartbeat')
    expect(error.message).toMatch(/nothing was stored/)
    expect(error.issues.length).toBeGreaterThan(0)
    expect(error.issues[0].path).toEqual(path)
    const after = await store.snapshot(now)
    expect(after.records).toEqual(before.records)
    expect(after.counters.received).toBe(before.counters.received)
  })

  it('says why a lone surrogate is refused, and takes a well-formed pair (an emoji)', async () => {
    const { post, json } = setup()
    // JSON.stringify writes a lone surrogate as the escape \ud800, which JSON.parse turns back into one.
    const res = await post({ agent: 'a', status: 'degraded', message: 'x\ud800y' })
    expect(((await res.json()) as any).error.issues).toEqual([{ path: ['message'], message: 'must be well-formed Unicode (no lone surrogates)' }])
    expect((await post({ agent: 'a', status: 'degraded', message: 'disk full \ud83d\udd25' })).status).toBe(200)
    expect((await json('/v1/agents/a')).body.components[0].message).toBe('disk full 🔥')
  })

  it('says why a label name is refused', async () => {
    const { post } = setup()
    const res = await post({ agent: 'a', status: 'ok', labels: { __x: '1', agent: 'b', 'a-b': 'c' } })
    const { error } = (await res.json()) as any
    expect(error.issues).toEqual([
      { path: ['labels', '__x'], message: 'label "__x": names starting with __ are reserved' },
      { path: ['labels', 'agent'], message: 'label "agent": agent, component and version are reserved' },
      { path: ['labels', 'a-b'], message: 'label "a-b": must be a Prometheus label name' },
    ])
  })

  it('rejects malformed JSON with 400 malformed_json', async () => {
    const { post, store } = setup()
    const res = await post('{"agent": "a", "status": ')
    expect(res.status).toBe(400)
    expect(((await res.json()) as any).error.code).toBe('malformed_json')
    expect((await store.snapshot(now)).records).toEqual([])
  })

  it.each([
    ['no Content-Type', undefined],
    ['text/plain', 'text/plain'],
    ['form data', 'application/x-www-form-urlencoded'],
  ])('rejects %s with 415', async (_, type) => {
    const { request, store } = setup()
    const headers: Record<string, string> = type ? { 'Content-Type': type } : {}
    const res = await request('/v1/heartbeat', { method: 'POST', headers, body: '{"agent":"a","status":"ok"}' })
    expect(res.status).toBe(415)
    expect(((await res.json()) as any).error.code).toBe('unsupported_media_type')
    expect((await store.snapshot(now)).records).toEqual([])
  })

  it('rejects a body over 16 KiB with 413, with or without Content-Length', async () => {
    const { post, request, store } = setup()
    const big = JSON.stringify({ agent: 'a', status: 'ok', message: 'x'.repeat(17_000) })
    const res = await post(big)
    expect(res.status).toBe(413)
    expect(((await res.json()) as any).error.code).toBe('body_too_large')
    const chunked = new ReadableStream({
      start(controller) {
        for (let i = 0; i < 20; i++) controller.enqueue(new TextEncoder().encode(' '.repeat(1024)))
        controller.close()
      },
    })
    const streamed = await request('/v1/heartbeat', {
      method: 'POST', headers: { 'Content-Type': 'application/json' }, body: chunked, duplex: 'half',
    } as RequestInit)
    expect(streamed.status).toBe(413)
    expect((await store.snapshot(now)).records).toEqual([])
  })

  it('answers 503 store_unavailable with Retry-After when the store cannot write', async () => {
    const settings = loadSettings({})
    const failing = new MemoryStore(settings)
    failing.apply = async () => {
      throw new Error('SQLITE_FULL: database or disk is full')
    }
    const { post } = setup({}, { store: failing })
    const res = await post({ agent: 'a', status: 'ok' })
    expect(res.status).toBe(503)
    expect(res.headers.get('Retry-After')).toBe('1')
    const body = await res.text()
    expect(JSON.parse(body).error.code).toBe('store_unavailable')
    expect(body).not.toMatch(/SQLITE/)
  })

  it('refuses a batch past a cap with 422 naming it, and counts it', async () => {
    const { post, metrics, store } = setup({ MAX_AGENTS: '2', MAX_VERSIONS: '1' })
    await post([{ agent: 'a', status: 'ok', version: '1' }, { agent: 'b', status: 'ok' }])
    const res = await post([{ agent: 'a', status: 'degraded' }, { agent: 'c', status: 'ok' }])
    expect(res.status).toBe(422)
    expect(await res.json()).toEqual({
      error: { code: 'too_many_agents', message: 'the fleet has 2 agents and this batch adds 1; MAX_AGENTS is 2; nothing was stored' },
    })
    expect((await post({ agent: 'b', status: 'ok', version: '2' })).status).toBe(422)
    expect((await store.snapshot(now)).records.map((r) => r.state)).toEqual(['ok', 'ok'])
    const text = await metrics()
    expect(text).toContain('pulsegate_heartbeats_rejected_total{reason="too_many_agents"} 1')
    expect(text).toContain('pulsegate_heartbeats_rejected_total{reason="too_many_versions"} 1')
  })

  it('answers 429 with Retry-After past the rate limit per component', async () => {
    const { post, metrics } = setup({ RATE_LIMIT_PER_SECOND: '1' })
    expect((await post({ agent: 'a', status: 'ok' })).status).toBe(200)
    const limited = await post({ agent: 'a', status: 'ok' })
    expect(limited.status).toBe(429)
    expect(limited.headers.get('Retry-After')).toBe('1')
    expect(((await limited.json()) as any).error.code).toBe('rate_limited')
    advance(1)
    expect((await post({ agent: 'a', status: 'ok' })).status).toBe(200)
    expect(await metrics()).toContain('pulsegate_heartbeats_rejected_total{reason="rate_limited"} 1')
  })

  it('counts every rejection by reason in /metrics', async () => {
    const { post, request, metrics } = setup()
    await post({ agent: 'a' })
    await post({ agent: 'a' })
    await post('{')
    await request('/v1/heartbeat', { method: 'POST', body: '{}' })
    await post({ agent: 'a', status: 'ok' })
    const text = await metrics()
    expect(text).toContain('pulsegate_heartbeats_rejected_total{reason="invalid_heartbeat"} 2')
    expect(text).toContain('pulsegate_heartbeats_rejected_total{reason="malformed_json"} 1')
    expect(text).toContain('pulsegate_heartbeats_rejected_total{reason="unsupported_media_type"} 1')
    expect(text).toContain('heartbeat_connections_received_total 1')
  })
})

describe('tokens', () => {
  const env = { HEARTBEAT_TOKEN: 'old-secret, new-secret', METRICS_TOKEN: 'scrape-secret' }

  it('requires a heartbeat token to POST, and takes any of the listed ones', async () => {
    const { post, store, metrics } = setup(env)
    const none = await post({ agent: 'a', status: 'ok' })
    expect(none.status).toBe(401)
    expect(none.headers.get('WWW-Authenticate')).toBe('Bearer realm="pulsegate"')
    expect(((await none.json()) as any).error.code).toBe('unauthorized')
    const wrong = await post({ agent: 'a', status: 'ok' }, { Authorization: 'Bearer nope' })
    expect(wrong.status).toBe(401)
    expect(wrong.headers.get('WWW-Authenticate')).toMatch(/invalid_token/)
    const malformed = await post({ agent: 'a', status: 'ok' }, { Authorization: 'Basic abc' })
    expect(malformed.status).toBe(400)
    expect(((await malformed.json()) as any).error.code).toBe('invalid_authorization')
    expect((await store.snapshot(now)).records).toEqual([])
    expect((await post({ agent: 'a', status: 'ok' }, { Authorization: 'Bearer old-secret' })).status).toBe(200)
    expect((await post({ agent: 'b', status: 'ok' }, { Authorization: 'Bearer new-secret' })).status).toBe(200)
    const text = await metrics({ Authorization: 'Bearer scrape-secret' })
    expect(text).toContain('pulsegate_heartbeats_rejected_total{reason="unauthorized"} 2')
    expect(text).toContain('pulsegate_heartbeats_rejected_total{reason="invalid_authorization"} 1')
  })

  it('authenticates before reading the body', async () => {
    const { post } = setup(env)
    expect((await post('not json at all')).status).toBe(401)
  })

  it('requires the heartbeat token to DELETE, but not to read', async () => {
    const { post, request, json } = setup(env)
    await post({ agent: 'a', status: 'ok' }, { Authorization: 'Bearer new-secret' })
    expect((await request('/v1/agents/a', { method: 'DELETE' })).status).toBe(401)
    expect((await request('/readyz')).status).toBe(200)
    expect((await json('/v1/agents/a')).status).toBe(200)
    expect((await request('/v1/agents/a', { method: 'DELETE', headers: { Authorization: 'Bearer old-secret' } })).status).toBe(200)
  })

  it('guards /metrics with METRICS_TOKEN and counts refused scrapes by code', async () => {
    const { request, metrics } = setup(env)
    expect((await request('/metrics')).status).toBe(401)
    expect((await request('/metrics', { headers: { Authorization: 'Bearer new-secret' } })).status).toBe(401)
    await metrics({ Authorization: 'Bearer scrape-secret' })
    const text = await metrics({ Authorization: 'Bearer scrape-secret' })
    expect(text).toContain('promhttp_metric_handler_requests_total{code="401"} 2')
    expect(text).toContain('promhttp_metric_handler_requests_total{code="200"} 1')
  })
})

describe('/readyz', () => {
  it('is 400 starting for an empty fleet', async () => {
    const { json } = setup()
    expect(await json('/readyz')).toMatchObject({
      status: 400,
      body: { status: "fleet is starting and hasn't joined the cluster yet", state: 'starting' },
    })
  })

  it("answers Teleport's codes and bodies through starting → ok → degraded → recovering → ok", async () => {
    const { post, json } = setup()
    const story: [number, string, number, string, string][] = [
      [0, 'starting', 400, 'starting', "fleet is starting and hasn't joined the cluster yet"],
      [1, 'ok', 200, 'ok', 'ok'],
      [1, 'degraded', 503, 'degraded', 'fleet is in a degraded state, check /readyz?verbose for details'],
      [1, 'ok', 400, 'recovering', 'fleet is recovering from a degraded state, check /readyz?verbose for details'],
      [5, 'ok', 400, 'recovering', 'fleet is recovering from a degraded state, check /readyz?verbose for details'],
      [5, 'ok', 200, 'ok', 'ok'],
    ]
    for (const [wait, status, code, state, text] of story) {
      advance(wait)
      await post({ agent: 'node-17', status, pid: 4242, interval_seconds: 30 })
      expect(await json('/readyz')).toMatchObject({ status: code, body: { status: text, state } })
      const agent = await json('/readyz/node-17')
      expect(agent.status).toBe(code)
      expect(agent.body).toEqual({ status: text.replace('fleet', 'agent node-17'), state, pid: 4242 })
    }
  })

  it('counts a missed heartbeat as degraded at read time, exactly after interval + grace', async () => {
    const { post, json, request } = setup()
    await post({ agent: 'node-9', status: 'ok', interval_seconds: 5, grace_seconds: 5 })
    advance(10)
    expect((await json('/readyz')).status).toBe(200)
    now += 1
    expect(await json('/readyz/node-9')).toMatchObject({ status: 503, body: { state: 'degraded' } })
    const verbose = await request('/readyz?verbose')
    expect(verbose.status).toBe(503)
    expect(await verbose.text()).toBe('[-]node-9 degraded: missed heartbeat\nreadyz check failed\n')
    await post({ agent: 'node-9', status: 'ok' })
    expect(await json('/readyz')).toMatchObject({ status: 400, body: { state: 'recovering' } })
  })

  it('lists every check with ?verbose, in Kubernetes form, with the same code', async () => {
    const { post, request } = setup()
    await post([
      { agent: 'node-17', status: 'ok' },
      { agent: 'node-9', status: 'degraded', message: 'disk full' },
      { agent: 'node-3', component: 'proxy', status: 'ok' },
      { agent: 'node-3', component: 'ssh', status: 'starting' },
    ])
    const res = await request('/readyz?verbose')
    expect(res.status).toBe(503)
    expect(res.headers.get('Content-Type')).toMatch(/^text\/plain/)
    expect(await res.text()).toBe(
      '[-]node-17 ok\n'.replace('[-]', '[+]') +
        '[-]node-3 starting: ssh\n' +
        '[-]node-9 degraded: disk full\n' +
        'readyz check failed\n',
    )
    const agent = await request('/readyz/node-3?verbose')
    expect(agent.status).toBe(400)
    expect(await agent.text()).toBe('[+]proxy ok\n[-]ssh starting\nreadyz check failed\n')
  })

  it('leaves agents out with ?exclude (repeatable)', async () => {
    const { post, json, request } = setup()
    await post([
      { agent: 'node-17', status: 'ok' },
      { agent: 'node-9', status: 'degraded' },
      { agent: 'node-3', status: 'starting' },
    ])
    expect((await json('/readyz?exclude=node-9')).status).toBe(400)
    expect(await json('/readyz?exclude=node-9&exclude=node-3')).toMatchObject({ status: 200, body: { state: 'ok' } })
    const verbose = await request('/readyz?exclude=node-9&exclude=node-3&verbose')
    expect(await verbose.text()).toBe(
      '[+]node-17 ok\n[+]node-3 excluded: ok\n[+]node-9 excluded: ok\nreadyz check passed\n',
    )
    await post({ agent: 'node-3', component: 'ssh', status: 'degraded' })
    expect((await json('/readyz/node-3?exclude=ssh')).status).toBe(400)
  })

  it('answers 404 JSON for an unknown agent, and HEAD works', async () => {
    const { json, request, post } = setup()
    expect(await json('/readyz/ghost')).toMatchObject({ status: 404, body: { error: { code: 'unknown_agent' } } })
    await post({ agent: 'a', status: 'degraded' })
    const head = await request('/readyz/a', { method: 'HEAD' })
    expect(head.status).toBe(503)
    expect(await head.text()).toBe('')
  })

  it('leaves pid out when the agent never reported one', async () => {
    const { json, post } = setup()
    await post({ agent: 'a', status: 'ok' })
    expect((await json('/readyz/a')).body).toEqual({ status: 'ok', state: 'ok' })
  })
})

describe('/v1/agents', () => {
  it('lists agents with their components, state, last seen, message, version and labels', async () => {
    const { post, json } = setup()
    await post({ agent: 'node-17', component: 'proxy', status: 'degraded', message: 'backend down', version: '19.1.2', pid: 7, labels: { region: 'eu' } })
    advance(2)
    await post({ agent: 'node-17', component: 'ssh', status: 'ok', interval_seconds: 5 })
    const { status, body } = await json('/v1/agents')
    expect(status).toBe(200)
    expect(body).toEqual({
      state: 'degraded',
      agents: [{
        agent: 'node-17', state: 'degraded', reason: 'proxy: backend down', pid: 7, version: '19.1.2',
        last_seen: new Date(T0 + 2000).toISOString(),
        uptime: { '24h': 0, '7d': 0, '30d': 0 },
        components: [
          {
            component: 'proxy', state: 'degraded', reason: 'backend down', last_seen: new Date(T0).toISOString(),
            deadline: new Date(T0 + 90_000).toISOString(), message: 'backend down', version: '19.1.2', pid: 7,
            labels: { region: 'eu' }, interval_seconds: 60, schedule: null, tz: null, grace_seconds: 30, max_run_seconds: 30,
            expire_seconds: 3600, expires: new Date(T0 + 3_600_000).toISOString(), declared: false,
            running_since: null, runs_open: 0, last_duration_seconds: null, last_exit_code: null, last_success: null,
            // Degraded for the 2 s it has existed.
            uptime: { '24h': 0, '7d': 0, '30d': 0 },
          },
          {
            component: 'ssh', state: 'ok', reason: null, last_seen: new Date(T0 + 2000).toISOString(),
            deadline: new Date(T0 + 12_000).toISOString(), message: null, version: null, pid: null,
            labels: {}, interval_seconds: 5, schedule: null, tz: null, grace_seconds: 5, max_run_seconds: 5,
            expire_seconds: 3600, expires: new Date(T0 + 3_602_000).toISOString(), declared: false,
            running_since: null, runs_open: 0, last_duration_seconds: null, last_exit_code: null, last_success: null,
            // Ok from this very moment: no time in any window yet.
            uptime: { '24h': null, '7d': null, '30d': null },
          },
        ],
      }],
      next_cursor: null,
    })
    expect((await json('/v1/agents/node-17')).body).toEqual(body.agents[0])
  })

  it('lists 100 agents a page by default, sorted by id, and the cursor goes through the rest', async () => {
    const { post, json } = setup({ RATE_LIMIT_PER_SECOND: '0' })
    const ids = Array.from({ length: 250 }, (_, i) => `node-${String(i).padStart(3, '0')}`)
    for (let i = 0; i < ids.length; i += 100) await post([...ids].reverse().slice(i, i + 100).map((agent) => ({ agent, status: 'ok' })))
    const first = (await json('/v1/agents')).body
    expect(first.agents).toHaveLength(100)
    expect(first.state).toBe('ok')
    const seen: string[] = first.agents.map((a: any) => a.agent)
    let cursor = first.next_cursor
    const pages = [first.agents.length]
    while (cursor) {
      const page = (await json(`/v1/agents?cursor=${cursor}`)).body
      pages.push(page.agents.length)
      seen.push(...page.agents.map((a: any) => a.agent))
      cursor = page.next_cursor
    }
    expect(pages).toEqual([100, 100, 50])
    expect(seen).toEqual(ids)
    const all = (await json('/v1/agents?limit=500')).body
    expect(all.agents.map((a: any) => a.agent)).toEqual(ids)
    expect(all.next_cursor).toBeNull()
  })

  it('continues after the last agent of the page before, whatever changed since', async () => {
    const { post, json, request } = setup()
    await post(['a', 'b', 'c', 'd'].map((agent) => ({ agent, status: 'ok' })))
    const first = (await json('/v1/agents?limit=2')).body
    expect(first.agents.map((a: any) => a.agent)).toEqual(['a', 'b'])
    // Gone and new agents before the cursor change nothing after it.
    await request('/v1/agents/b', { method: 'DELETE' })
    await post([{ agent: 'aa', status: 'degraded' }, { agent: 'bb', status: 'ok' }])
    const second = (await json(`/v1/agents?limit=2&cursor=${first.next_cursor}`)).body
    expect(second.agents.map((a: any) => a.agent)).toEqual(['bb', 'c'])
    expect(second.state).toBe('degraded') // the whole fleet's
    const third = (await json(`/v1/agents?limit=2&cursor=${second.next_cursor}`)).body
    expect(third).toMatchObject({ next_cursor: null })
    expect(third.agents.map((a: any) => a.agent)).toEqual(['d'])
  })

  it.each([
    ['limit=0', ['limit']],
    ['limit=501', ['limit']],
    ['limit=ten', ['limit']],
    ['limit=2.5', ['limit']],
    ['cursor=not*base64', ['cursor']],
    [`cursor=${btoa('not an id')}`, ['cursor']],
  ])('refuses ?%s with 400 invalid_query naming it', async (query, path) => {
    const { json } = setup()
    const { status, body } = await json(`/v1/agents?${query}`)
    expect(status).toBe(400)
    expect(body.error.code).toBe('invalid_query')
    expect(body.error.issues[0].path).toEqual(path)
  })

  it('answers 404 for an unknown agent', async () => {
    const { json } = setup()
    expect(await json('/v1/agents/ghost')).toMatchObject({ status: 404, body: { error: { code: 'unknown_agent' } } })
  })

  it('deregisters with DELETE: gone from the list, the probes and /metrics', async () => {
    const { post, json, metrics } = setup()
    await post([{ agent: 'a', status: 'ok' }, { agent: 'a', component: 'ssh', status: 'ok' }, { agent: 'b', status: 'ok' }])
    expect(await json('/v1/agents/a', { method: 'DELETE' })).toEqual(expect.objectContaining({ status: 200, body: { agent: 'a', removed: 2 } }))
    expect((await json('/v1/agents/a', { method: 'DELETE' })).status).toBe(404)
    expect((await json('/readyz/a')).status).toBe(404)
    expect((await json('/v1/agents')).body.agents.map((a: any) => a.agent)).toEqual(['b'])
    expect(await metrics()).not.toContain('agent="a"')
  })

  it('drops expired agents from every answer', async () => {
    const { post, json, metrics } = setup({ EXPIRE_SECONDS: '100' })
    await post({ agent: 'a', status: 'ok' })
    // Due at 90 s (60 s + 30 s grace): seen missed for a whole interval before it may go, at 150 s, not at 100 s.
    advance(100.001)
    expect((await json('/v1/agents')).body.agents).toMatchObject([{ agent: 'a', state: 'degraded', reason: 'missed heartbeat' }])
    advance(49.999)
    expect((await json('/v1/agents')).body.agents).toHaveLength(1)
    advance(0.001)
    expect((await json('/v1/agents')).body.agents).toEqual([])
    expect((await json('/readyz')).body.state).toBe('starting')
    expect(await metrics()).not.toContain('agent="a"')
  })
})

describe('errors and headers', () => {
  it('answers 404 JSON for an unknown path', async () => {
    const { json } = setup()
    expect(await json('/nope')).toMatchObject({ status: 404, body: { error: { code: 'not_found' } } })
  })

  it.each([
    ['PUT', '/readyz', 'GET, HEAD'],
    ['POST', '/metrics', 'GET, HEAD'],
    ['GET', '/v1/heartbeat', 'POST'],
    ['POST', '/v1/agents/a', 'GET, HEAD, DELETE'],
    ['DELETE', '/healthz', 'GET, HEAD'],
  ])('answers 405 with Allow for %s %s', async (method, path, allow) => {
    const { request } = setup()
    const res = await request(path, { method })
    expect(res.status).toBe(405)
    expect(res.headers.get('Allow')).toBe(allow)
    expect(((await res.json()) as any).error.code).toBe('method_not_allowed')
  })

  it.each(['/healthz', '/readyz', '/readyz/ghost', '/metrics', '/v1/agents', '/nope'])(
    'sends Cache-Control: no-store and nosniff on %s',
    async (path) => {
      const { request } = setup()
      const res = await request(path)
      expect(res.headers.get('Cache-Control')).toBe('no-store')
      expect(res.headers.get('X-Content-Type-Options')).toBe('nosniff')
    },
  )
})

describe('CORS', () => {
  const preflight = (origin: string, method = 'POST') => ({
    method: 'OPTIONS',
    headers: { Origin: origin, 'Access-Control-Request-Method': method, 'Access-Control-Request-Headers': 'authorization, content-type' },
  })

  it('sends no CORS header and answers OPTIONS 405 when CORS_ORIGINS is unset', async () => {
    const { request } = setup()
    const res = await request('/readyz', { headers: { Origin: 'https://status.example' } })
    expect([...res.headers.keys()].filter((h) => h.startsWith('access-control-'))).toEqual([])
    const options = await request('/v1/heartbeat', preflight('https://status.example'))
    expect(options.status).toBe(405)
    expect(options.headers.get('Allow')).toBe('POST')
  })

  it('answers a preflight on every path for a listed origin, never with credentials', async () => {
    const origin = 'https://status.example'
    const { request, app } = setup({ CORS_ORIGINS: `${origin}, http://127.0.0.1:3000` })
    const paths = [...new Set(app.routes.filter((r) => r.method !== 'ALL').map((r) => r.path.replace(':agent', 'node-1')))]
    expect(paths.length).toBeGreaterThan(8)
    for (const path of paths) {
      const res = await request(path, preflight(origin))
      expect(res.status, path).toBe(204)
      expect(res.headers.get('Access-Control-Allow-Origin')).toBe(origin)
      expect(res.headers.get('Access-Control-Allow-Methods')).toBe('GET,HEAD,POST,DELETE')
      expect(res.headers.get('Access-Control-Allow-Headers')).toBe('Authorization,Content-Type,Accept')
      expect(res.headers.get('Access-Control-Allow-Credentials')).toBeNull()
      expect(res.headers.get('Vary')).toMatch(/Origin/)
      expect(res.headers.get('Cache-Control')).toBe('no-store')
    }
    const other = await request('/v1/heartbeat', preflight('https://evil.example'))
    expect(other.headers.get('Access-Control-Allow-Origin')).toBeNull()
    // An OPTIONS that is no preflight is what it was: a method the path does not route.
    expect((await request('/readyz', { method: 'OPTIONS' })).status).toBe(405)
  })

  it('marks answers to a listed origin, errors included, and exposes the headers a page needs', async () => {
    const origin = 'https://status.example'
    const { request, post } = setup({ CORS_ORIGINS: origin, HEARTBEAT_TOKEN: 'secret' })
    const refused = await post({ agent: 'a', status: 'ok' }, { Origin: origin })
    expect(refused.status).toBe(401)
    expect(refused.headers.get('Access-Control-Allow-Origin')).toBe(origin)
    expect(refused.headers.get('Access-Control-Expose-Headers')).toBe('Retry-After,WWW-Authenticate,Allow,Age')
    const readyz = await request('/readyz', { headers: { Origin: 'https://evil.example' } })
    expect(readyz.headers.get('Access-Control-Allow-Origin')).toBeNull()
  })

  it('answers any origin with * and still no credentials', async () => {
    const { request } = setup({ CORS_ORIGINS: '*' })
    const res = await request('/v1/agents/a', preflight('https://anywhere.example', 'DELETE'))
    expect(res.status).toBe(204)
    expect(res.headers.get('Access-Control-Allow-Origin')).toBe('*')
    expect(res.headers.get('Access-Control-Allow-Credentials')).toBeNull()
    expect((await request('/metrics', { headers: { Origin: 'https://x.example' } })).headers.get('Access-Control-Allow-Origin')).toBe('*')
  })
})

describe('/metrics', () => {
  it('exports every state, counter and gauge of the README with HELP', async () => {
    const { post, metrics } = setup()
    await post([
      { agent: 'node-17', component: 'proxy', status: 'ok', version: '19.1.2' },
      { agent: 'node-17', component: 'ssh', status: 'ok', version: '19.1.2' },
      { agent: 'node-9', status: 'degraded', version: '18.0.0' },
      { agent: 'node-3', status: 'starting' },
      { agent: 'node-4', status: 'degraded', interval_seconds: 1, grace_seconds: 0 },
    ])
    advance(2)
    await post({ agent: 'node-4', status: 'ok', interval_seconds: 60 })
    await post({ agent: 'node-5', status: 'ok', interval_seconds: 1, grace_seconds: 0 })
    advance(2)
    const text = await metrics()
    for (const line of [
      'process_state{agent="node-17",component="proxy"} 0',
      'process_state{agent="node-17",component="ssh"} 0',
      'process_state{agent="node-9",component="main"} 2',
      'process_state{agent="node-3",component="main"} 3',
      'process_state{agent="node-4",component="main"} 1',
      'process_state{agent="node-5",component="main"} 2',
      'heartbeat_connections_received_total 7',
      'heartbeat_missed_total 1',
      'teleport_connected_resources{type="proxy"} 1',
      'teleport_connected_resources{type="main"} 4',
      'teleport_registered_servers{version="19.1.2"} 1',
      'teleport_registered_servers{version="18.0.0"} 1',
      'teleport_registered_servers{version="unknown"} 3',
      'teleport_resources_health_status_healthy 1',
      'teleport_resources_health_status_unhealthy 3',
      'teleport_resources_health_status_unknown 1',
      'promhttp_metric_handler_requests_in_flight 1',
      'pulsegate_overdue_components 1',
      'pulsegate_expired_total 0',
      'pulsegate_history_dropped_total 0',
      `pulsegate_last_heartbeat_timestamp_seconds{agent="node-9",component="main"} ${T0 / 1000}`,
      'pulsegate_build_info{version="0.1.0",runtime="test"} 1',
    ]) {
      expect(text.split('\n')).toContain(line)
    }
    for (const name of text.match(/^# TYPE (\S+)/gm)!.map((l) => l.slice(7))) {
      expect(text).toMatch(new RegExp(`^# HELP ${name} \\S`, 'm'))
    }
  })

  it('compresses the exposition when the scraper accepts gzip, as Prometheus does', async () => {
    const { request, post } = setup()
    await post(Array.from({ length: 50 }, (_, i) => ({ agent: `node-${i}`, status: 'ok' })))
    const plain = await (await request('/metrics')).text()
    const res = await request('/metrics', { headers: { 'Accept-Encoding': 'gzip' } })
    expect(res.headers.get('Content-Encoding')).toBe('gzip')
    const bytes = new Uint8Array(await res.arrayBuffer())
    expect(bytes.byteLength).toBeLessThan(plain.length / 4)
    const unzipped = await new Response(new Blob([bytes]).stream().pipeThrough(new DecompressionStream('gzip'))).text()
    expect(unzipped.replace(/promhttp_metric_handler_requests_total\{code="200"\} \d+/, '')).toBe(
      plain.replace(/promhttp_metric_handler_requests_total\{code="200"\} \d+/, ''),
    )
  })

  it('serves the text format by default, with the registry content type', async () => {
    const { request } = setup()
    const res = await request('/metrics')
    expect(res.headers.get('Content-Type')).toBe('text/plain; version=0.0.4; charset=utf-8')
    expect(await res.text()).not.toContain('# EOF')
  })

  it("serves OpenMetrics to Prometheus's Accept header and text to text/plain", async () => {
    const { request, post } = setup()
    await post({ agent: 'a', status: 'ok' })
    const prometheusAccept =
      'application/openmetrics-text;version=1.0.0,application/openmetrics-text;version=0.0.1;q=0.75,text/plain;version=0.0.4;q=0.5,*/*;q=0.1'
    const om = await request('/metrics', { headers: { Accept: prometheusAccept } })
    expect(om.headers.get('Content-Type')).toBe('application/openmetrics-text; version=1.0.0; charset=utf-8')
    const body = await om.text()
    expect(body.endsWith('# EOF\n')).toBe(true)
    expect(body).toContain('# TYPE heartbeat_connections_received counter')
    expect(body).toContain('heartbeat_connections_received_total 1')
    const text = await request('/metrics', { headers: { Accept: 'text/plain' } })
    expect(text.headers.get('Content-Type')).toMatch(/^text\/plain/)
  })

  it('includes runtime metrics when the runtime has them, and OpenMetrics does not rename them for later scrapes', async () => {
    const runtimeRegistry = new Registry()
    collectDefaultMetrics({ register: runtimeRegistry })
    const { request, metrics } = setup({}, { runtimeRegistry })
    await request('/healthz')
    const om = await metrics({ Accept: 'application/openmetrics-text' })
    expect(om).toMatch(/^# TYPE process_cpu_seconds counter$/m)
    expect(om).toMatch(/^process_cpu_seconds_total \d/m)
    expect(om).toMatch(/^pulsegate_http_requests_total\{/m)
    expect(om).not.toContain('_total_total')
    const text = await metrics()
    expect(text).toMatch(/^process_cpu_seconds_total \d/m)
    expect(text).toMatch(/^nodejs_heap_size_used_bytes \d/m)
    expect(text).toContain('pulsegate_http_request_duration_seconds_bucket')
    expect(text).toMatch(/^nodejs_active_handles\{type="/m)
    expect(text).not.toMatch(/^nodejs_active_handles_total/m) // a gauge named like a counter: dropped
  })

  it('has no runtime metrics without a runtime registry (Workers)', async () => {
    const { metrics } = setup()
    const text = await metrics()
    expect(text).not.toMatch(/^(process_cpu|nodejs_)/m)
    expect(text).not.toContain('pulsegate_http_request_duration_seconds')
  })

  it('escapes label values that need it', async () => {
    const { post, metrics } = setup()
    await post({ agent: 'a', status: 'ok', version: 'v1 "quoted" \\ back\nslash' })
    expect(await metrics()).toContain('teleport_registered_servers{version="v1 \\"quoted\\" \\\\ back\\nslash"} 1')
  })
})
