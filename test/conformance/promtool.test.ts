// `promtool check metrics` on the text exposition of a fleet of 1,000 agents in
// every state, with several components, versions and labels each.
import { afterAll, beforeAll, describe, expect, it } from 'vitest'
import { type RunningServer, startServer } from '../support/server.ts'
import { beat, parseExposition, promtoolCheck, skipWithout } from './support.ts'

const AGENTS = 1000
const COMPONENTS = ['proxy', 'ssh', 'auth']

/** Agent i: 1 to 3 components, in the state i % 4 picks; every tenth also has a job that has missed its deadline. */
function fleet(): { first: object[]; then: object[] } {
  const first: object[] = []
  const then: object[] = [] // the oks that turn degraded into recovering
  for (let i = 0; i < AGENTS; i++) {
    const agent = `host-${i}.eu-${i % 7}:pg`
    const status = ['ok', 'degraded', 'starting', 'degraded'][i % 4]!
    for (const component of COMPONENTS.slice(0, 1 + (i % 3))) {
      first.push({
        agent, component, status, version: i % 9 === 0 ? undefined : `19.${i % 5}.${i % 3}`,
        labels: { region: `eu-${i % 7}`, rack: `r${i % 40}`, note: 'a "quoted" \\ value' },
      })
      if (i % 4 === 3) then.push({ agent, component, status: 'ok' })
    }
    if (i % 10 === 0) first.push({ agent, component: 'cron', status: 'ok', interval_seconds: 0.001, grace_seconds: 0 })
  }
  return { first, then }
}

describe.skipIf(skipWithout('promtool'))('promtool check metrics on a fleet of 1,000 agents', () => {
  let server: RunningServer
  let components = 0
  beforeAll(async () => {
    server = await startServer({ RECOVERY_SECONDS: '0' })
    const { first, then } = fleet()
    components = first.length
    for (const beats of [first, then]) {
      for (let i = 0; i < beats.length; i += 100) await beat(server.url, beats.slice(i, i + 100))
    }
  })
  afterAll(async () => {
    await server?.stop()
  })

  it('is clean, with a process_state series per component and every state present', async () => {
    const res = await fetch(`${server.url}/metrics`, { headers: { Accept: 'text/plain' } })
    const text = await res.text()
    const samples = parseExposition(text)
    const states = [...samples].filter(([series]) => series.startsWith('process_state{'))
    expect(states.length).toBe(components)
    expect(new Set(states.map(([, value]) => value))).toEqual(new Set([0, 1, 2, 3]))
    expect(samples.get('process_state{agent="host-11.eu-4:pg",component="auth"}')).toBe(1) // recovering
    expect(samples.get('process_state{agent="host-10.eu-3:pg",component="cron"}')).toBe(2) // missed
    expect(samples.get('pulsegate_overdue_components')).toBe(AGENTS / 10)
    expect(samples.get('teleport_registered_servers{version="unknown"}')).toBe(Math.ceil(AGENTS / 9))
    for (const health of ['healthy', 'unhealthy', 'unknown']) {
      expect(samples.get(`teleport_resources_health_status_${health}`)).toBeGreaterThan(0)
    }
    expect(promtoolCheck(text)).toEqual({ status: 0, output: '' })
  })
})
