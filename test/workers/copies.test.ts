// The Worker's side of the Durable Object: what it asks the object, what it keeps
// as copies (PROBE_SOURCE=cache) and when a copy may answer; the object's alarm;
// and sharding. Counted through wrapped bindings, never through private fields.
import { env } from 'cloudflare:workers'
import { evictDurableObject, runDurableObjectAlarm, runInDurableObject } from 'cloudflare:test'
import { describe, expect, it } from 'vitest'
import { loadSettings } from '../../lib/settings.ts'
import { type Copies, type Copy, CacheCopies } from '../../lib/stores/copies.ts'
import { DurableObjectStore, type Fleet } from '../../lib/stores/durable-object.ts'

const T0 = Date.now()
const at = (seconds: number) => T0 + seconds * 1000

/** The object namespace, with every RPC call counted (by method) and the size of what it answered (JSON bytes). */
function countingNamespace() {
  const calls: Record<string, number> = {}
  const bytes: Record<string, number> = {}
  const namespace = {
    getByName(name: string) {
      const stub = env.FLEET.getByName(name)
      return new Proxy(stub, {
        get(target, method: string) {
          const real = Reflect.get(target, method) as (...args: unknown[]) => Promise<unknown>
          if (typeof real !== 'function') return real
          return async (...args: unknown[]) => {
            calls[method] = (calls[method] ?? 0) + 1
            const answer = await Reflect.apply(real, target, args)
            bytes[method] = (bytes[method] ?? 0) + (JSON.stringify(answer) ?? '').length
            return answer
          }
        },
      })
    },
  } as unknown as DurableObjectNamespace<Fleet>
  return { namespace, calls, bytes }
}

/** The Cache API copies, with every get and put counted. */
function countingCopies(fleet: string) {
  const real = new CacheCopies(caches, fleet)
  const counts = { gets: 0, puts: 0 }
  const copies: Copies = {
    async get<T>(key: string) {
      counts.gets++
      return real.get<T>(key)
    },
    async put<T>(key: string, copy: Copy<T>) {
      counts.puts++
      await real.put(key, copy)
    },
  }
  return { copies, counts }
}

function fleet(probeSource: 'do' | 'cache', vars: Record<string, string> = {}) {
  const fleetName = crypto.randomUUID() // each test its own object, and its own copies
  const settings = loadSettings({ RATE_LIMIT_PER_SECOND: '0', ...vars, PROBE_SOURCE: probeSource }, 'workers')
  const objects = countingNamespace()
  const cache = countingCopies(fleetName)
  const store = new DurableObjectStore(env, settings, { fleetName, namespace: objects.namespace, copies: cache.copies })
  return { fleetName, settings, store, objects, cache, stub: env.FLEET.getByName(fleetName) }
}

