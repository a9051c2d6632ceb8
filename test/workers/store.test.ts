// The shared store suite against the production path on workerd: the Worker's
// DurableObjectStore → RPC → a Fleet Durable Object → the engine on its SQLite.
import { env } from 'cloudflare:workers'
import { abortAllDurableObjects, evictDurableObject } from 'cloudflare:test'
import { expect, it } from 'vitest'
import { NO_LIMITS } from '../../lib/limits.ts'
import { loadSettings } from '../../lib/settings.ts'
import { DurableObjectStore, type Fleet } from '../../lib/stores/durable-object.ts'
import { storeSuite } from '../stores.suite.ts'
import type { SuiteFleet } from './entry.ts'

const suiteFleets = (env as unknown as { SUITE_FLEET: DurableObjectNamespace<SuiteFleet> }).SUITE_FLEET

storeSuite('durable object', async (readiness) => {
  const settings = { ...loadSettings({}, 'workers'), ...readiness, limits: readiness.limits ?? NO_LIMITS }
  const name = crypto.randomUUID() // a fresh object per test
  await suiteFleets.getByName(name).configure({ ...readiness, limits: settings.limits })
  const open = () => new DurableObjectStore(env, settings, { fleetName: name, namespace: suiteFleets as unknown as DurableObjectNamespace<Fleet> })
  return {
    store: open(),
    storesTrafficCounters: true,
    reopen: async () => {
      await evictDurableObject(suiteFleets.getByName(name))
      return open()
    },
  }
})

it('loses no acknowledged heartbeat when the object is aborted mid-stream', async () => {
  const name = crypto.randomUUID()
  const settings = loadSettings({}, 'workers')
  const store = new DurableObjectStore(env, settings, { fleetName: name })
  const acknowledged = new Map<string, number>()
  let aborted = false
  const clients = Array.from({ length: 16 }, async (_, c) => {
    // Fewer beats per agent than the default rate limit's burst: this is about durability.
    for (let seq = 1; seq <= 8; seq++) {
      try {
        await store.apply([{ agent: `burst-${c}`, status: 'ok', message: `seq ${seq}` }], Date.now())
        acknowledged.set(`burst-${c}`, seq)
      } catch {
        if (!aborted) throw new Error('a write failed before the abort')
        return // the object is gone; this client's later beats were never acknowledged
      }
      if (c === 0 && seq === 4) {
        aborted = true
        await abortAllDurableObjects() // like a crash: in-memory state is lost, storage is kept
      }
    }
  })
  await Promise.all(clients)
  const { records } = await new DurableObjectStore(env, settings, { fleetName: name }).snapshot(Date.now())
  expect(acknowledged.size).toBe(16)
  for (const [agent, seq] of acknowledged) {
    const stored = records.find((r) => r.agent === agent)
    expect(stored, agent).toBeDefined()
    expect(Number(stored!.message!.slice(4))).toBeGreaterThanOrEqual(seq)
  }
})
