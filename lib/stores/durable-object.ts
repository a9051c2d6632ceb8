// The Workers store. One Durable Object per fleet is the source of truth: it runs
// the shared SqlStore over its own SQLite (ctx.storage.sql), so next() is applied
// inside the object's input gate, and its answer leaves only once the write is
// durable (the output gate). It mirrors a snapshot of the fleet to KV, at most
// once a second (KV's limit per key), for cheap probe reads from every location.
import { DurableObject } from 'cloudflare:workers'
import type { Heartbeat } from '../heartbeat.ts'
import { type ComponentRecord, expiryOf, isExpired } from '../readiness.ts'
import { type Settings, loadSettings } from '../settings.ts'
import { type SqlDatabase, SqlStore } from './sql.ts'
import type { Snapshot, Store, TrafficCounter } from './store.ts'

export interface FleetEnv {
  FLEET: DurableObjectNamespace<Fleet>
  SNAPSHOTS: KVNamespace
}

/** The KV key of the mirrored snapshot. */
export const SNAPSHOT_KEY = 'snapshot'
/** KV accepts one write per second per key. */
export const MIRROR_SPACING_MS = 1000

export interface MirroredSnapshot extends Snapshot {
  /** When the Durable Object wrote this copy (ms). */
  mirroredAt: number
}

function adapt(storage: DurableObjectStorage): SqlDatabase {
  return {
    exec: (query) => void storage.sql.exec(query),
    run: (query, params) => void storage.sql.exec(query, ...params),
    all: (query, params = []) => storage.sql.exec(query, ...params).toArray(),
    transaction: (fn) => storage.transactionSync(fn),
    close: () => {},
  }
}

export class Fleet extends DurableObject<FleetEnv> {
  private readonly settings: Settings
  private readonly store: SqlStore
  /** Something changed since the last KV mirror: records or counters. */
  private dirty = false
  private lastMirrorAt = 0

  constructor(ctx: DurableObjectState, env: FleetEnv) {
    super(ctx, env)
    this.settings = loadSettings(env as unknown as Record<string, unknown>)
    this.store = new SqlStore(adapt(ctx.storage), this.settings, { storeTrafficCounters: true })
  }

  async apply(batch: Heartbeat[], now: number): Promise<ComponentRecord[]> {
    const records = await this.store.apply(batch, now)
    await this.changed(now)
    return records
  }

  async remove(agent: string, now: number): Promise<number> {
    const removed = await this.store.remove(agent, now)
    if (removed > 0) await this.changed(now)
    return removed
  }

  async sweep(now: number): Promise<number> {
    const expired = await this.store.sweep(now)
    if (expired > 0) await this.changed(now)
    return expired
  }

  async snapshot(now: number): Promise<Snapshot> {
    return this.store.snapshot(now)
  }

  async count(counter: TrafficCounter, label: string): Promise<void> {
    await this.store.count(counter, label)
    await this.changed(Date.now())
  }

  /** Drop what expired, mirror the fleet to KV if it changed, and wake again when needed. */
  async alarm(): Promise<void> {
    const now = Date.now()
    if ((await this.store.sweep(now)) > 0) this.dirty = true
    if (this.dirty) {
      this.dirty = false
      const mirror: MirroredSnapshot = { ...(await this.store.snapshot(now)), mirroredAt: now }
      await this.env.SNAPSHOTS.put(SNAPSHOT_KEY, JSON.stringify(mirror))
      this.lastMirrorAt = now
    }
    // Writes made while KV was written want another mirror; the earliest expiry wants a sweep.
    let due = this.dirty ? this.lastMirrorAt + MIRROR_SPACING_MS : Infinity
    for (const record of (await this.store.snapshot(now)).records) due = Math.min(due, expiryOf(record, this.settings) + 1)
    if (due !== Infinity) await this.ctx.storage.setAlarm(due)
  }

  /**
   * Ask for a mirror: at once, or a second after the last one. A write only
   * ever adds a later expiry, so the alarm set here never hides an earlier one.
   */
  private async changed(now: number): Promise<void> {
    this.dirty = true
    const due = Math.max(now, this.lastMirrorAt + MIRROR_SPACING_MS)
    const current = await this.ctx.storage.getAlarm()
    if (current === null || due < current) await this.ctx.storage.setAlarm(due)
  }
}

/**
 * The Store the Worker's app sees: writes go to the fleet's Durable Object;
 * reads come from the KV mirror (`kv`) or from the object itself (`do`).
 */
export class DurableObjectStore implements Store {
  private readonly env: FleetEnv
  private readonly settings: Settings
  private readonly fleetName: string

  constructor(env: FleetEnv, settings: Settings, fleetName = 'fleet') {
    this.env = env
    this.settings = settings
    this.fleetName = fleetName
  }

  /** A stub per call: a stub belongs to the request that made it, and this store outlives requests. */
  private get fleet(): DurableObjectStub<Fleet> {
    return this.env.FLEET.getByName(this.fleetName)
  }

  apply(batch: readonly Heartbeat[], now: number): Promise<ComponentRecord[]> {
    return this.fleet.apply([...batch], now)
  }

  remove(agent: string, now: number): Promise<number> {
    return this.fleet.remove(agent, now)
  }

  sweep(now: number): Promise<number> {
    return this.fleet.sweep(now)
  }

  async snapshot(now: number): Promise<Snapshot> {
    if (this.settings.probeSource === 'kv') {
      const mirrored = await this.env.SNAPSHOTS.get<MirroredSnapshot>(SNAPSHOT_KEY, 'json')
      // A stale copy still gives the right state: it is observed at `now`, so a
      // missed heartbeat shows at once; only newer heartbeats may be missing.
      if (mirrored) {
        const records = mirrored.records.filter((r) => !isExpired(r, now, this.settings))
        return { records, counters: mirrored.counters, revision: mirrored.revision }
      }
    }
    return this.fleet.snapshot(now)
  }

  count(counter: TrafficCounter, label: string): Promise<void> {
    return this.fleet.count(counter, label)
  }

  async close(): Promise<void> {}
}
