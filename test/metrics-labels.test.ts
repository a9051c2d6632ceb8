// METRICS_LABELS: pulsegate_component_info, kube-state-metrics' kube_pod_labels for
// components. Through app.request() (every answer held to the OpenAPI document),
// line for line as a scrape gets it.
import { describe, expect, it } from 'vitest'
import { infoLabelName, loadSettings } from '../lib/settings.ts'
import { testApp } from './support/app.ts'
import { promtoolCheck, skipWithout } from './conformance/support.ts'

const NOW = 1_800_000_000_000
const HEADER = [
  '# HELP pulsegate_component_info Always 1, one series per component; label_<name> holds its heartbeat label <name> of METRICS_LABELS, empty without it.',
  '# TYPE pulsegate_component_info gauge',
]

/** The lines of one family, header included, as the exposition has them; [] when it is not there. */
function family(text: string, name: string): string[] {
  const lines = text.split('\n')
  const start = lines.findIndex((l) => l.startsWith(`# HELP ${name} `))
  if (start < 0) return []
  const end = lines.findIndex((l, i) => i > start + 1 && (l.startsWith('#') || l === ''))
  return lines.slice(start, end < 0 ? undefined : end)
}

const series = (text: string, name: string) => text.split('\n').filter((l) => l.startsWith(`${name}{`))

async function fleet(env: Record<string, string>) {
  const app = testApp(() => NOW, env)
  const res = await app.post([
    { agent: 'node-1', component: 'proxy', status: 'ok', labels: { region: 'eu-west', team: 'edge', rack: 'r7' } },
    { agent: 'node-1', component: 'ssh', status: 'ok', labels: { region: 'eu-west' } },
    { agent: 'node-2', status: 'degraded' },
  ])
  expect(res.status, await res.clone().text()).toBe(200)
  return app
}

describe('pulsegate_component_info', () => {
  it('has one line per component, with label_<name> for each name of METRICS_LABELS in its order, "" where it has none', async () => {
    const { metrics } = await fleet({ METRICS_LABELS: 'team,region' })
    const text = await metrics()
    expect(family(text, 'pulsegate_component_info')).toEqual([
      ...HEADER,
      'pulsegate_component_info{agent="node-1",component="proxy",label_team="edge",label_region="eu-west"} 1',
      'pulsegate_component_info{agent="node-1",component="ssh",label_team="",label_region="eu-west"} 1',
      'pulsegate_component_info{agent="node-2",component="main",label_team="",label_region=""} 1',
    ])
    // A label not listed (rack) is on no series, and no other family gains a label.
    expect(text).not.toContain('rack')
    expect(series(text, 'process_state')).toEqual([
      'process_state{agent="node-1",component="proxy"} 0',
      'process_state{agent="node-1",component="ssh"} 0',
      'process_state{agent="node-2",component="main"} 2',
    ])
  })

  it('is not exported at all without METRICS_LABELS, labels or not', async () => {
    const { metrics } = await fleet({})
    const text = await metrics()
    expect(text).toContain('process_state{agent="node-1",component="proxy"} 0') // the fleet is there
    expect(text).not.toContain('pulsegate_component_info')
    expect(text).not.toContain('label_')
    expect(await metrics({ Accept: 'application/openmetrics-text' })).not.toContain('pulsegate_component_info')
  })

  it('has no series for an empty fleet, as a job family without jobs', async () => {
    const { metrics } = testApp(() => NOW, { METRICS_LABELS: 'region' })
    expect(await metrics()).not.toContain('pulsegate_component_info')
  })

  it('escapes label values as the text format and OpenMetrics want: \\ " and newline', async () => {
    const { post, metrics } = testApp(() => NOW, { METRICS_LABELS: 'note,region' })
    expect((await post({ agent: 'a', status: 'ok', labels: { note: 'a "quoted" \\ value\nnext line', region: 'zürich, {x="y"}' } })).status).toBe(200)
    const expected = 'pulsegate_component_info{agent="a",component="main",label_note="a \\"quoted\\" \\\\ value\\nnext line",label_region="zürich, {x=\\"y\\"}"} 1'
    const text = await metrics()
    expect(series(text, 'pulsegate_component_info')).toEqual([expected])
    const openMetrics = await metrics({ Accept: 'application/openmetrics-text' })
    expect(openMetrics.split('\n')).toContain(expected)
    expect(openMetrics.split('\n')).toContain('# TYPE pulsegate_component_info gauge')
  })

  it.skipIf(skipWithout('promtool'))('passes promtool check metrics with awkward values', async () => {
    const { post, metrics } = testApp(() => NOW, { METRICS_LABELS: 'note,region' })
    await post([
      { agent: 'a', status: 'ok', labels: { note: 'a "quoted" \\ value\nnext line' } },
      { agent: 'b', status: 'ok', labels: { region: '' } },
    ])
    expect(promtoolCheck(await metrics())).toEqual({ status: 0, output: '' })
  })

  it('reads a label named like an Object.prototype member only when the component has it', async () => {
    const { post, metrics } = testApp(() => NOW, { METRICS_LABELS: 'constructor,toString' })
    await post([
      { agent: 'a', status: 'ok' },
      { agent: 'b', status: 'ok', labels: { constructor: 'c' } },
    ])
    expect(series(await metrics(), 'pulsegate_component_info')).toEqual([
      'pulsegate_component_info{agent="a",component="main",label_constructor="",label_toString=""} 1',
      'pulsegate_component_info{agent="b",component="main",label_constructor="c",label_toString=""} 1',
    ])
  })
})

