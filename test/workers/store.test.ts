// The shared store suite against the production path on workerd: the Worker's
// DurableObjectStore → RPC → the Fleet Durable Object → SqlStore on its SQLite.
import { env } from 'cloudflare:workers'
import { abortAllDurableObjects, evictDurableObject, runInDurableObject } from 'cloudflare:test'
import { expect, it } from 'vitest'
import { loadSettings } from '../../lib/settings.ts'
import { DurableObjectStore, objectDatabase } from '../../lib/stores/durable-object.ts'
import { SqlStore } from '../../lib/stores/sql.ts'
import { NO_LIMITS } from '../../lib/limits.ts'
import { storeSuite } from '../stores.suite.ts'

storeSuite('durable object', async (readiness) => {
  const settings = { ...loadSettings({}), ...readiness, probeSource: 'do' as const }
  const name = crypto.randomUUID() // a fresh Fleet object per test
  const store = new DurableObjectStore(env, settings, name)
  // The object takes its settings from env (wrangler vars); give this one the suite's, caps included.
  const suite = { ...settings, limits: readiness.limits ?? NO_LIMITS }
  await runInDurableObject(env.FLEET.getByName(name), (instance, state) => {
    Object.assign(instance, { store: new SqlStore(objectDatabase(state.storage), suite, { storeTrafficCounters: true }) })
  })
  return {
    store,
    storesTrafficCounters: true,
    reopen: async () => {
      await evictDurableObject(env.FLEET.getByName(name))
      return new DurableObjectStore(env, settings, name)
    },
  }
})

it('keeps records in the object\'s own SQLite, applied in one transaction', async () => {
  const name = crypto.randomUUID()
  const store = new DurableObjectStore(env, { ...loadSettings({}), probeSource: 'do' }, name)
  await store.apply([{ agent: 'a', status: 'ok' }, { agent: 'a', component: 'ssh', status: 'degraded' }], Date.now())
  const rows = await runInDurableObject(env.FLEET.getByName(name), (_instance, state) =>
    state.storage.sql.exec('SELECT agent, component, state FROM components ORDER BY component').toArray(),
  )
  expect(rows).toEqual([
    { agent: 'a', component: 'main', state: 'ok' },
    { agent: 'a', component: 'ssh', state: 'degraded' },
  ])
})

it('loses no acknowledged heartbeat when the object is aborted mid-stream', async () => {
  const name = crypto.randomUUID()
  const settings = { ...loadSettings({}), probeSource: 'do' as const }
  const store = new DurableObjectStore(env, settings, name)
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
  const { records } = await new DurableObjectStore(env, settings, name).snapshot(Date.now())
  expect(acknowledged.size).toBe(16)
  for (const [agent, seq] of acknowledged) {
    const stored = records.find((r) => r.agent === agent)
    expect(stored, agent).toBeDefined()
    expect(Number(stored!.message!.slice(4))).toBeGreaterThanOrEqual(seq)
  }
})
