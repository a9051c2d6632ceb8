// What each kind of request costs on Cloudflare, counted from the code: Durable
// Object requests (RPC calls) and SQLite rows read and written (the cursors' own
// counts, as Cloudflare bills them). bench/cost-model.ts prices these counts;
// this test holds its table to what the code does.
import { env } from 'cloudflare:workers'
import { describe, expect, it } from 'vitest'
import { OPERATIONS } from '../../bench/cost-model.ts'
import { createApp } from '../../lib/app.ts'
import { loadSettings } from '../../lib/settings.ts'
import { DurableObjectStore, type Fleet } from '../../lib/stores/durable-object.ts'
import type { MeteredFleet } from './entry.ts'

const metered = (env as unknown as { METERED_FLEET: DurableObjectNamespace<MeteredFleet> }).METERED_FLEET

/** The app over a metered object, with every RPC call to it counted. */
function meteredApp(vars: Record<string, string> = {}) {
  const fleetName = crypto.randomUUID()
  const calls: string[] = []
  const namespace = {
    getByName(name: string) {
      const stub = metered.getByName(name)
      return new Proxy(stub, {
        get(target, method: string) {
          const real = Reflect.get(target, method) as (...args: unknown[]) => unknown
          if (typeof real !== 'function') return real
          return (...args: unknown[]) => {
            calls.push(method)
            return Reflect.apply(real, target, args)
          }
        },
      })
    },
  } as unknown as DurableObjectNamespace<Fleet>
  const settings = loadSettings({ RATE_LIMIT_PER_SECOND: '0', ...vars }, 'workers')
  const store = new DurableObjectStore(env, settings, { fleetName, namespace })
  const app = createApp({ store, settings, runtime: 'workers', compression: false })
  /** Run `request` and count what it cost the object. */
  const cost = async (request: () => Response | Promise<Response>) => {
    await metered.getByName(fleetName).takeUsage()
    calls.length = 0
    const res = await request()
    await res.arrayBuffer()
    const counted = [...calls]
    const usage = await metered.getByName(fleetName).takeUsage()
    return { status: res.status, objectRequests: counted.length, calls: counted, ...usage }
  }
  const post = (body: unknown) =>
    app.request('http://pulsegate.test/v1/heartbeat', { method: 'POST', headers: { 'Content-Type': 'application/json' }, body: JSON.stringify(body) })
  return { app, cost, post }
}

describe('what a request costs the Durable Object', () => {
  it('matches the table of bench/cost-model.ts for a heartbeat, a probe and a scrape', async () => {
    const { app, cost, post } = meteredApp()
    const beats = Array.from({ length: 100 }, (_, i) => ({ agent: `node-${i}`, status: 'ok', version: '19.1.2', interval_seconds: 60 }))
    expect((await post(beats)).status).toBe(200)
    const heartbeat = await cost(() => post({ agent: 'node-7', status: 'ok', version: '19.1.2', interval_seconds: 60 }))
    expect(heartbeat).toMatchObject({ status: 200, calls: ['apply'] })
    const probe = await cost(() => app.request('http://pulsegate.test/readyz'))
    const agentProbe = await cost(() => app.request('http://pulsegate.test/readyz/node-7'))
    const scrape = await cost(() => app.request('http://pulsegate.test/metrics'))
    expect(scrape.calls).toEqual(['snapshot', 'count'])
    const rejected = await cost(() => post({ agent: 'node-7', status: 'nope' }))
    expect(rejected).toMatchObject({ status: 400, calls: ['count'] })
    const measured = (c: typeof heartbeat) => ({ workerRequests: 1, objectRequests: c.objectRequests, rowsRead: c.rowsRead, rowsWritten: c.rowsWritten })
    expect({
      heartbeat: measured(heartbeat),
      probe: measured(probe),
      agentProbe: measured(agentProbe),
      scrape: measured(scrape),
      rejected: measured(rejected),
    }).toEqual(OPERATIONS)
  })

  it('costs no more per heartbeat for a larger fleet, and a batch costs one object request', async () => {
    const { cost, post } = meteredApp()
    for (let i = 0; i < 10; i++) {
      await post(Array.from({ length: 100 }, (_, j) => ({ agent: `n-${i}-${j}`, status: 'ok', interval_seconds: 60 })))
    }
    const one = await cost(() => post({ agent: 'n-3-3', status: 'ok' }))
    expect(one).toMatchObject({ objectRequests: OPERATIONS.heartbeat.objectRequests, rowsWritten: OPERATIONS.heartbeat.rowsWritten })
    // An agent reporting 4 new components in one batch: one request; each component's row, and its first
    // event (a row under the agent and one in the fleet's feed); the shared rows once.
    const components = ['a', 'b', 'c', 'd'].map((component) => ({ agent: 'n-3-3', component, status: 'ok' as const }))
    const first = await cost(() => post(components))
    expect(first.objectRequests).toBe(1)
    expect(first.rowsWritten).toBe(4 * 3 + (OPERATIONS.heartbeat.rowsWritten - 1))
    // The same again: nothing a reader sees changes, so no event, a row per component.
    const again = await cost(() => post(components))
    expect(again.rowsWritten).toBe(4 + (OPERATIONS.heartbeat.rowsWritten - 1))
    // A transition costs two rows more than the heartbeat that makes it.
    const transition = await cost(() => post({ agent: 'n-3-3', status: 'degraded' }))
    expect(transition.rowsWritten).toBe(OPERATIONS.heartbeat.rowsWritten + 2)
  })
})
