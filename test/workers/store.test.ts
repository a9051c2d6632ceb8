// The shared store suite against the production path on workerd: the Worker's
// DurableObjectStore → RPC → the Fleet Durable Object → SqlStore on its SQLite.
import { env } from 'cloudflare:workers'
import { evictDurableObject, runInDurableObject } from 'cloudflare:test'
import { expect, it } from 'vitest'
import { loadSettings } from '../../lib/settings.ts'
import { DurableObjectStore, objectDatabase } from '../../lib/stores/durable-object.ts'
import { SqlStore } from '../../lib/stores/sql.ts'
import { storeSuite } from '../stores.suite.ts'

storeSuite('durable object', async (readiness) => {
  const settings = { ...loadSettings({}), ...readiness, probeSource: 'do' as const }
  const name = crypto.randomUUID() // a fresh Fleet object per test
  const store = new DurableObjectStore(env, settings, name)
  if (readiness.limits) {
    // The object takes its settings from env (wrangler vars); give this one the suite's caps.
    await runInDurableObject(env.FLEET.getByName(name), (instance, state) => {
      Object.assign(instance, { store: new SqlStore(objectDatabase(state.storage), settings, { storeTrafficCounters: true }) })
    })
  }
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
