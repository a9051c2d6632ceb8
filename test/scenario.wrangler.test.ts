// The shared HTTP story against a real `wrangler dev` process (workerd, local
// Durable Object and KV), reading probes from the object (PROBE_SOURCE=do).
import { afterAll, beforeAll, describe, expect, it } from 'vitest'
import { httpScenario } from './scenario.ts'
import { type RunningWrangler, startWranglerDev } from './support/wrangler.ts'

let wrangler: RunningWrangler
beforeAll(async () => {
  wrangler = await startWranglerDev({ RECOVERY_SECONDS: '0', PROBE_SOURCE: 'do' })
  console.log(`wrangler dev answered its first request after ${Math.round(wrangler.startupMs)} ms`)
}, 90_000)
afterAll(async () => {
  await wrangler?.stop()
})

httpScenario('wrangler dev (workerd, Durable Object)', { url: () => wrangler.url, runtime: 'workers', processMetrics: false })

describe('wrangler dev with the default PROBE_SOURCE=kv', () => {
  let kv: RunningWrangler
  beforeAll(async () => {
    kv = await startWranglerDev({ RECOVERY_SECONDS: '0' })
  }, 90_000)
  afterAll(async () => {
    await kv?.stop()
  })

  it('answers probes from the KV mirror, which follows the object within about a second', async () => {
    const post = (status: string) =>
      fetch(`${kv.url}/v1/heartbeat`, {
        method: 'POST',
        headers: { 'Content-Type': 'application/json' },
        body: JSON.stringify({ agent: 'edge-1', status }),
      })
    const stateWithin = async (ms: number, wanted: string) => {
      const deadline = Date.now() + ms
      let state = ''
      while (Date.now() < deadline && state !== wanted) {
        const res = await fetch(`${kv.url}/readyz/edge-1`)
        state = res.status === 404 ? 'unknown' : ((await res.json()) as { state: string }).state
      }
      return state
    }
    expect((await post('degraded')).status).toBe(200)
    expect(await stateWithin(5000, 'degraded')).toBe('degraded')
    expect((await post('ok')).status).toBe(200)
    expect(await stateWithin(5000, 'recovering')).toBe('recovering')
  })
})
