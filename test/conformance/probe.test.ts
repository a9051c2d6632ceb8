// Probes of the real Node server by real clients, with the snippets of the doc:
// the blackbox exporter's http_2xx module (asked directly, and through the
// Prometheus job of the doc), curl -f and curl -fI as uptime monitors use them,
// and the kubelet's probe rule. One agent, web-1, walks every state.
import { afterAll, beforeAll, describe, expect, it } from 'vitest'
import { type RunningServer, startServer } from '../support/server.ts'
import {
  BLACKBOX_ADDRESS,
  type Blackbox,
  CURL_GET,
  CURL_HEAD,
  CURL_URL,
  DOC_INTERVAL,
  PULSEGATE_ADDRESS,
  type Prometheus,
  TEST_INTERVAL,
  beat,
  eventually,
  fill,
  hostOf,
  kubeletProbe,
  sh,
  skipWithout,
  snippet,
  startBlackbox,
  startPrometheus,
} from './support.ts'

/** web-1's heartbeats in order (none at first), the state each leaves, and the /readyz code for it. */
const STEPS: [status: string | null, state: string, code: number][] = [
  [null, 'starting', 400], // an empty fleet; web-1 is unknown (404)
  ['starting', 'starting', 400],
  ['ok', 'ok', 200],
  ['degraded', 'degraded', 503],
  ['ok', 'recovering', 400], // RECOVERY_SECONDS=0: the next ok makes it ok
  ['ok', 'ok', 200],
]

describe.skipIf(skipWithout('prometheus', 'prometheus-blackbox-exporter', 'curl'))('real clients probe pulsegate', () => {
  let pulsegate: RunningServer
  let blackbox: Blackbox
  let prometheus: Prometheus
  const url = (path: string) => `${pulsegate.url}${path}`

  beforeAll(async () => {
    ;[pulsegate, blackbox] = await Promise.all([startServer({ RECOVERY_SECONDS: '0' }), startBlackbox(snippet('blackbox.yml'))])
    prometheus = await startPrometheus(
      fill(snippet('prometheus-probes.yml'), [
        [DOC_INTERVAL, TEST_INTERVAL],
        [PULSEGATE_ADDRESS, hostOf(pulsegate.url)],
        [BLACKBOX_ADDRESS, hostOf(blackbox.url)],
      ]),
    )
  }, 60_000)
  afterAll(async () => {
    await Promise.all([prometheus?.stop(), blackbox?.stop(), pulsegate?.stop()])
  })

  /** Every client's verdict on one URL, expected to be the same as the kubelet's on `code`. */
  async function expectVerdicts(target: string, code: number) {
    const up = code >= 200 && code < 300
    const res = await fetch(target)
    expect(res.status).toBe(code)
    expect(res.headers.get('Cache-Control')).toBe('no-store')

    const probe = await blackbox.probe(target)
    expect(probe.get('probe_http_status_code')).toBe(code)
    expect(probe.get('probe_success')).toBe(up ? 1 : 0)

    const get = sh(fill(CURL_GET, [[CURL_URL, target]]))
    expect(get.code).toBe(up ? 0 : 22)
    expect(get.stderr).toBe(up ? '' : `curl: (22) The requested URL returned error: ${code}\n`)

    const head = sh(fill(CURL_HEAD, [[CURL_URL, target]]))
    expect(head.code).toBe(up ? 0 : 22)
    expect(head.stdout).toMatch(new RegExp(`^HTTP/1\\.1 ${code} `))
    expect(head.stdout).toMatch(/^cache-control: no-store\r$/im)

    expect(await kubeletProbe(target)).toEqual({ status: code, success: code >= 200 && code < 400 })
  }

  for (const [status, state, code] of STEPS) {
    it(`${status ? `after ${status}: web-1 is ${state}` : 'with no agent: the fleet is starting'}, /readyz ${code}`, async () => {
      if (status) await beat(pulsegate.url, { agent: 'web-1', status })
      expect(((await (await fetch(url('/readyz'))).json()) as { state: string }).state).toBe(state)
      await expectVerdicts(url('/readyz'), code)
      await expectVerdicts(url('/readyz/web-1'), status ? code : 404)
      await expectVerdicts(url('/livez'), 200)
      // The Kubernetes snippet probes pulsegate itself: it stays up whatever the fleet does.
      for (const [, path] of snippet('kubernetes-probes.yml').matchAll(/path: (\S+)/g)) {
        expect(await kubeletProbe(url(path!))).toEqual({ status: 200, success: true })
      }
    })
  }

  it('the Prometheus job of the doc records probe_success per probed URL', async () => {
    const success = () => prometheus.values('probe_success{job="pulsegate-readyz"}', 'instance')
    const codes = () => prometheus.values('probe_http_status_code{job="pulsegate-readyz"}', 'instance')
    // web-1 is ok after the last step.
    await eventually(async () => {
      expect(await success()).toEqual({ [url('/readyz')]: 1, [url('/readyz/web-1')]: 1, [url('/livez')]: 1 })
    })
    await beat(pulsegate.url, { agent: 'web-1', status: 'degraded' })
    await eventually(async () => {
      expect(await success()).toEqual({ [url('/readyz')]: 0, [url('/readyz/web-1')]: 0, [url('/livez')]: 1 })
      expect(await codes()).toEqual({ [url('/readyz')]: 503, [url('/readyz/web-1')]: 503, [url('/livez')]: 200 })
    })
    // The exporter answered every scrape: a failed probe is probe_success 0, not a down target.
    expect(Object.values(await prometheus.values('up{job="pulsegate-readyz"}', 'instance'))).toEqual([1, 1, 1])
  })
})
