// Cron jobs and declared components through app.request(), with an injected clock:
// the JSON signals of a run, schedules, declarations, expiry that never hides a
// failure, the job metrics, and healthchecks.io's ping URLs with their exact answers.
// Every answer is held to the OpenAPI document the app serves.
import { beforeEach, describe, expect, it } from 'vitest'
import { testApp } from './support/app.ts'

// 2027-01-15T02:00:00Z, a Friday.
const T0 = Date.UTC(2027, 0, 15, 2, 0, 0)
let now = T0
const advance = (seconds: number) => (now += seconds * 1000)
const iso = (ms: number) => new Date(ms).toISOString()
const KEY = 'k'.repeat(8) + '0123456789abcdef'

beforeEach(() => {
  now = T0
})

const setup = (env: Record<string, string> = {}) => {
  const harness = testApp(() => now, { PING_KEY: KEY, ...env })
  const component = async (agent: string, name = 'main') =>
    (await harness.json(`/v1/agents/${agent}`)).body.components.find((c: any) => c.component === name)
  const readyz = async (path = '/readyz') => (await harness.request(path)).status
  const metric = async (name: string, agent: string, comp = 'main') =>
    new RegExp(`^${name}\\{agent="${agent}",component="${comp}"\\} (\\S+)$`, 'm').exec(await harness.metrics())?.[1]
  const ping = async (path: string, init?: RequestInit) => {
    const res = await harness.request(`/ping/${KEY}/${path}`, init)
    return { status: res.status, text: await res.text(), res }
  }
  return { ...harness, component, readyz, metric, ping }
}

