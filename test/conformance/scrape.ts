// A real Prometheus scrapes pulsegate with the scrape config of the doc, once a
// second, while a story of heartbeats is pushed; everything is then asserted
// through Prometheus' own HTTP API. Parameterised by target: the Node server
// and wrangler dev run exactly these steps.
//
// The target must run with METRICS_TOKEN=scrape-secret and RECOVERY_SECONDS=0,
// and start with an empty fleet.
import { afterAll, beforeAll, describe, expect, it } from 'vitest'
import {
  DOC_INTERVAL,
  METRICS_TOKEN,
  PULSEGATE_ADDRESS,
  type Prometheus,
  TEST_INTERVAL,
  type Tap,
  beat,
  eventually,
  fill,
  hostOf,
  promtoolCheck,
  skipWithout,
  snippet,
  startPrometheus,
  startTap,
} from './support.ts'

export interface ScrapeTarget {
  start: () => Promise<{ url: string; stop: () => Promise<unknown> }>
}

// The story, in two phases: every state, several agents, components and
// versions, and a component that misses its deadline (0.5 s, no grace) and
// stays silent. edge-6 reports 19.0.0 first and upgrades in phase two.
const PHASE_ONE = [
  { agent: 'edge-1', component: 'proxy', status: 'ok', version: '19.1.2' },
  { agent: 'edge-1', component: 'ssh', status: 'ok', version: '19.1.2' },
  { agent: 'edge-2', component: 'proxy', status: 'ok', version: '19.1.2' },
  { agent: 'edge-2', component: 'proxy', status: 'degraded', message: 'backend down' },
  { agent: 'edge-3', status: 'starting', version: '18.7.0' },
  { agent: 'edge-4', status: 'degraded', version: '18.7.0' },
  { agent: 'edge-4', status: 'ok' },
  { agent: 'edge-5', status: 'ok', interval_seconds: 0.5, grace_seconds: 0 },
  { agent: 'edge-6', status: 'starting', version: '19.0.0' },
  { agent: 'edge-6', status: 'ok' },
]
const PHASE_TWO = [
  { agent: 'edge-6', status: 'degraded' },
  { agent: 'edge-6', status: 'ok', version: '19.1.2' },
  { agent: 'edge-6', status: 'ok' },
]

