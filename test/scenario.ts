// The end-to-end story every runtime must tell the same way, over real HTTP.
// One file, parameterised by base URL: the Node server, workerd, wrangler dev,
// Bun and Deno all run exactly these steps.
//
// The server under test must run with RECOVERY_SECONDS=0 (so recovery needs no
// sleep) and start with an empty fleet.
import { describe, expect, it } from 'vitest'

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

export function httpScenario(name: string, target: ScenarioTarget): void {
  const send = target.fetch ?? ((input: string, init?: RequestInit) => fetch(input, init))
  const call = async (method: string, path: string, body?: unknown) => {
    const init: RequestInit = { method }
    if (body !== undefined) {
      init.headers = { 'Content-Type': 'application/json' }
      init.body = JSON.stringify(body)
    }
    const res = await send(`${target.url()}${path}`, init)
    const text = await res.text()
    return { status: res.status, text, headers: res.headers, json: () => JSON.parse(text) }
  }
  const beat = async (body: unknown) => {
    const res = await call('POST', '/v1/heartbeat', body)
    expect(res.status, res.text).toBe(200)
    return res.json().results as { agent: string; component: string; state: string }[]
  }
  const metric = async (line: RegExp) => (await call('GET', '/metrics')).text.match(line)?.[1]

  describe(`HTTP scenario: ${name}`, () => {
    it('answers liveness at once and an empty fleet as starting', async () => {
      expect((await call('GET', '/livez')).json()).toEqual({ status: 'ok' })
      expect((await call('GET', '/healthz')).status).toBe(200)
      const readyz = await call('GET', '/readyz')
      expect(readyz.status).toBe(400)
      expect(readyz.json().state).toBe('starting')
    })

    it('walks starting → ok → degraded → recovering → ok with Teleport codes', async () => {
      const steps: [string, number, string][] = [
        ['starting', 400, 'starting'],
        ['ok', 200, 'ok'],
        ['degraded', 503, 'degraded'],
        ['ok', 400, 'recovering'],
        ['ok', 200, 'ok'],
      ]
      for (const [status, code, state] of steps) {
        const [result] = await beat({ agent: 'story-1', status, pid: 4242, version: '19.1.2', message: `now ${status}` })
        expect(result!.state).toBe(state)
        const readyz = await call('GET', '/readyz/story-1')
        expect(readyz.status).toBe(code)
        expect(readyz.json()).toMatchObject({ state, pid: 4242 })
        expect(readyz.headers.get('Cache-Control')).toBe('no-store')
      }
      expect((await call('GET', '/readyz')).status).toBe(200)
    })

    it('aggregates components into the agent with a batch', async () => {
      const results = await beat([
        { agent: 'story-2', component: 'proxy', status: 'ok', labels: { region: 'eu-west' } },
        { agent: 'story-2', component: 'ssh', status: 'starting' },
        { agent: 'story-2', component: 'auth', status: 'degraded', message: 'backend down' },
      ])
      expect(results.map((r) => r.state)).toEqual(['ok', 'starting', 'degraded'])
      expect((await call('GET', '/readyz/story-2')).status).toBe(503)
      expect((await call('GET', '/readyz/story-2?verbose')).text).toBe(
        '[-]auth degraded: backend down\n[+]proxy ok\n[-]ssh starting\nreadyz check failed\n',
      )
      await beat({ agent: 'story-2', component: 'auth', status: 'ok' })
      expect((await call('GET', '/readyz/story-2')).json().state).toBe('recovering')
      await beat([{ agent: 'story-2', component: 'auth', status: 'ok' }, { agent: 'story-2', component: 'ssh', status: 'ok' }])
      expect((await call('GET', '/readyz/story-2')).status).toBe(200)
      const agent = (await call('GET', '/v1/agents/story-2')).json()
      expect(agent.components.map((c: any) => [c.component, c.state])).toEqual([['auth', 'ok'], ['proxy', 'ok'], ['ssh', 'ok']])
      expect(agent.components[1].labels).toEqual({ region: 'eu-west' })
    })

    it('counts a missed heartbeat as degraded from its deadline on', async () => {
      await beat({ agent: 'story-3', status: 'ok', interval_seconds: 0.3, grace_seconds: 0 })
      expect((await call('GET', '/readyz/story-3')).status).toBe(200)
      await new Promise((resolve) => setTimeout(resolve, 400))
      const readyz = await call('GET', '/readyz/story-3?verbose')
      expect(readyz.status).toBe(503)
      expect(readyz.text).toBe('[-]main degraded: missed heartbeat\nreadyz check failed\n')
      expect((await call('GET', '/readyz?verbose')).text).toContain('[-]story-3 degraded: missed heartbeat\n')
      expect(await metric(/^pulsegate_overdue_components (\d+)$/m)).toBe('1')
      const [late] = await beat({ agent: 'story-3', status: 'ok', interval_seconds: 60 })
      expect(late!.state).toBe('recovering')
      expect(await metric(/^heartbeat_missed_total (\d+)$/m)).toBe('1')
    })

    it('rejects bad input with the JSON error and stores nothing', async () => {
      const bad = await call('POST', '/v1/heartbeat', [{ agent: 'story-4', status: 'ok' }, { agent: 'bad id', status: 'ok' }])
      expect(bad.status).toBe(400)
      expect(bad.json().error.code).toBe('invalid_heartbeat')
      expect(bad.json().error.issues[0].path).toEqual([1, 'agent'])
      expect((await call('GET', '/readyz/story-4')).status).toBe(404)
      expect(await metric(/^pulsegate_heartbeats_rejected_total\{reason="invalid_heartbeat"\} (\d+)$/m)).toBe('1')
    })

    it('deregisters with DELETE', async () => {
      await beat({ agent: 'story-5', status: 'ok' })
      const deleted = await call('DELETE', '/v1/agents/story-5')
      expect(deleted.json()).toEqual({ agent: 'story-5', removed: 1 })
      expect((await call('GET', '/readyz/story-5')).status).toBe(404)
      expect((await call('DELETE', '/v1/agents/story-5')).status).toBe(404)
    })

    it('counts every heartbeat of a batch as received, once', async () => {
      const received = async () => Number(await metric(/^heartbeat_connections_received_total (\d+)$/m))
      const before = await received()
      await beat([{ agent: 'story-6', status: 'ok' }, { agent: 'story-6', component: 'ssh', status: 'ok' }, { agent: 'story-6', status: 'ok' }])
      expect(await received()).toBe(before + 3)
      await call('POST', '/v1/heartbeat', { agent: 'story-6', status: 'nope' })
      expect(await received()).toBe(before + 3)
      expect((await call('DELETE', '/v1/agents/story-6')).status).toBe(200)
    })

    it('exports the story in /metrics', async () => {
      const res = await call('GET', '/metrics')
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
      const om = await send(`${target.url()}/metrics`, { headers: { Accept: 'application/openmetrics-text' } })
      expect(om.headers.get('Content-Type')).toMatch(/^application\/openmetrics-text/)
      expect((await om.text()).endsWith('# EOF\n')).toBe(true)
    })
  })
}