describe('a job through JSON heartbeats', () => {
  it('a running job changes no state: the fleet stays 200 while it runs, and its run is listed', async () => {
    const { post, readyz, component, metric } = setup()
    expect((await post({ agent: 'db-1', component: 'backup', status: 'ok', interval_seconds: 3600 })).status).toBe(200)
    expect(await readyz()).toBe(200)
    advance(10)
    expect((await post({ agent: 'db-1', component: 'backup', run: 'start', run_id: 'r1' })).status).toBe(200)
    expect(await readyz()).toBe(200)
    expect(await component('db-1', 'backup')).toMatchObject({ state: 'ok', running_since: iso(now), runs_open: 1, deadline: iso(now + 1_800_000) })
    expect(await metric('pulsegate_job_running', 'db-1', 'backup')).toBe('1')
    advance(1.25)
    expect((await post({ agent: 'db-1', component: 'backup', run: 'finish', run_id: 'r1', exit_code: 0 })).status).toBe(200)
    expect(await component('db-1', 'backup')).toMatchObject({
      state: 'ok', running_since: null, runs_open: 0, last_duration_seconds: 1.25, last_exit_code: 0, last_success: iso(now),
    })
    expect(await metric('pulsegate_job_running', 'db-1', 'backup')).toBe('0')
    expect(await metric('pulsegate_job_last_duration_seconds', 'db-1', 'backup')).toBe('1.25')
    expect(await metric('pulsegate_job_last_exit_code', 'db-1', 'backup')).toBe('0')
    expect(await metric('pulsegate_job_last_success_timestamp_seconds', 'db-1', 'backup')).toBe(String(now / 1000))
  })

  it('a run open past its max run time is degraded, "ran too long", at exactly that instant', async () => {
    const { post, component, readyz } = setup()
    await post({ agent: 'db-1', run: 'start', interval_seconds: 3600, max_run_seconds: 30 })
    advance(30)
    expect(await component('db-1')).toMatchObject({ state: 'ok', reason: null }) // its first start: alive, within its time
    advance(0.001)
    expect(await component('db-1')).toMatchObject({ state: 'degraded', reason: 'ran too long' })
    expect(await readyz('/readyz/db-1')).toBe(503)
  })

  it('exports job series only for jobs, and no job family at all without one', async () => {
    const { post, metrics } = setup()
    await post({ agent: 'web-1', status: 'ok' })
    expect(await metrics()).not.toMatch(/pulsegate_job_/)
    await post({ agent: 'db-1', status: 'ok', schedule: '0 3 * * *' })
    const text = await metrics()
    expect(text).toMatch(/^pulsegate_job_running\{agent="db-1",component="main"\} 0$/m)
    expect(text).not.toMatch(/pulsegate_job_running\{agent="web-1"/)
    expect(text).not.toMatch(/pulsegate_job_last_exit_code/)
  })

  it.each([
    [{ agent: 'a', run: 'start', status: 'ok' }, 'status', "a run's start reports no status"],
    [{ agent: 'a', exit_code: 256 }, 'exit_code', 'Too big'],
    [{ agent: 'a', exit_code: 3, status: 'ok' }, 'status', 'disagrees with exit_code 3'],
    [{ agent: 'a', log: true, status: 'ok' }, 'status', 'a log line reports no status'],
    [{ agent: 'a' }, 'status', 'is required'],
    [{ agent: 'a', status: 'ok', schedule: '0 3 * * *', interval_seconds: 60 }, 'schedule', 'an interval or a schedule, not both'],
    [{ agent: 'a', status: 'ok', schedule: '0 25 * * *' }, 'schedule', 'is not a cron expression'],
    [{ agent: 'a', status: 'ok', schedule: '@daily', tz: 'Mars/Olympus' }, 'tz', 'is not a time zone'],
    [{ agent: 'a', status: 'ok', tz: 'Europe/Berlin' }, 'tz', 'send it with schedule'],
    [{ agent: 'a', status: 'ok', expire_seconds: -1 }, 'expire_seconds', 'Too small'],
  ])('refuses %j with a 400 naming %s, storing nothing', async (body, field, message) => {
    const { post, json } = setup()
    const res = await post(body)
    expect(res.status).toBe(400)
    const { error } = (await res.json()) as any
    expect(error.code).toBe('invalid_heartbeat')
    expect(error.issues).toContainEqual({ path: [field], message: expect.stringContaining(message) })
    expect((await json('/v1/agents')).body.agents).toEqual([])
  })
})

describe('schedules', () => {
  it('a daily job is due at 03:00 + grace in its time zone, and missed right after', async () => {
    const { post, component } = setup()
    // 02:00 UTC is 03:00 in Berlin (winter, UTC+1): the next 03:30 there is 02:30 UTC.
    await post({ agent: 'db-1', status: 'ok', schedule: '30 3 * * *', tz: 'Europe/Berlin', grace_seconds: 600 })
    expect(await component('db-1')).toMatchObject({
      schedule: '30 3 * * *', tz: 'Europe/Berlin', interval_seconds: null, deadline: iso(Date.UTC(2027, 0, 15, 2, 40)),
    })
    now = Date.UTC(2027, 0, 15, 2, 40)
    expect((await component('db-1')).state).toBe('ok')
    advance(0.001)
    expect(await component('db-1')).toMatchObject({ state: 'degraded', reason: 'missed heartbeat' })
  })
})

describe('declared components', () => {
  const put = (request: ReturnType<typeof setup>['request'], path: string, body: unknown, headers: Record<string, string> = {}) =>
    request(`/v1/agents/${path}`, { method: 'PUT', headers: { 'Content-Type': 'application/json', ...headers }, body: JSON.stringify(body) })

  it('PUT declares (201), again (200), and answers the component as GET /v1/agents/{agent} shows it', async () => {
    const { request, json } = setup()
    const created = await put(request, 'db-1/components/backup', { schedule: '0 3 * * *', grace_seconds: 600, max_run_seconds: 7200 })
    expect(created.status).toBe(201)
    const body = (await created.json()) as any
    expect(body).toMatchObject({
      agent: 'db-1', component: 'backup', state: 'starting', declared: true, last_seen: null, schedule: '0 3 * * *', tz: 'UTC',
      max_run_seconds: 7200, expire_seconds: 0, expires: null, deadline: iso(Date.UTC(2027, 0, 15, 3, 10)),
    })
    const { agent, ...shown } = body
    expect((await json('/v1/agents/db-1')).body.components).toEqual([shown])
    const again = await put(request, 'db-1/components/backup', { interval_seconds: 60 })
    expect(again.status).toBe(200)
    expect(await again.json()).toMatchObject({ schedule: null, tz: null, interval_seconds: 60, grace_seconds: 30, max_run_seconds: 30 })
  })

  it('a declared component that never reports is missed from its deadline, and never expires', async () => {
    const { request, readyz, component, store } = setup({ EXPIRE_SECONDS: '60' })
    await put(request, 'cron-2s/components/main', { schedule: '*/2 * * * * *', grace_seconds: 1 })
    // Due at 02:00:02 + 1 s.
    advance(3)
    expect(await readyz()).toBe(400) // starting: declared, not heard from
    advance(0.001)
    expect(await readyz()).toBe(503)
    advance(365 * 86_400)
    expect(await store.sweep(now)).toBe(0)
    expect(await component('cron-2s')).toMatchObject({ state: 'degraded', reason: 'missed heartbeat', declared: true })
  })

  it('refuses a bad id, name or declaration with 400 invalid_declaration naming the field, and needs the token', async () => {
    const { request, json } = setup({ HEARTBEAT_TOKEN: 'secret-token' })
    const auth = { Authorization: 'Bearer secret-token' }
    expect((await put(request, 'db-1/components/backup', {})).status).toBe(401)
    for (const [path, body, field] of [
      ['db 1/components/backup', {}, 'agent'],
      ['db-1/components/' + 'x'.repeat(65), {}, 'component'],
      ['db-1/components/backup', { schedule: 'every day' }, 'schedule'],
      ['db-1/components/backup', { status: 'ok' }, ''],
    ] as const) {
      const res = await put(request, path, body, auth)
      expect(res.status, path).toBe(400)
      const { error } = (await res.json()) as any
      expect(error.code).toBe('invalid_declaration')
      if (field) expect(error.issues.map((i: any) => i.path[0])).toContain(field)
    }
    expect((await json('/v1/agents')).body.agents).toEqual([])
  })

  it('DELETE removes one component and keeps the agent; an unknown one is 404 unknown_component', async () => {
    const { post, request, json } = setup()
    await post([{ agent: 'db-1', status: 'ok' }, { agent: 'db-1', component: 'backup', status: 'ok' }])
    const removed = await request('/v1/agents/db-1/components/backup', { method: 'DELETE' })
    expect(removed.status).toBe(200)
    expect(await removed.json()).toEqual({ agent: 'db-1', component: 'backup', removed: true })
    expect((await json('/v1/agents/db-1')).body.components.map((c: any) => c.component)).toEqual(['main'])
    const again = await json('/v1/agents/db-1/components/backup', { method: 'DELETE' })
    expect(again).toMatchObject({ status: 404, body: { error: { code: 'unknown_component' } } })
  })
})

describe('expiry that never hides a failure', () => {
  it('an undeclared component with a short expire_seconds is visibly missed before it expires', async () => {
    const { post, readyz, metrics } = setup()
    await post({ agent: 'gone', status: 'ok', interval_seconds: 10, grace_seconds: 5, expire_seconds: 1 })
    advance(15.001) // missed
    expect(await readyz()).toBe(503)
    advance(9.998) // 25 s after the heartbeat: a whole interval past the deadline, and not yet dropped
    expect(await readyz()).toBe(503)
    advance(0.002)
    expect(await readyz()).toBe(400) // dropped: the fleet is empty
    expect(await metrics()).not.toContain('agent="gone"')
  })
})

describe('ping URLs', () => {
  it('answer as healthchecks.io does: OK, Created, not found, invalid url format, invalid uuid format', async () => {
    const { ping, request, component } = setup()
    expect(await ping('cron-1')).toMatchObject({ status: 404, text: 'not found' })
    const created = await ping('cron-1?create=1')
    expect(created).toMatchObject({ status: 201, text: 'Created' })
    expect(created.res.headers.get('Content-Type')).toMatch(/^text\/plain/)
    expect(created.res.headers.get('Ping-Body-Limit')).toBe('1024')
    expect(await ping('cron-1?create=1')).toMatchObject({ status: 200, text: 'OK' })
    expect(await ping('cron-1')).toMatchObject({ status: 200, text: 'OK' })
    advance(1)
    const head = await request(`/ping/${KEY}/cron-1`, { method: 'HEAD' })
    expect([head.status, await head.text()]).toEqual([200, ''])
    expect((await component('cron-1')).last_seen).toBe(iso(now)) // a HEAD is a ping, as in healthchecks.io
    for (const path of ['cron-1/start', 'cron-1/fail', 'cron-1/log', 'cron-1/0', 'cron-1/255']) {
      expect(await ping(path), path).toMatchObject({ status: 200, text: 'OK' })
    }
    expect(await ping('cron-1/256')).toMatchObject({ status: 400, text: 'invalid url format' })
    expect(await ping('cron-1/start?rid=not-a-uuid')).toMatchObject({ status: 400, text: 'invalid uuid format' })
    expect(await ping('cron-1/restart')).toMatchObject({ status: 404, text: 'not found' })
    expect(await ping('not%20an%20id?create=1')).toMatchObject({ status: 400, text: 'invalid url format' })
    const wrongKey = await request('/ping/wrong-key-0123456789/cron-1')
    expect([wrongKey.status, await wrongKey.text()]).toEqual([404, 'not found'])
  })

  it('start, success, fail, exit code and log do to the component what their JSON heartbeats do', async () => {
    const { ping, component, metric } = setup()
    const rid = '4f0a8c44-8d4f-4c1b-9a2e-6f2a9d1d2b7e'
    await ping('nightly/start?create=1&rid=' + rid)
    expect(await component('nightly')).toMatchObject({ state: 'ok', running_since: iso(now) })
    advance(2)
    await ping('nightly?rid=' + rid, { method: 'POST', body: 'copied 3 GB' })
    expect(await component('nightly')).toMatchObject({ state: 'ok', message: 'copied 3 GB', last_duration_seconds: 2, runs_open: 0 })
    await ping('nightly/fail')
    expect(await component('nightly')).toMatchObject({ state: 'degraded', reason: 'failed' })
    await ping('nightly/log', { method: 'POST', body: 'retrying' })
    expect(await component('nightly')).toMatchObject({ state: 'degraded', message: 'retrying' })
    await ping('nightly/0')
    expect(await component('nightly')).toMatchObject({ state: 'ok', last_exit_code: 0 })
    await ping('nightly/7')
    expect(await component('nightly')).toMatchObject({ state: 'degraded', reason: 'exit code 7', last_exit_code: 7 })
    expect(await metric('pulsegate_job_last_exit_code', 'nightly')).toBe('7')
  })

  it('a POST body becomes the message: its first 1024 bytes, cut on a character, however long it is', async () => {
    const { ping, component } = setup()
    await ping('logs?create=1')
    const body = 'é'.repeat(600) // 1200 bytes: 512 whole characters fit
    await ping('logs/log', { method: 'POST', body })
    expect((await component('logs')).message).toBe('é'.repeat(512))
    await ping('logs/log', { method: 'POST', body: 'x'.repeat(1023) + '€' + 'y'.repeat(100_000) })
    expect((await component('logs')).message).toBe('x'.repeat(1023))
  })

  it('are off without PING_KEY, and say so', async () => {
    const { json } = testApp(() => now)
    expect(await json('/ping/anything-0123456789/cron-1')).toMatchObject({ status: 404, body: { error: { code: 'pings_off' } } })
  })

  it('are held to the caps and the rate limit, with the JSON error of a heartbeat', async () => {
    const { ping } = setup({ MAX_AGENTS: '1', RATE_LIMIT_PER_SECOND: '1' })
    expect((await ping('one?create=1')).status).toBe(201)
    const refused = await ping('two?create=1')
    expect(refused.status).toBe(422)
    expect(JSON.parse(refused.text).error.code).toBe('too_many_agents')
    const limited = await ping('one')
    expect(limited.status).toBe(429)
    expect(limited.res.headers.get('Retry-After')).toBe('1')
  })
})
