// The shared store suite against Deno KV, on Deno's test runner (deno task test),
// plus what only this driver has to prove: isolates racing on one KV lose no update
// and cannot both squeeze under a cap, and no change outgrows an atomic operation.
import type { Heartbeat } from '../../lib/heartbeat.ts'
import { NO_LIMITS } from '../../lib/limits.ts'
import { DenoKvStore, KV_FILE, openDenoKvStore } from '../../lib/stores/deno-kv.ts'
import type { TableSettings } from '../../lib/stores/table.ts'
import { storeSuite, suiteSettings } from '../stores.suite.ts'
import { expect } from './vitest-shim.ts'

const opened: DenoKvStore[] = []
const dirs: string[] = []

async function openTemp(dataDir?: string, settings: TableSettings = suiteSettings) {
  if (!dataDir) dirs.push((dataDir = await Deno.makeTempDir({ prefix: 'pulsegate-kv-' })))
  const store = await openDenoKvStore({ dataDir }, settings)
  opened.push(store)
  return { store, dataDir }
}

storeSuite('deno kv', async (settings) => {
  const { store, dataDir } = await openTemp(undefined, settings)
  return {
    store,
    storesTrafficCounters: true,
    reopen: async () => {
      await store.close()
      return (await openTemp(dataDir, settings)).store
    },
  }
})

const T0 = 1_800_000_000_000

/** Two stores on one KV, as two isolates of a deployment: each has its own queue, so their changes race. */
async function twoIsolates(settings: TableSettings = suiteSettings) {
  const dataDir = await Deno.makeTempDir({ prefix: 'pulsegate-kv-' })
  dirs.push(dataDir)
  const kv = await Deno.openKv(`${dataDir}/${KV_FILE}`)
  const stores = [new DenoKvStore(kv, settings), new DenoKvStore(kv, settings)] as const
  opened.push(stores[0])
  return stores
}

Deno.test('deno kv: isolates writing one record at once lose no update', async () => {
  // They all read the record before any commits: all but one commit fail their check and go again.
  // Each sets another sticky field, so an update planned on a stale read would drop the others'.
  const stores = await twoIsolates()
  const sticky: Partial<Heartbeat>[] = [{ version: '2.0' }, { pid: 7 }, { labels: { zone: 'b' } }, { interval_seconds: 30 }, { grace_seconds: 9 }]
  await Promise.all(sticky.map((extra, i) => stores[i % 2]!.apply([{ agent: 'a', status: 'ok', ...extra }], T0)))
  const snapshot = await stores[0].snapshot(T0)
  expect(snapshot.counters.received).toBe(5)
  expect(snapshot.records).toEqual([
    expect.objectContaining({ version: '2.0', pid: 7, labels: { zone: 'b' }, intervalSeconds: 30, graceSeconds: 9 }),
  ])
})

Deno.test('deno kv: remove and sweep more records than one atomic operation may check', async () => {
  const { store } = await openTemp()
  const components = (agent: string) =>
    Array.from({ length: 100 }, (_, i) => ({ agent, component: `c${i}`, status: 'ok' as const }))
  for (const agent of ['a', 'a', 'b', 'b']) await store.apply(components(agent), T0)
  await store.apply(components('a').map((h) => ({ ...h, component: `${h.component}x` })), T0)
  await store.apply(components('b').map((h) => ({ ...h, component: `${h.component}x` })), T0 + 1000)
  expect(await store.remove('a', T0)).toBe(200)
  expect(await store.sweep(T0 + 3_600_001)).toBe(100)
  expect((await store.snapshot(T0 + 3_600_001)).records).toHaveLength(100)
  expect((await store.snapshot(T0 + 3_600_001)).counters).toMatchObject({ expired: 100, received: 600 })
})

Deno.test('deno kv: isolates adding agents at once cannot both squeeze under a cap', async () => {
  const stores = await twoIsolates({ ...suiteSettings, limits: { ...NO_LIMITS, maxAgents: 2 } })
  await stores[0].apply([{ agent: 'a', status: 'ok' }], T0)
  const outcomes = await Promise.allSettled(['b', 'c', 'd', 'e'].map((agent, i) => stores[i % 2]!.apply([{ agent, status: 'ok' }], T0)))
  expect(outcomes.filter((o) => o.status === 'fulfilled')).toHaveLength(1)
  expect((await stores[1].snapshot(T0)).records).toHaveLength(2)
})

Deno.test('deno kv: a capped batch of 100 records that all change version stays within 100 checks', async () => {
  const { store } = await openTemp(undefined, { ...suiteSettings, limits: { ...NO_LIMITS, maxVersions: 2 } })
  const batch = (version: string) => Array.from({ length: 100 }, (_, i) => ({ agent: `a${i}`, status: 'ok' as const, version }))
  await store.apply(batch('1.0'), T0)
  await store.apply(batch('2.0'), T0 + 1)
  expect(new Set((await store.snapshot(T0 + 1)).records.map((r) => r.version))).toEqual(new Set(['2.0']))
})

Deno.test('deno kv: close the stores', async () => {
  for (const store of opened) await store.close().catch(() => {})
  for (const dir of dirs) await Deno.remove(dir, { recursive: true })
})
