// The shared store suite against Deno KV, on Deno's test runner (deno task test),
// plus what only this driver has to prove, through the Store port: isolates racing
// on one KV lose no update and cannot both squeeze under a cap, an isolate sees
// what another wrote, and no change outgrows an atomic operation.
import type { Heartbeat } from '../../lib/heartbeat.ts'
import { NO_LIMITS } from '../../lib/limits.ts'
import { KV_FILE, openDenoKvEngine, openDenoKvStore } from '../../lib/stores/deno-kv.ts'
import type { EngineSettings } from '../../lib/stores/engine.ts'
import type { Store } from '../../lib/stores/store.ts'
import { storeSuite, suiteSettings } from '../stores.suite.ts'
import { expect } from './vitest-shim.ts'

const opened: Store[] = []
const dirs: string[] = []

async function openTemp(dataDir?: string, settings: EngineSettings = suiteSettings) {
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

/** Two engines on one KV, as two isolates of a deployment: each has its own memory and queue, so their changes race. */
async function twoIsolates(settings: EngineSettings = suiteSettings) {
  const dataDir = await Deno.makeTempDir({ prefix: 'pulsegate-kv-' })
  dirs.push(dataDir)
  const kv = await Deno.openKv(`${dataDir}/${KV_FILE}`)
  const stores = [await openDenoKvEngine(kv, settings), await openDenoKvEngine(kv, settings)] as const
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

Deno.test('deno kv: an isolate sees what another wrote, removed and counted, before it answers', async () => {
  const [one, two] = await twoIsolates()
  await one.apply([{ agent: 'a', status: 'ok' }, { agent: 'b', status: 'degraded' }], T0)
  expect((await two.summary(T0)).byState).toMatchObject({ ok: 1, degraded: 1 })
  await two.apply([{ agent: 'b', status: 'ok' }], T0 + 1000)
  expect((await one.agent('b', T0 + 1000)).records[0]!.state).toBe('recovering')
  await one.remove('a', T0 + 2000)
  await two.count('scrapes', '200')
  const snapshot = await one.snapshot(T0 + 2000)
  expect(snapshot.records.map((r) => r.agent)).toEqual(['b'])
  expect(snapshot.counters).toMatchObject({ received: 3, scrapes: { '200': 1 } })
  expect((await two.snapshot(T0 + 2000)).records).toEqual(snapshot.records)
})

/** A Deno KV whose reads are counted: gets (and the keys of getMany) and lists (and the entries they yield). */
function countingKv(kv: Deno.Kv) {
  const reads = { gets: 0, keys: 0, lists: 0, listed: 0 }
  const counted = new Proxy(kv, {
    get(target, name) {
      const real = Reflect.get(target, name)
      if (typeof real !== 'function') return real
      if (name === 'get') return (...args: unknown[]) => (reads.gets++, reads.keys++, Reflect.apply(real, target, args))
      if (name === 'getMany') return (keys: unknown[], ...rest: unknown[]) => (reads.gets++, (reads.keys += keys.length), Reflect.apply(real, target, [keys, ...rest]))
      if (name === 'list') {
        return async function* (...args: unknown[]) {
          reads.lists++
          for await (const entry of Reflect.apply(real, target, args) as AsyncIterable<unknown>) {
            reads.listed++
            yield entry
          }
        }
      }
      return real.bind(target)
    },
  })
  return { kv: counted, reads }
}

Deno.test('deno kv: /readyz reads one key while nothing changed, and only what changed otherwise, never the fleet', async () => {
  const dataDir = await Deno.makeTempDir({ prefix: 'pulsegate-kv-' })
  dirs.push(dataDir)
  const shared = await Deno.openKv(`${dataDir}/${KV_FILE}`)
  const writer = await openDenoKvEngine(shared, suiteSettings)
  opened.push(writer)
  await writer.apply(Array.from({ length: 100 }, (_, i) => ({ agent: `a${i}`, status: 'ok' as const })), T0)
  const { kv, reads } = countingKv(shared)
  const reader = await openDenoKvEngine(kv, suiteSettings) // another isolate: it reads the fleet once, at start
  const zero = () => Object.assign(reads, { gets: 0, keys: 0, lists: 0, listed: 0 })
  zero()
  for (let i = 0; i < 10; i++) expect((await reader.summary(T0)).agents).toBe(100)
  expect(reads).toEqual({ gets: 10, keys: 10, lists: 0, listed: 0 }) // the sequence key, once a probe
  await writer.apply([{ agent: 'a7', status: 'degraded' }], T0 + 1000)
  zero()
  expect((await reader.summary(T0 + 1000)).byState.degraded).toBe(1)
  // The sequence, the one log entry of that commit, and the one key it names: the record (which holds its own heartbeat count).
  expect(reads).toEqual({ gets: 2, keys: 2, lists: 1, listed: 1 })
})

Deno.test('deno kv: serves a 0.1 layout after moving its keys', async () => {
  const dataDir = await Deno.makeTempDir({ prefix: 'pulsegate-kv-' })
  dirs.push(dataDir)
  // The keys pulsegate 0.1 wrote: one record, two counters and the revision.
  const kv = await Deno.openKv(`${dataDir}/${KV_FILE}`)
  const record = {
    agent: 'web-1', component: 'main', state: 'ok', recoveringSince: null, lastSeen: T0, message: null,
    version: '2.0', pid: null, labels: {}, intervalSeconds: null, graceSeconds: null,
  }
  await kv.atomic().set(['component', 'web-1', 'main'], record).sum(['counter', 'received'], 5n)
    .sum(['counter', 'rejected', 'invalid_heartbeat'], 2n).sum(['revision'], 9n).commit()
  kv.close()
  const { store } = await openTemp(dataDir)
  const snapshot = await store.snapshot(T0)
  expect(snapshot.records).toEqual([{
    ...record, beats: 0, schedule: null, tz: null, maxRunSeconds: null, expireSeconds: null, declared: false, runs: [],
    lastDurationSeconds: null, lastExitCode: null, lastSuccessAt: null, history: [], alert: null,
  }])
  expect(snapshot.counters).toMatchObject({ received: 5, rejected: { invalid_heartbeat: 2 } })
})

Deno.test('deno kv: close the stores', async () => {
  for (const store of opened) await store.close().catch(() => {})
  for (const dir of dirs) await Deno.remove(dir, { recursive: true })
})