describe('cardinality of pulsegate_component_info', () => {
  it('is one series per component: new label values replace the old series, never add one', async () => {
    let now = NOW
    const { post, metrics } = testApp(() => now, { METRICS_LABELS: 'region' })
    const components = ['a', 'b', 'c', 'd']
    for (let round = 0; round < 25; round++, now += 1000) {
      const res = await post(components.map((component) => ({ agent: 'node-1', component, status: 'ok', labels: { region: `r${round}` } })))
      expect(res.status).toBe(200)
    }
    const text = await metrics()
    expect(series(text, 'pulsegate_component_info')).toEqual(
      components.map((c) => `pulsegate_component_info{agent="node-1",component="${c}",label_region="r24"} 1`),
    )
    expect(series(text, 'pulsegate_component_info')).toHaveLength(series(text, 'process_state').length)
  })

  it('is bounded by MAX_COMPONENTS, whatever labels the components send', async () => {
    const { post, metrics } = testApp(() => NOW, { METRICS_LABELS: 'region', MAX_COMPONENTS: '3' })
    const codes: number[] = []
    for (let i = 0; i < 10; i++) codes.push((await post({ agent: `node-${i}`, status: 'ok', labels: { region: `r${i}` } })).status)
    expect(codes.filter((c) => c === 200)).toHaveLength(3)
    expect(series(await metrics(), 'pulsegate_component_info')).toHaveLength(3)
  })
})

describe('METRICS_LABELS names', () => {
  it('take the name the kube-state-metrics way: label_ and the name, anything outside [a-zA-Z0-9_] as _', () => {
    expect(infoLabelName('region')).toBe('label_region')
    expect(infoLabelName('app.kubernetes.io/name')).toBe('label_app_kubernetes_io_name')
    expect(infoLabelName('tier-1')).toBe('label_tier_1')
  })

  // The same rule as a heartbeat's label names: a name no heartbeat can carry would only ever export "".
  it.each(['region', '_x', 'Team_2', 'x'.repeat(64), 'x'.repeat(65), 'team-name', 'app.kubernetes.io/name', '9lives', '__meta', 'agent', 'component', 'version'])(
    'accept %s exactly when a heartbeat may carry it as a label',
    async (name) => {
      const { post } = testApp(() => NOW)
      const heartbeat = (await post({ agent: 'a', status: 'ok', labels: { [name]: 'v' } })).status
      expect([200, 400]).toContain(heartbeat)
      const setting = (() => {
        try {
          loadSettings({ METRICS_LABELS: name })
          return 'accepted'
        } catch {
          return 'refused'
        }
      })()
      expect(setting).toBe(heartbeat === 200 ? 'accepted' : 'refused')
    },
  )
})