describe('copies (PROBE_SOURCE=cache)', () => {
  it("answers from the object once a deadline has passed since the copy was made, never a false 'missed heartbeat'", async () => {
    const { store, cache } = fleet('cache', { COPY_MAX_AGE_SECONDS: '60' })
    await store.apply([{ agent: 'edge-1', status: 'ok', interval_seconds: 2, grace_seconds: 0 }], at(0))
    const first = await store.agent('edge-1', at(1)) // the copy made at 1 s holds until edge-1's deadline at 2 s
    expect(first.copiedAt).toBeUndefined()
    expect(cache.counts.puts).toBe(1)
    const copied = await store.agent('edge-1', at(1.5))
    expect(copied.copiedAt).toBe(at(1))
    await store.apply([{ agent: 'edge-1', status: 'ok' }], at(1.9)) // the object hears from it; the copy does not
    // At 2.5 s the copy would show edge-1 overdue: it cannot know about the heartbeat at 1.9 s, so the object answers.
    const later = await store.agent('edge-1', at(2.5))
    expect(later.copiedAt).toBeUndefined()
    expect(later.records[0]!.lastSeen).toBe(at(1.9))
    expect((await store.summary(at(2.5))).state).toBe('ok')
  })

  it('keeps an overdue component overdue in its copy, as the object saw it, and says how old the copy is', async () => {
    const { store } = fleet('cache', { COPY_MAX_AGE_SECONDS: '30' })
    await store.apply([{ agent: 'late', status: 'ok', interval_seconds: 1, grace_seconds: 0 }, { agent: 'fine', status: 'ok' }], at(0))
    expect((await store.summary(at(5))).state).toBe('degraded') // from the object
    const summary = await store.summary(at(20))
    expect(summary).toMatchObject({ state: 'degraded', copiedAt: at(5) })
    expect((await store.summary(at(36))).copiedAt).toBeUndefined() // older than COPY_MAX_AGE_SECONDS: asked again
  })

  it('shows a degraded heartbeat, a deregistration and a new agent within COPY_MAX_AGE_SECONDS', async () => {
    const { store } = fleet('cache', { COPY_MAX_AGE_SECONDS: '5' })
    await store.apply([{ agent: 'a', status: 'ok' }], at(0))
    expect((await store.summary(at(0))).byState.ok).toBe(1)
    await store.apply([{ agent: 'a', status: 'degraded' }, { agent: 'b', status: 'ok' }], at(1))
    expect((await store.summary(at(4.9))).state).toBe('ok') // the copy, 4.9 s old: stale within the bound
    expect(await store.summary(at(5.1))).toMatchObject({ state: 'degraded', agents: 2 })
    await store.agent('b', at(6))
    await store.remove('b', at(7))
    expect((await store.agent('b', at(11))).records).toHaveLength(1)
    expect((await store.agent('b', at(11.1))).records).toEqual([])
  })

  it('costs one object read per copy, and none for a probe the copy answers', async () => {
    const { store, objects, cache } = fleet('cache', { COPY_MAX_AGE_SECONDS: '10' })
    // A fleet that beats every 60 s: copies hold for COPY_MAX_AGE_SECONDS.
    await store.apply(Array.from({ length: 100 }, (_, i) => ({ agent: `node-${i}`, status: 'ok' as const, interval_seconds: 60 })), at(0))
    objects.calls.summary = 0
    // Probes every 100 ms for 60 s: /readyz and one agent's /readyz/<agent>.
    for (let tenth = 0; tenth < 600; tenth++) {
      await store.summary(at(tenth / 10))
      await store.agent('node-7', at(tenth / 10))
    }
    // One answer from the object per copy and per 10 s: 6 each, however many probes.
    expect(objects.calls.summary).toBe(6)
    expect(objects.calls.agent).toBe(6)
    expect(cache.counts.puts).toBe(12)
    // Every probe looked for a copy; all but those 12 were answered by one.
    expect(cache.counts.gets).toBe(1200)
  })
})

describe('reads proportional to what is asked', () => {
  it('reads one agent for /readyz/<agent> and a summary for /readyz, in both modes; only fleet reads take the fleet', async () => {
    for (const mode of ['do', 'cache'] as const) {
      const { store, objects } = fleet(mode)
      const beats = Array.from({ length: 100 }, (_, i) => ({
        agent: `node-${i}`, status: 'ok' as const, version: '19.1.2', labels: { region: 'eu-west' }, message: 'joined cluster',
      }))
      for (let i = 0; i < 10; i++) await store.apply(beats.map((b) => ({ ...b, agent: `${b.agent}-${i}` })), at(0)) // 1,000 agents
      await store.agent('node-7-3', at(1))
      await store.summary(at(1))
      await store.snapshot(at(1))
      // One agent's record, a few hundred bytes (about 400, the job fields included); the summary, about a hundred; the fleet, everything.
      expect(objects.bytes.agent, mode).toBeLessThan(600)
      expect(objects.bytes.summary, mode).toBeLessThan(200)
      expect(objects.bytes.snapshot, mode).toBeGreaterThan(200_000)
    }
  })

  it('sends only the counters of an unchanged fleet, and the records again once they change', async () => {
    const { store, objects } = fleet('do')
    await store.apply([{ agent: 'a', status: 'ok' }], at(0))
    await store.snapshot(at(1))
    const full = objects.bytes.snapshot!
    await store.count('scrapes', '200') // a counter alone changes no revision
    const again = await store.snapshot(at(2))
    expect(objects.bytes.snapshot! - full).toBeLessThan(200)
    expect(again.counters.scrapes).toEqual({ '200': 1 })
    await store.apply([{ agent: 'b', status: 'ok' }], at(3))
    expect((await store.snapshot(at(3))).records).toHaveLength(2)
  })
})

