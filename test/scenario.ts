// The end-to-end story every runtime must tell the same way, over real HTTP.
// One file, parameterised by base URL: the Node server, workerd, wrangler dev,
// Bun and Deno all run exactly these steps, each request through the client typed
// from the OpenAPI document (lib/client.ts's createApiClient), each answer held to
// the document the server under test serves.
//
// The server under test must run with SCENARIO_ENV (test/support/scenario-env.ts:
// no recovery wait, the ping URLs on) and start with an empty fleet.
import { beforeAll, describe, expect, it } from 'vitest'
import { createApiClient } from '../lib/client.ts'
import type { Heartbeat } from '../lib/heartbeat.ts'
import { type AnswerCheck, answerChecker, checkedFetch } from './support/openapi-check.ts'
import { SCENARIO_PING_KEY } from './support/scenario-env.ts'
import { eventReader } from './support/sse.ts'

export interface ScenarioTarget {
  /** The base URL, read when the tests run (the server may start in a beforeAll). */
  url: () => string
  /** The runtime name /metrics reports in pulsegate_build_info. */
  runtime: string
  /** Whether /metrics has process metrics (Node, Bun, Deno: yes; Workers: no). */
  processMetrics: boolean
  /** How to send a request; the global fetch unless the server lives in this isolate. */
  fetch?: (input: string, init?: RequestInit) => Promise<Response>
}

type Answer = { data?: unknown; error?: unknown; response: Response }

/** An answer as the steps read it; openapi-fetch parsed an error body that was JSON, so it is written back. */
async function read(call: Promise<Answer>) {
  const { data, error, response } = await call
  const text = typeof data === 'string' ? data : typeof error === 'string' ? error : error === undefined ? '' : JSON.stringify(error)
  return { status: response.status, text, headers: response.headers, json: () => JSON.parse(text) }
}

