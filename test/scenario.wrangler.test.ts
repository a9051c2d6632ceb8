// The shared HTTP story against a real `wrangler dev` process (workerd, local
// Durable Object and KV), reading probes from the object (PROBE_SOURCE=do).
import { afterAll, beforeAll, describe, expect, it } from 'vitest'
import { httpScenario } from './scenario.ts'
import { SCENARIO_ENV } from './support/scenario-env.ts'
import { type RunningWrangler, startWranglerDev } from './support/wrangler.ts'

let wrangler: RunningWrangler
beforeAll(async () => {
  wrangler = await startWranglerDev({ ...SCENARIO_ENV, PROBE_SOURCE: 'do' })
  console.log(`wrangler dev answered its first request after ${Math.round(wrangler.startupMs)} ms`)
}, 90_000)
afterAll(async () => {
  await wrangler?.stop()
})

httpScenario('wrangler dev (workerd, Durable Object)', { url: () => wrangler.url, runtime: 'workers', processMetrics: false })

/**
 * An agent that beats every 300 ms with a deadline 1 s after each beat, probed
 * every 100 ms for 10 s: it never missed a beat, so no probe may say degraded.
 * Then a degraded heartbeat, a deregistration and a new agent, each of which
 * must show within `bound` ms.
 */
async function edgeStory(url: string, bound: number) {
  const post = (body: unknown) =>
    fetch(`${url}/v1/heartbeat`, { method: 'POST', headers: { 'Content-Type': 'application/json' }, body: JSON.stringify(body) })
  const beat = { agent: 'edge-1', status: 'ok', interval_seconds: 1, grace_seconds: 0 }
  expect((await post(beat)).status).toBe(200)
  let beating = true
  const beats = (async () => {
    while (beating) {
      await new Promise((resolve) => setTimeout(resolve, 300))
      if (beating) expect((await post(beat)).status).toBe(200)
    }
  })()
  const answers: number[] = []
  const until = Date.now() + 10_000
  while (Date.now() < until) {
    for (const path of ['/readyz/edge-1', '/readyz']) answers.push((await fetch(`${url}${path}`)).status)
    await new Promise((resolve) => setTimeout(resolve, 100))
  }
  beating = false
  await beats
  expect(answers.length).toBeGreaterThan(100)
  expect(answers.filter((code) => code !== 200)).toEqual([])

  // Each change shows within the bound: poll until it does, and say how long it took.
  const shows = async (path: string, wanted: number) => {
    const started = Date.now()
    while ((await fetch(`${url}${path}`)).status !== wanted) {
      if (Date.now() - started > bound) throw new Error(`${path} did not answer ${wanted} within ${bound} ms`)
      await new Promise((resolve) => setTimeout(resolve, 50))
    }
    return Date.now() - started
  }
  expect((await post({ ...beat, status: 'degraded', interval_seconds: 60 })).status).toBe(200)
  await shows('/readyz/edge-1', 503)
  expect((await fetch(`${url}/v1/agents/edge-1`, { method: 'DELETE' })).status).toBe(200)
  await shows('/readyz/edge-1', 404)
  expect((await post({ agent: 'edge-2', status: 'ok' })).status).toBe(200)
  await shows('/readyz/edge-2', 200)
}

describe('wrangler dev, the edge story', () => {
  describe('in the default mode (the object answers)', () => {
    let fresh: RunningWrangler
    beforeAll(async () => {
      // A setting Workers never read is never validated there, however odd.
      fresh = await startWranglerDev({ PORT: 'not a port', DATA_DIR: '' })
    }, 90_000)
    afterAll(async () => {
      await fresh?.stop()
    })

    it('never a false degraded, and every change at once', async () => {
      await edgeStory(fresh.url, 200)
    }, 60_000)
  })

  describe('with PROBE_SOURCE=cache', () => {
    let cached: RunningWrangler
    beforeAll(async () => {
      cached = await startWranglerDev({ PROBE_SOURCE: 'cache', COPY_MAX_AGE_SECONDS: '2' })
    }, 90_000)
    afterAll(async () => {
      await cached?.stop()
    })

    it('never a false degraded from a copy, and every change within COPY_MAX_AGE_SECONDS', async () => {
      await edgeStory(cached.url, 2000 + 500)
    }, 60_000)

    it('answers a slow agent from a copy, saying how old it is', async () => {
      const beat = { agent: 'slow-1', status: 'ok', interval_seconds: 3600 }
      const posted = await fetch(`${cached.url}/v1/heartbeat`, { method: 'POST', headers: { 'Content-Type': 'application/json' }, body: JSON.stringify(beat) })
      expect(posted.status).toBe(200)
      expect((await fetch(`${cached.url}/readyz/slow-1`)).headers.get('Age')).toBeNull() // the object's answer, now kept
      await new Promise((resolve) => setTimeout(resolve, 1100))
      const copied = await fetch(`${cached.url}/readyz/slow-1`)
      expect(copied.status).toBe(200)
      expect(copied.headers.get('Age')).toBe('1')
      expect(copied.headers.get('Cache-Control')).toBe('no-store')
    })
  })
})

describe('wrangler dev with a bad [vars] value', () => {
  let bad: RunningWrangler
  beforeAll(async () => {
    // Ready once the Worker itself answers: with its JSON error.
    const answersJson = (res: Response) => res.headers.get('Content-Type')?.startsWith('application/json') ?? false
    bad = await startWranglerDev({ RECOVERY_SECONDS: '-1' }, { ready: answersJson })
  }, 90_000)
  afterAll(async () => {
    await bad?.stop()
  })

  it('answers every route, /livez too, with one JSON error naming the variable: no stack, no path', async () => {
    for (const [method, path] of [['GET', '/livez'], ['GET', '/readyz'], ['GET', '/metrics'], ['POST', '/v1/heartbeat']] as const) {
      const res = await fetch(`${bad.url}${path}`, { method })
      expect(res.status, path).toBe(500)
      const text = await res.text()
      expect(JSON.parse(text)).toEqual({
        error: { code: 'invalid_settings', message: expect.stringMatching(/^pulsegate is misconfigured: invalid setting RECOVERY_SECONDS: /) },
      })
      expect(text).not.toMatch(/file:|\.ts|\bat /)
    }
  })
})