describe('the object', () => {
  it('drops expired components on its alarm, set when a write has something due, counting and recording them', async () => {
    const { store, stub } = fleet('do')
    await store.apply([{ agent: 'old', status: 'ok' }], Date.now() - 3_700_000)
    const alarm = await runInDurableObject(stub, (_i, state) => state.storage.getAlarm())
    expect(alarm).not.toBeNull()
    await store.apply([{ agent: 'new', status: 'ok' }], Date.now())
    expect((await store.snapshot(Date.now())).counters.expired).toBe(0) // hidden, not yet dropped
    expect(await runDurableObjectAlarm(stub)).toBe(true)
    // Counted as expired (and missed) once dropped; what the alarm dropped stays dropped.
    expect((await store.snapshot(Date.now())).counters).toMatchObject({ expired: 1, missed: 1 })
    expect(await store.remove('old', Date.now())).toBe(0)
    // Its history says when it was missed and when it expired, though no request came then.
    const { events } = await store.events({ agent: 'old', limit: 10 })
    expect(events.map((e) => [e.to, e.reason])).toEqual([[null, 'expired'], ['degraded', 'missed heartbeat'], ['ok', null]])
    // The next wake-up is the next thing due: new's deadline, 60 s + 30 s of grace after its heartbeat.
    const next = await runInDurableObject(stub, (_i, state) => state.storage.getAlarm())
    expect(next).toBeGreaterThan(Date.now() + 80_000)
    expect(next).toBeLessThanOrEqual(Date.now() + 90_001)
  })

  it("keeps rejections and scrapes in the object's storage, so no isolate memory is needed", async () => {
    const { fleetName, settings, store, stub } = fleet('do')
    await store.count('rejected', 'invalid_heartbeat')
    await store.count('scrapes', '200')
    await evictDurableObject(stub) // the object's memory is gone; its storage is not
    const { counters } = await new DurableObjectStore(env, settings, { fleetName }).snapshot(Date.now())
    expect(counters).toMatchObject({ rejected: { invalid_heartbeat: 1 }, scrapes: { '200': 1 } })
  })
})

describe('sharding (SHARDS > 1)', () => {
  it('spreads agents over objects by hash, keeps each agent on one, and merges reads', async () => {
    const fleetName = crypto.randomUUID()
    const sharded = { ...loadSettings({}, 'workers'), shards: 4 }
    const store = new DurableObjectStore(env, sharded, { fleetName })
    const now = Date.now()
    const batch = Array.from({ length: 40 }, (_, i) => ({ agent: `node-${i}`, status: i % 2 ? ('ok' as const) : ('degraded' as const) }))
    const results = await store.apply(batch, now)
    expect(results.map((r) => r.agent)).toEqual(batch.map((h) => h.agent)) // answered in the batch's order
    await store.apply([{ agent: 'node-1', component: 'ssh', status: 'ok' }], now)

    const perShard = await Promise.all(
      [0, 1, 2, 3].map((i) => new DurableObjectStore(env, { ...sharded, shards: 1 }, { fleetName: `${fleetName}-${i}` }).snapshot(now)),
    )
    const counts = perShard.map((s) => s.records.length)
    expect(counts.reduce((a, b) => a + b)).toBe(41)
    expect(counts.filter((n) => n > 0).length).toBeGreaterThan(1) // really spread
    const holders = perShard.filter((s) => s.records.some((r) => r.agent === 'node-1'))
    expect(holders).toHaveLength(1) // both of node-1's components in one object
    expect(holders[0]!.records.filter((r) => r.agent === 'node-1')).toHaveLength(2)

    const merged = await store.snapshot(now)
    expect(merged.records).toHaveLength(41)
    expect(merged.counters.received).toBe(41)
    expect((await store.summary(now)).agents).toBe(40)
    expect(await store.remove('node-1', now)).toBe(2)
    expect((await store.snapshot(now)).records).toHaveLength(39)
  })
})