export function httpScenario(name: string, target: ScenarioTarget): void {
  const send = target.fetch ?? ((input: string, init?: RequestInit) => fetch(input, init))
  let check: AnswerCheck | undefined
  // Every request goes through the client typed from the document, and every answer is held to it.
  const api = () =>
    createApiClient({ baseUrl: target.url(), fetch: checkedFetch(send, () => check!) as (input: string, init: RequestInit) => Promise<Response> })
  const text = { parseAs: 'text' } as const
  const agent = (id: string) => ({ ...text, params: { path: { agent: id } } })
  const probe = (id: string, query?: { verbose?: string; exclude?: string[] }) => ({ ...text, params: { path: { agent: id }, query } })
  const beat = async (body: Heartbeat | Heartbeat[]) => {
    const res = await read(api().POST('/v1/heartbeat', { ...text, body }))
    expect(res.status, res.text).toBe(200)
    return res.json().results as { agent: string; component: string; state: string }[]
  }
  const metric = async (line: RegExp) => (await read(api().GET('/metrics', text))).text.match(line)?.[1]

  describe(`HTTP scenario: ${name}`, () => {
    beforeAll(async () => {
      const document = await (await send(`${target.url()}/openapi.json`)).json()
      check = answerChecker(document as Record<string, unknown>)
    })

    it('answers liveness at once and an empty fleet as starting', async () => {
      expect((await read(api().GET('/livez', text))).json()).toEqual({ status: 'ok' })
      expect((await read(api().GET('/healthz', text))).status).toBe(200)
      expect((await read(api().GET('/livez', { ...text, params: { query: { verbose: '' } } }))).text).toBe('[+]ping ok\nlivez check passed\n')
      const readyz = await read(api().GET('/readyz', text))
      expect(readyz.status).toBe(400)
      expect(readyz.json().state).toBe('starting')
      const listing = await read(api().GET('/readyz', { ...text, params: { query: { verbose: '' } } }))
      expect(listing.text).toBe('[-]fleet starting: no agent has reported yet\nreadyz check failed\n')
    })

    it('serves its OpenAPI document and the reference page, with nothing to fetch elsewhere', async () => {
      const document = (await read(api().GET('/openapi.json', text))).json()
      expect(document.openapi).toBe('3.1.0')
      expect(Object.keys(document.paths)).toContain('/v1/heartbeat')
      const page = await read(api().GET('/docs', text))
      expect(page.headers.get('Content-Type')).toMatch(/^text\/html/)
      expect(page.text).toContain('<code>/v1/heartbeat</code>')
      expect(page.text).not.toMatch(/<script|<link|src=/)
    })

    it('walks starting → ok → degraded → recovering → ok with Teleport codes', async () => {
      const steps: [Heartbeat['status'], number, string][] = [
        ['starting', 400, 'starting'],
        ['ok', 200, 'ok'],
        ['degraded', 503, 'degraded'],
        ['ok', 400, 'recovering'],
        ['ok', 200, 'ok'],
      ]
      for (const [status, code, state] of steps) {
        const [result] = await beat({ agent: 'story-1', status, pid: 4242, version: '19.1.2', message: `now ${status}` })
        expect(result!.state).toBe(state)
        const readyz = await read(api().GET('/readyz/{agent}', probe('story-1')))
        expect(readyz.status).toBe(code)
        expect(readyz.json()).toMatchObject({ state, pid: 4242 })
        expect(readyz.headers.get('Cache-Control')).toBe('no-store')
      }
      expect((await read(api().GET('/readyz', text))).status).toBe(200)
    })

    it('aggregates components into the agent with a batch', async () => {
      const results = await beat([
        { agent: 'story-2', component: 'proxy', status: 'ok', labels: { region: 'eu-west' } },
        { agent: 'story-2', component: 'ssh', status: 'starting' },
        { agent: 'story-2', component: 'auth', status: 'degraded', message: 'backend down' },
      ])
      expect(results.map((r) => r.state)).toEqual(['ok', 'starting', 'degraded'])
      expect((await read(api().GET('/readyz/{agent}', probe('story-2')))).status).toBe(503)
      expect((await read(api().GET('/readyz/{agent}', probe('story-2', { verbose: '' })))).text).toBe(
        '[-]auth degraded: backend down\n[+]proxy ok\n[-]ssh starting\nreadyz check failed\n',
      )
      await beat({ agent: 'story-2', component: 'auth', status: 'ok' })
      expect((await read(api().GET('/readyz/{agent}', probe('story-2')))).json().state).toBe('recovering')
      await beat([{ agent: 'story-2', component: 'auth', status: 'ok' }, { agent: 'story-2', component: 'ssh', status: 'ok' }])
      expect((await read(api().GET('/readyz/{agent}', probe('story-2')))).status).toBe(200)
      const listed = (await read(api().GET('/v1/agents/{agent}', agent('story-2')))).json()
      expect(listed.components.map((c: any) => [c.component, c.state])).toEqual([['auth', 'ok'], ['proxy', 'ok'], ['ssh', 'ok']])
      expect(listed.components[1].labels).toEqual({ region: 'eu-west' })
      const excluded = await read(api().GET('/readyz/{agent}', probe('story-2', { verbose: '', exclude: ['auth', 'proxy', 'ssh', 'nope'] })))
      expect(excluded.status).toBe(200)
      expect(excluded.text).toBe(
        '[+]auth excluded: ok\n[+]proxy excluded: ok\n[+]ssh excluded: ok\n' +
          'warn: some health checks cannot be excluded: no matches for "nope"\nreadyz check passed\n',
      )
    })

    it('counts a missed heartbeat as degraded from its deadline on', async () => {
      await beat({ agent: 'story-3', status: 'ok', interval_seconds: 0.3, grace_seconds: 0 })
      expect((await read(api().GET('/readyz/{agent}', probe('story-3')))).status).toBe(200)
      await new Promise((resolve) => setTimeout(resolve, 400))
      const readyz = await read(api().GET('/readyz/{agent}', probe('story-3', { verbose: '' })))
      expect(readyz.status).toBe(503)
      expect(readyz.text).toBe('[-]main degraded: missed heartbeat\nreadyz check failed\n')
      expect((await read(api().GET('/readyz', { ...text, params: { query: { verbose: '' } } }))).text).toContain('[-]story-3 degraded: missed heartbeat\n')
      expect(await metric(/^pulsegate_overdue_components (\d+)$/m)).toBe('1')
      const [late] = await beat({ agent: 'story-3', status: 'ok', interval_seconds: 60 })
      expect(late!.state).toBe('recovering')
      expect(await metric(/^heartbeat_missed_total (\d+)$/m)).toBe('1')
    })

    it('rejects bad input with the JSON error and stores nothing', async () => {
      const bad = await read(api().POST('/v1/heartbeat', { ...text, body: [{ agent: 'story-4', status: 'ok' }, { agent: 'bad id', status: 'ok' }] }))
      expect(bad.status).toBe(400)
      expect(bad.json().error.code).toBe('invalid_heartbeat')
      expect(bad.json().error.issues[0].path).toEqual([1, 'agent'])
      // JSON's \ud800 escape makes a string that is not Unicode: refused, naming the field.
      const lone = await read(api().POST('/v1/heartbeat', { ...text, body: { agent: 'story-4', status: 'ok', labels: { a: 'x\ud800y' } } }))
      expect(lone.status).toBe(400)
      expect(lone.json().error.issues).toEqual([{ path: ['labels', 'a'], message: 'must be well-formed Unicode (no lone surrogates)' }])
      expect((await read(api().GET('/readyz/{agent}', probe('story-4')))).status).toBe(404)
      expect(await metric(/^pulsegate_heartbeats_rejected_total\{reason="invalid_heartbeat"\} (\d+)$/m)).toBe('2')
    })

    it('shows a message on one line, whatever it holds', async () => {
      await beat({ agent: 'story-7', status: 'degraded', message: 'disk\nreadyz check passed' })
      const listing = await read(api().GET('/readyz/{agent}', probe('story-7', { verbose: '' })))
      expect(listing.text).toBe('[-]main degraded: disk\\nreadyz check passed\nreadyz check failed\n')
      expect((await read(api().DELETE('/v1/agents/{agent}', agent('story-7')))).status).toBe(200)
    })

    it('deregisters with DELETE', async () => {
      await beat({ agent: 'story-5', status: 'ok' })
      const deleted = await read(api().DELETE('/v1/agents/{agent}', agent('story-5')))
      expect(deleted.json()).toEqual({ agent: 'story-5', removed: 1 })
      expect((await read(api().GET('/readyz/{agent}', probe('story-5')))).status).toBe(404)
      expect((await read(api().DELETE('/v1/agents/{agent}', agent('story-5')))).status).toBe(404)
    })

    it('counts every heartbeat of a batch as received, once', async () => {
      const received = async () => Number(await metric(/^heartbeat_connections_received_total (\d+)$/m))
      const before = await received()
      await beat([{ agent: 'story-6', status: 'ok' }, { agent: 'story-6', component: 'ssh', status: 'ok' }, { agent: 'story-6', status: 'ok' }])
      expect(await received()).toBe(before + 3)
      await read(api().POST('/v1/heartbeat', { ...text, body: { agent: 'story-6', status: 'nope' } as unknown as Heartbeat }))
      expect(await received()).toBe(before + 3)
      expect((await read(api().DELETE('/v1/agents/{agent}', agent('story-6')))).status).toBe(200)
    })

    it('lists the agents a page at a time, by id, until the cursor runs out', async () => {
      const all = (await read(api().GET('/v1/agents', text))).json()
      expect(all.next_cursor).toBeNull()
      const ids: string[] = []
      let cursor: string | undefined
      do {
        const page = (await read(api().GET('/v1/agents', { ...text, params: { query: { limit: 1, cursor } } }))).json()
        expect(page.agents.length).toBeLessThanOrEqual(1)
        ids.push(...page.agents.map((a: { agent: string }) => a.agent))
        cursor = page.next_cursor ?? undefined
      } while (cursor)
      expect(ids).toEqual(all.agents.map((a: { agent: string }) => a.agent))
      expect(ids).toEqual([...ids].sort())
      expect(ids).toEqual(['story-1', 'story-2', 'story-3'])
    })

    it('exports the story in /metrics', async () => {
      const res = await read(api().GET('/metrics', text))
      expect(res.headers.get('Content-Type')).toBe('text/plain; version=0.0.4; charset=utf-8')
      const lines = res.text.split('\n')
      for (const line of [
        'process_state{agent="story-1",component="main"} 0',
        'process_state{agent="story-2",component="auth"} 0',
        'process_state{agent="story-3",component="main"} 1',
        'heartbeat_missed_total 1',
        'teleport_registered_servers{version="19.1.2"} 1',
        'teleport_resources_health_status_healthy 2',
        'teleport_resources_health_status_unhealthy 1',
        `pulsegate_build_info{version="0.1.0",runtime="${target.runtime}"} 1`,
      ]) {
        expect(lines).toContain(line)
      }
      expect(res.text).not.toContain('story-5')
      expect(/^process_cpu_seconds_total /m.test(res.text)).toBe(target.processMetrics)
      const om = await read(api().GET('/metrics', { ...text, headers: { Accept: 'application/openmetrics-text' } }))
      expect(om.headers.get('Content-Type')).toMatch(/^application\/openmetrics-text/)
      expect(om.text.endsWith('# EOF\n')).toBe(true)
    })

    // After the metrics step: these add agents the counts above do not expect.
    it("answers healthchecks.io's ping URLs with its codes and words, and runs a job through them", async () => {
      const ping = (slug: string, query: { create?: string; rid?: string } = {}, body?: string) => {
        const params = { path: { key: SCENARIO_PING_KEY, slug }, query }
        return read(
          body === undefined
            ? api().GET('/ping/{key}/{slug}', { ...text, params })
            : api().POST('/ping/{key}/{slug}', { ...text, params, body, bodySerializer: (b?: string) => b ?? '', headers: { 'Content-Type': 'text/plain' } }),
        )
      }
      const signal = (slug: string, what: string, query: { create?: string; rid?: string } = {}) =>
        read(api().GET('/ping/{key}/{slug}/{signal}', { ...text, params: { path: { key: SCENARIO_PING_KEY, slug, signal: what }, query } }))
      const component = async (id: string) => (await read(api().GET('/v1/agents/{agent}', agent(id)))).json().components[0]

      expect(await ping('cron-1')).toMatchObject({ status: 404, text: 'not found' })
      const created = await ping('cron-1', { create: '1' })
      expect(created).toMatchObject({ status: 201, text: 'Created' })
      expect(created.headers.get('Ping-Body-Limit')).toBe('1024')
      const wrongKey = await read(api().GET('/ping/{key}/{slug}', { ...text, params: { path: { key: 'not-the-key-0123456789', slug: 'cron-1' } } }))
      expect(wrongKey).toMatchObject({ status: 404, text: 'not found' })

      const rid = crypto.randomUUID()
      expect(await signal('cron-1', 'start', { rid })).toMatchObject({ status: 200, text: 'OK' })
      expect(await component('cron-1')).toMatchObject({ state: 'ok', runs_open: 1 })
      expect((await read(api().GET('/readyz/{agent}', probe('cron-1')))).status).toBe(200) // running is not starting
      expect(await ping('cron-1', { rid }, 'backup done')).toMatchObject({ status: 200, text: 'OK' })
      const done = await component('cron-1')
      expect(done).toMatchObject({ state: 'ok', runs_open: 0, message: 'backup done' })
      expect(done.last_duration_seconds).toBeGreaterThanOrEqual(0)

      expect(await signal('cron-1', '3')).toMatchObject({ status: 200, text: 'OK' })
      expect((await read(api().GET('/readyz/{agent}', probe('cron-1')))).status).toBe(503)
      expect(await metric(/^pulsegate_job_last_exit_code\{agent="cron-1",component="main"\} (\d+)$/m)).toBe('3')
      expect(await signal('cron-1', 'log')).toMatchObject({ status: 200, text: 'OK' })
      expect((await component('cron-1')).state).toBe('degraded')
      expect(await signal('cron-1', 'fail')).toMatchObject({ status: 200, text: 'OK' })
      expect(await signal('cron-1', '0')).toMatchObject({ status: 200, text: 'OK' })
      expect((await read(api().GET('/readyz/{agent}', probe('cron-1')))).status).toBe(200)

      expect(await signal('cron-1', '256')).toMatchObject({ status: 400, text: 'invalid url format' })
      expect(await signal('cron-1', 'start', { rid: 'not-a-uuid' })).toMatchObject({ status: 400, text: 'invalid uuid format' })
    })

    it('declares a component, lists it as starting until it reports, and removes it alone', async () => {
      const put = await read(
        api().PUT('/v1/agents/{agent}/components/{component}', {
          ...text, params: { path: { agent: 'story-8', component: 'backup' } }, body: { schedule: '0 3 * * *', tz: 'Europe/Berlin' },
        }),
      )
      expect(put.status).toBe(201)
      expect(put.json()).toMatchObject({ agent: 'story-8', component: 'backup', state: 'starting', declared: true, last_seen: null, tz: 'Europe/Berlin' })
      await beat({ agent: 'story-8', status: 'ok' })
      const listed = (await read(api().GET('/v1/agents/{agent}', agent('story-8')))).json()
      expect(listed.components.map((c: any) => [c.component, c.state])).toEqual([['backup', 'starting'], ['main', 'ok']])
      const removed = await read(api().DELETE('/v1/agents/{agent}/components/{component}', { ...text, params: { path: { agent: 'story-8', component: 'backup' } } }))
      expect(removed.json()).toEqual({ agent: 'story-8', component: 'backup', removed: true })
      expect((await read(api().GET('/readyz/{agent}', probe('story-8')))).status).toBe(200)
    })

    it('notices a missed deadline by itself, streams each change as it happens, and resumes after Last-Event-ID', async () => {
      // The stream is read raw: the typed client would wait for an end that never comes.
      const open = async (headers: Record<string, string> = {}) => {
        const res = await send(`${target.url()}/v1/events/stream?agent=hist-1`, { headers })
        expect(res.status).toBe(200)
        expect(res.headers.get('Content-Type')).toMatch(/^text\/event-stream/)
        return eventReader(res.body!)
      }
      const live = await open()
      await beat({ agent: 'hist-1', status: 'ok', interval_seconds: 1, grace_seconds: 0 })
      const [added] = await live.take(1)
      expect(added!.data).toMatchObject({ agent: 'hist-1', component: 'main', from: null, to: 'ok', agent_state: 'ok' })
      // No request from here on: the server's own sweep (on Workers, the Durable Object's alarm) notices the deadline.
      const waited = Date.now()
      const [missed] = await live.take(1)
      console.log(`${name}: the missed deadline reached the stream ${Date.now() - waited} ms after the wait began (deadline 1 s)`)
      expect(missed!.data).toMatchObject({ from: 'ok', to: 'degraded', reason: 'missed heartbeat', agent_state: 'degraded' })
      expect(Date.parse(missed!.data.at) - Date.parse(added!.data.at)).toBe(1000) // at the deadline, whenever noticed
      await beat({ agent: 'hist-1', status: 'ok', interval_seconds: 3600 })
      const [recovering] = await live.take(1)
      expect(recovering!.data).toMatchObject({ from: 'degraded', to: 'recovering' })
      await live.close()

      // A client that lost the stream after the first event gets the rest, in order, none twice.
      const resumed = await open({ 'Last-Event-ID': added!.id })
      expect((await resumed.take(2)).map((e) => e.id)).toEqual([missed!.id, recovering!.id])
      await resumed.close()
      const history = (await read(api().GET('/v1/agents/{agent}/events', agent('hist-1')))).json()
      expect(history.events.map((e: any) => e.id)).toEqual([recovering!.id, missed!.id, added!.id])
      const uptime = (await read(api().GET('/v1/agents/{agent}', agent('hist-1')))).json().uptime
      expect(uptime['24h']).toBeGreaterThan(0)
      expect(uptime['24h']).toBeLessThan(1)
    })
  })
}
