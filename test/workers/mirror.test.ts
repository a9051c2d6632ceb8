// The Fleet object mirrors its snapshot to KV, coalesced to one write a second;
// probes read KV in `kv` mode (cheap, may lag) and the object in `do` mode (fresh).
import { env } from 'cloudflare:workers'
import { evictDurableObject, runDurableObjectAlarm, runInDurableObject } from 'cloudflare:test'
import { describe, expect, it } from 'vitest'
import type { FleetSummary } from '../../lib/agent-states.ts'
import { viewFleet } from '../../lib/fleet.ts'
import { loadSettings } from '../../lib/settings.ts'
import {
  DurableObjectStore,
  type MirroredSnapshot,
  MIRROR_SPACING_MS,
  snapshotKey,
  summaryKey,
} from '../../lib/stores/durable-object.ts'

const settings = loadSettings({})
// Each test has its own Fleet object, which mirrors to its own KV key.
function fleet() {
  const name = crypto.randomUUID()
  return {
    name,
    mirrored: () => env.SNAPSHOTS.get<MirroredSnapshot>(snapshotKey(name), 'json'),
    stub: env.FLEET.getByName(name),
    kv: new DurableObjectStore(env, { ...settings, probeSource: 'kv' }, name),
    direct: new DurableObjectStore(env, { ...settings, probeSource: 'do' }, name),
  }
}
const alarmOf = (stub: DurableObjectStub) => runInDurableObject(stub, (_i, state) => state.storage.getAlarm())