export function prometheusScrapes(name: string, target: ScrapeTarget): void {
  describe.skipIf(skipWithout('prometheus', 'promtool'))(`Prometheus scrapes ${name}`, () => {
    let pulsegate: Awaited<ReturnType<ScrapeTarget['start']>>
    let tap: Tap
    let prometheus: Prometheus

    beforeAll(async () => {
      pulsegate = await target.start()
      tap = await startTap(pulsegate.url)
      const doc = snippet('prometheus.yml')
      const job = fill(doc, [[DOC_INTERVAL, TEST_INTERVAL], [PULSEGATE_ADDRESS, hostOf(pulsegate.url)]])
      // The same job once more through a recording pipe, to see what Prometheus asks for and gets.
      const tapped = fill(doc, [[DOC_INTERVAL, TEST_INTERVAL], [PULSEGATE_ADDRESS, tap.address], ['job_name: pulsegate', 'job_name: tap']])
      prometheus = await startPrometheus(job + tapped.slice(tapped.indexOf('  - job_name')))
    }, 120_000)
    afterAll(async () => {
      await Promise.all([prometheus?.stop(), tap?.close(), pulsegate?.stop()])
    })

    it('scrapes with the bearer token of the doc: up is 1, target labels are job and instance', async () => {
      await eventually(async () => {
        const { activeTargets } = await prometheus.api<{ activeTargets: any[] }>('/api/v1/targets')
        const own = activeTargets.find((t) => t.labels.job === 'pulsegate')
        expect(own).toMatchObject({ health: 'up', lastError: '', scrapeUrl: `${pulsegate.url}/metrics` })
        expect(own.labels).toEqual({ job: 'pulsegate', instance: hostOf(pulsegate.url) })
        expect(await prometheus.values('up{job="pulsegate"}', 'instance')).toEqual({ [hostOf(pulsegate.url)]: 1 })
      })
    })

    it('ingests the story: each process_state, the counters, versions and health', async () => {
      for (const heartbeat of PHASE_ONE) await beat(pulsegate.url, heartbeat)
      // A scrape has seen phase one, and edge-5's deadline has passed by then.
      await eventually(async () => {
        expect(await prometheus.values('heartbeat_connections_received_total{job="pulsegate"}')).toEqual({ '': 10 })
        expect(await prometheus.values('teleport_registered_servers{job="pulsegate",version="19.0.0"}')).toEqual({ '': 1 })
      })
      await beat(pulsegate.url, PHASE_TWO) // one batch of three

      const job = '{job="pulsegate"}'
      await eventually(async () => {
        expect(await prometheus.values(`process_state${job}`, 'agent', 'component')).toEqual({
          'edge-1/proxy': 0,
          'edge-1/ssh': 0,
          'edge-2/proxy': 2,
          'edge-3/main': 3,
          'edge-4/main': 1,
          'edge-5/main': 2, // missed heartbeat
          'edge-6/main': 0,
        })
        expect(await prometheus.values(`heartbeat_connections_received_total${job}`)).toEqual({ '': 13 })
        // edge-5 never came back, so its miss is not counted yet, only seen as overdue.
        expect(await prometheus.values(`heartbeat_missed_total${job}`)).toEqual({ '': 0 })
        expect(await prometheus.values(`pulsegate_overdue_components${job}`)).toEqual({ '': 1 })
        // 19.0.0 went stale when edge-6 upgraded.
        expect(await prometheus.values(`teleport_registered_servers${job}`, 'version')).toEqual({
          '19.1.2': 3,
          '18.7.0': 2,
          unknown: 1,
        })
        expect(await prometheus.values(`teleport_connected_resources${job}`, 'type')).toEqual({ proxy: 2, ssh: 1, main: 4 })
        expect(await prometheus.values(`{job="pulsegate",__name__=~"teleport_resources_health_status_.*"}`, '__name__')).toEqual({
          teleport_resources_health_status_healthy: 2, // edge-1, edge-6
          teleport_resources_health_status_unhealthy: 3, // edge-2, edge-4 recovering, edge-5
          teleport_resources_health_status_unknown: 1, // edge-3
        })
      })
    })

    it('keeps the agent and component labels without honor_labels', async () => {
      const series = await prometheus.api<Record<string, string>[]>('/api/v1/series', { 'match[]': '{job="pulsegate"}' })
      expect(series.length).toBeGreaterThan(20)
      // No label of ours clashed with a target label, so none was renamed to exported_*.
      for (const labels of series) {
        expect(Object.keys(labels).filter((l) => l.startsWith('exported_')), JSON.stringify(labels)).toEqual([])
      }
      const states = series.filter((s) => s.__name__ === 'process_state')
      expect(states.map((s) => Object.keys(s).sort())).toEqual(
        Array(7).fill(['__name__', 'agent', 'component', 'instance', 'job']),
      )
      expect(states.find((s) => s.agent === 'edge-2')).toEqual({
        __name__: 'process_state',
        agent: 'edge-2',
        component: 'proxy',
        instance: hostOf(pulsegate.url),
        job: 'pulsegate',
      })
    })

    it('is served OpenMetrics, which Prometheus ingests without a single error', async () => {
      // What went over the wire, as the pipe saw it.
      expect(tap.exchanges.length).toBeGreaterThan(0)
      for (const { accept, status, contentType } of tap.exchanges) {
        expect(accept).toMatch(/^application\/openmetrics-text;version=1\.0\.0,/)
        expect(status).toBe(200)
        expect(contentType).toBe('application/openmetrics-text; version=1.0.0; charset=utf-8')
      }
      // What Prometheus made of the direct scrape: OpenMetrics names the counter
      // family without _total, the classic text format with it.
      const metadata = await prometheus.api<{ type: string }[]>('/api/v1/targets/metadata', {
        match_target: '{job="pulsegate"}',
        metric: 'heartbeat_connections_received',
      })
      expect(metadata.map((m) => m.type)).toEqual(['counter'])
      expect(
        await prometheus.api('/api/v1/targets/metadata', {
          match_target: '{job="pulsegate"}',
          metric: 'heartbeat_connections_received_total',
        }),
      ).toEqual([])

      // Every sample scraped was kept, and Prometheus counted no scrape problem.
      const scraped = await prometheus.values('scrape_samples_scraped{job="pulsegate"}')
      expect(scraped['']).toBeGreaterThan(20)
      expect(await prometheus.values('scrape_samples_post_metric_relabeling{job="pulsegate"}')).toEqual(scraped)
      const own = await prometheus.selfMetrics()
      const problems = [...own].filter(([name]) => /^prometheus_target_(scrapes_|.*exceeded)/.test(name))
      expect(problems.length).toBeGreaterThanOrEqual(9) // out of order, duplicate timestamp, sample limit, …
      expect(problems.filter(([, n]) => n !== 0)).toEqual([])
      expect(prometheus.output().split('\n').filter((l) => /level=(warn|error)/.test(l) && /scrape/i.test(l))).toEqual([])
    })

    it('serves the classic text format on Accept: text/plain, clean under promtool', async () => {
      const res = await fetch(`${pulsegate.url}/metrics`, {
        headers: { Accept: 'text/plain', Authorization: `Bearer ${METRICS_TOKEN}` },
      })
      expect(res.headers.get('Content-Type')).toBe('text/plain; version=0.0.4; charset=utf-8')
      const text = await res.text()
      expect(text).toContain('process_state{agent="edge-5",component="main"} 2\n')
      expect(text).toContain('# TYPE heartbeat_connections_received_total counter\n')
      expect(promtoolCheck(text)).toEqual({ status: 0, output: '' })
    })
  })
}
