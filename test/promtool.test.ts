// /metrics must pass the real `promtool check metrics` (Debian's prometheus package).
// In CI a missing promtool fails the test; on a laptop it is skipped, loudly.
import { spawnSync } from 'node:child_process'
import { afterAll, beforeAll, describe, expect, it } from 'vitest'
import { type RunningServer, startServer } from './support/server.ts'

const promtool = spawnSync('promtool', ['--version'], { encoding: 'utf8' })
const available = promtool.status === 0
if (!available && process.env.CI !== 'true') {
  console.warn('\n*** promtool not found: skipping the promtool check (apt-get install prometheus) ***\n')
}

describe.skipIf(!available && process.env.CI !== 'true')('promtool check metrics', () => {
  let server: RunningServer
  beforeAll(async () => {
    server = await startServer({ RECOVERY_SECONDS: '0' })
    const beats = []
    for (let i = 0; i < 200; i++) {
      const status = ['ok', 'degraded', 'starting'][i % 3]
      beats.push({
        agent: `node-${i}`, component: i % 2 ? 'proxy' : 'ssh', status, version: `19.${i % 4}.0`,
        labels: { region: `eu-${i % 5}`, tier: 'a "quoted" \\ value' }, message: 'line\nbreak',
      })
      if (i % 7 === 0) beats.push({ agent: `node-${i}`, component: 'auth', status: 'ok', interval_seconds: 0.001, grace_seconds: 0 })
    }
    for (let i = 0; i < beats.length; i += 100) {
      await fetch(`${server.url}/v1/heartbeat`, {
        method: 'POST', headers: { 'Content-Type': 'application/json' }, body: JSON.stringify(beats.slice(i, i + 100)),
      })
    }
    await fetch(`${server.url}/v1/heartbeat`, { method: 'POST', body: 'x' }) // a rejection, to have that series too
  })
  afterAll(async () => {
    await server?.kill()
  })

  it('is clean on the text exposition of a fleet in every state', async () => {
    expect(available, 'promtool must be installed in CI (.ci/run installs Debian prometheus)').toBe(true)
    const text = await (await fetch(`${server.url}/metrics`, { headers: { Accept: 'text/plain' } })).text()
    expect(text).toMatch(/process_state\{agent="node-1",component="proxy"\} 2/)
    expect(text).toMatch(/pulsegate_overdue_components [1-9]/)
    const check = spawnSync('promtool', ['check', 'metrics'], { input: text, encoding: 'utf8' })
    expect(check.stdout + check.stderr).toBe('')
    expect(check.status).toBe(0)
  })
})