describe('the KV mirror', () => {
  it('is written by the alarm a write schedules, and then probes in kv mode read it', async () => {
    const { stub, kv, direct, mirrored } = fleet()
    const now = Date.now()
    await direct.apply([{ agent: 'node-17', status: 'ok', pid: 7 }], now)
    const alarm = await alarmOf(stub)
    expect(alarm).not.toBeNull()
    expect(alarm!).toBeLessThanOrEqual(Date.now()) // the first change is mirrored at once
    expect(await mirrored()).toBeNull()
    expect(await runDurableObjectAlarm(stub)).toBe(true)
    const copy = await mirrored()
    expect(copy!.records.map((r) => [r.agent, r.state, r.pid])).toEqual([['node-17', 'ok', 7]])
    expect(copy!.counters.received).toBe(1)
    expect((await kv.snapshot(Date.now())).records).toEqual(copy!.records)
  })

  it('coalesces a burst of writes into one later mirror, and kv mode lags while do mode is fresh', async () => {
    const { stub, kv, direct, mirrored } = fleet()
    await direct.apply([{ agent: 'node-9', status: 'ok' }], Date.now())
    await runDurableObjectAlarm(stub)
    const first = (await mirrored())!

    const alarms = []
    for (const status of ['degraded', 'ok', 'degraded'] as const) {
      await direct.apply([{ agent: 'node-9', status }], Date.now())
      alarms.push(await alarmOf(stub))
    }
    // KV takes one write a second per key: the next mirror waits a second after
    // the last one, and the whole burst shares that one alarm.
    expect(alarms[0]).toBeGreaterThanOrEqual(first.mirroredAt + MIRROR_SPACING_MS)
    expect(new Set(alarms).size).toBe(1)
    expect((await kv.snapshot(Date.now())).records[0]!.state).toBe('ok') // stale copy
    expect((await direct.snapshot(Date.now())).records[0]!.state).toBe('degraded') // fresh

    await runDurableObjectAlarm(stub)
    const second = (await mirrored())!
    expect(second.records[0]!.state).toBe('degraded')
    expect(second.counters.received).toBe(4)
    expect(second.revision).toBeGreaterThan(first.revision)
    expect((await kv.snapshot(Date.now())).records[0]!.state).toBe('degraded')
  })

  it('shows a missed heartbeat from a stale copy at once: state is observed at read time', async () => {
    const { stub, kv } = fleet()
    const past = Date.now() - 120_000
    await kv.apply([{ agent: 'node-3', status: 'ok', interval_seconds: 5, grace_seconds: 5 }], past)
    await runDurableObjectAlarm(stub)
    const [record] = (await kv.snapshot(Date.now())).records
    expect(record!.lastSeen).toBe(past)
    const view = viewFleet([record!], Date.now(), settings)
    expect(view.agents[0]!.state).toBe('degraded')
    expect(view.agents[0]!.components[0]!.reason).toBe('missed heartbeat')
    // The mirrored summary was made when the agent was still overdue too; either way /readyz says degraded.
    expect((await kv.summary(Date.now())).state).toBe('degraded')
  })

  it('mirrors a small summary beside the snapshot, and reads it only while no deadline has passed', async () => {
    const { name, stub, kv, direct } = fleet()
    const now = Date.now()
    await direct.apply([{ agent: 'a', status: 'ok', interval_seconds: 1, grace_seconds: 0 }, { agent: 'b', status: 'degraded' }], now)
    await runDurableObjectAlarm(stub)
    const mirrored = await env.SNAPSHOTS.get<FleetSummary>(summaryKey(name), 'json')
    expect(mirrored).toMatchObject({ state: 'degraded', agents: 2, byState: { ok: 1, degraded: 1 } })
    expect(mirrored!.validUntil).toBe(now + 1000) // a's deadline
    expect(await kv.summary(now + 1000)).toEqual(mirrored) // read as it is
    // Past a's deadline the copy no longer holds: the state comes from the snapshot, observed now.
    expect(await kv.summary(now + 1001)).toMatchObject({ state: 'degraded', byState: { ok: 0, degraded: 2 } })
  })

  it('drops expired components on the alarm, counting them', async () => {
    const { stub, direct } = fleet()
    await direct.apply([{ agent: 'old', status: 'ok' }], Date.now() - 3_700_000)
    await direct.apply([{ agent: 'new', status: 'ok' }], Date.now())
    expect((await direct.snapshot(Date.now())).counters.expired).toBe(0) // hidden, not yet dropped
    await runDurableObjectAlarm(stub)
    // Counted as expired (and missed) only once dropped; what the alarm dropped stays dropped.
    expect((await direct.snapshot(Date.now())).counters).toMatchObject({ expired: 1, missed: 1 })
    expect(await direct.remove('old', Date.now())).toBe(0)
    // The next wake-up is the next expiry.
    const next = await alarmOf(stub)
    expect(next).toBeGreaterThan(Date.now() + 3_500_000)
  })

  it('keeps rejections and scrapes in the object\'s storage, so no isolate memory is needed', async () => {
    const { name, stub, direct } = fleet()
    await direct.count('rejected', 'invalid_heartbeat')
    await direct.count('scrapes', '200')
    await evictDurableObject(stub) // the object's memory is gone; its storage is not
    const { counters } = await new DurableObjectStore(env, { ...settings, probeSource: 'do' }, name).snapshot(Date.now())
    expect(counters).toMatchObject({ rejected: { invalid_heartbeat: 1 }, scrapes: { '200': 1 } })
  })
})

describe('sharding (SHARDS > 1)', () => {
  it('spreads agents over objects by hash, keeps each agent on one, and merges reads', async () => {
    const name = crypto.randomUUID()
    const sharded = { ...settings, probeSource: 'do' as const, shards: 4 }
    const store = new DurableObjectStore(env, sharded, name)
    const now = Date.now()
    const batch = Array.from({ length: 40 }, (_, i) => ({ agent: `node-${i}`, status: i % 2 ? ('ok' as const) : ('degraded' as const) }))
    const results = await store.apply(batch, now)
    expect(results.map((r) => r.agent)).toEqual(batch.map((h) => h.agent)) // answered in the batch's order
    await store.apply([{ agent: 'node-1', component: 'ssh', status: 'ok' }], now)

    const perShard = await Promise.all(
      [0, 1, 2, 3].map((i) => new DurableObjectStore(env, { ...sharded, shards: 1 }, `${name}-${i}`).snapshot(now)),
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
    expect(await store.remove('node-1', now)).toBe(2)
    expect((await store.snapshot(now)).records).toHaveLength(39)
  })
})
