// The Workers store. One Durable Object per fleet (or per shard) is the source
// of truth: it runs the store engine over its own SQLite (ctx.storage.sql), so
// next() is applied inside the object's input gate, and its answer leaves only
// once the write is durable (the output gate). It mirrors a snapshot of the
// fleet to KV, at most once a second (KV's limit per key), for cheap probe reads
// from every location.
import { DurableObject } from 'cloudflare:workers'
import type { Heartbeat } from '../heartbeat.ts'
import { type FleetSummary, mergeSummaries } from '../agent-states.ts'
import { summarize } from '../fleet.ts'
import { type LimitCode, LimitError } from '../limits.ts'
import { type ComponentRecord, expiryOf, isExpired } from '../readiness.ts'
import { type Settings, loadSettings } from '../settings.ts'
import { Engine } from './engine.ts'
import { type SqlDatabase, SqlDriver } from './sql.ts'
import type { Counters, Snapshot, Store, TrafficCounter } from './store.ts'

export interface FleetEnv {
  FLEET: DurableObjectNamespace<Fleet>
  SNAPSHOTS: KVNamespace
}

/** The KV key of one Fleet object's mirrored snapshot. */
export function snapshotKey(objectName: string): string {
  return `snapshot:${objectName}`
}

/** The KV key of its summary: a few bytes, so /readyz in kv mode reads no fleet. */
export function summaryKey(objectName: string): string {
  return `summary:${objectName}`
}
/** KV accepts one write per second per key. */
export const MIRROR_SPACING_MS = 1000

export type ApplyResult =
  | { records: ComponentRecord[] }
  | { refused: { code: LimitCode; message: string; retryAfter: number | undefined } }

/** Back on the Worker's side of the RPC: the records, or the LimitError again. */
function recordsOf(result: ApplyResult): ComponentRecord[] {
  if ('records' in result) return result.records
  const { code, message, retryAfter } = result.refused
  throw new LimitError(code, message, retryAfter)
}

/** A snapshot, or only its counters when the caller already holds the records of that revision. */
export type SnapshotAnswer = Snapshot | { unchanged: true; counters: Counters }

export interface MirroredSnapshot extends Snapshot {
  /** When the Durable Object wrote this copy (ms). */
  mirroredAt: number
}

/** The mirrored summary says which revision it was made from, so a reader can tell if its copy of the fleet is current. */
export type MirroredSummary = FleetSummary & { revision: number; mirroredAt: number }

/** A Durable Object's SQLite, as the SQL driver sees it. */
export function objectDatabase(storage: DurableObjectStorage): SqlDatabase {
  return {
    exec: (query) => void storage.sql.exec(query),
    run: (query, params) => void storage.sql.exec(query, ...params),
    all: (query, params = []) => storage.sql.exec(query, ...params).toArray(),
    transaction: (fn) => storage.transactionSync(fn),
    close: () => {},
  }
}

export class Fleet extends DurableObject<FleetEnv> {
  protected settings!: Settings
  private engine!: Engine
  /** Something changed since the last KV mirror: records or counters. */
  private dirty = false
  private lastMirrorAt = 0
  private readonly name: string

  constructor(ctx: DurableObjectState, env: FleetEnv) {
    super(ctx, env)
    // Objects are reached by name (getByName), so the name is known; each mirrors to its own key.
    this.name = ctx.id.name ?? ctx.id.toString()
    void ctx.blockConcurrencyWhile(async () => this.open(await this.loadSettings()))
  }

  /** The object's settings: the Worker's vars (a subclass may add to them). */
  protected async loadSettings(): Promise<Settings> {
    return loadSettings(this.env as unknown as Record<string, unknown>)
  }

  protected async open(settings: Settings): Promise<void> {
    this.settings = settings
    // No group commit of the engine's own: the output gate already coalesces the writes of concurrent requests.
    this.engine = await Engine.open(new SqlDriver(objectDatabase(this.ctx.storage)), settings, { storeTrafficCounters: true })
  }

  /** A refused batch comes back as a value: RPC carries an error's message, not its class or fields. */
  async apply(batch: Heartbeat[], now: number): Promise<ApplyResult> {
    try {
      const records = await this.engine.apply(batch, now)
      await this.changed(now)
      return { records }
    } catch (error) {
      if (!(error instanceof LimitError)) throw error
      return { refused: { code: error.code, message: error.message, retryAfter: error.retryAfter } }
    }
  }

  async remove(agent: string, now: number): Promise<number> {
    const removed = await this.engine.remove(agent, now)
    if (removed > 0) await this.changed(now)
    return removed
  }

  async sweep(now: number): Promise<number> {
    const expired = await this.engine.sweep(now)
    if (expired > 0) await this.changed(now)
    return expired
  }

  /** The fleet; only its counters when `known` is the revision of the records the caller holds. */
  async snapshot(now: number, known?: number): Promise<SnapshotAnswer> {
    const snapshot = await this.engine.snapshot(now)
    if (known === snapshot.revision) return { unchanged: true, counters: snapshot.counters }
    return snapshot
  }

  async agent(agent: string, now: number): Promise<readonly ComponentRecord[]> {
    return this.engine.agent(agent, now)
  }

  async summary(now: number): Promise<FleetSummary> {
    return this.engine.summary(now)
  }

  async count(counter: TrafficCounter, label: string): Promise<void> {
    await this.engine.count(counter, label)
    await this.changed(Date.now())
  }

  /** Drop what expired, mirror the fleet to KV if it changed, and wake again when needed. */
  async alarm(): Promise<void> {
    const now = Date.now()
    if ((await this.engine.sweep(now)) > 0) this.dirty = true
    if (this.dirty) {
      this.dirty = false
      const snapshot = await this.engine.snapshot(now)
      const mirror: MirroredSnapshot = { ...snapshot, mirroredAt: now }
      const summary: MirroredSummary = { ...(await this.engine.summary(now)), revision: snapshot.revision, mirroredAt: now }
      await Promise.all([
        this.env.SNAPSHOTS.put(snapshotKey(this.name), JSON.stringify(mirror)),
        this.env.SNAPSHOTS.put(summaryKey(this.name), JSON.stringify(summary)),
      ])
      this.lastMirrorAt = now
    }
    // Writes made while KV was written want another mirror; the earliest expiry wants a sweep.
    let due = this.dirty ? this.lastMirrorAt + MIRROR_SPACING_MS : Infinity
    for (const record of (await this.engine.snapshot(now)).records) due = Math.min(due, expiryOf(record, this.settings) + 1)
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

/** FNV-1a: a small, stable hash, so an agent always lands on the same shard. */
function shardOf(agent: string, shards: number): number {
  let hash = 0x811c9dc5
  for (let i = 0; i < agent.length; i++) hash = Math.imul(hash ^ agent.charCodeAt(i), 0x01000193)
  return (hash >>> 0) % shards
}

/**
 * The Store the Worker's app sees: writes go to the fleet's Durable Object;
 * reads come from the KV mirror (`kv`) or from the object itself (`do`).
 *
 * With SHARDS = N > 1 the fleet is spread over N objects by a hash of the agent
 * id ("fleet-0" … "fleet-N-1"), each with its own mirror; reads merge them.
 * All of one agent's heartbeats go to one object, so a batch about one agent
 * stays atomic; a batch about several agents is applied per shard.
 *
 * It keeps the last snapshot of each object it read, by revision: an object
 * whose records have not changed sends only its counters, and a KV mirror is
 * parsed again only when its summary names another revision.
 */
export class DurableObjectStore implements Store {
  private readonly namespace: DurableObjectNamespace<Fleet>
  private readonly kv: KVNamespace
  private readonly settings: Settings
  private readonly names: string[]
  private readonly held = new Map<string, Snapshot>()

  constructor(env: FleetEnv, settings: Settings, fleetName = 'fleet', namespace: DurableObjectNamespace<Fleet> = env.FLEET) {
    this.namespace = namespace
    this.kv = env.SNAPSHOTS
    this.settings = settings
    this.names = settings.shards === 1 ? [fleetName] : Array.from({ length: settings.shards }, (_, i) => `${fleetName}-${i}`)
  }

  /** A stub per call: a stub belongs to the request that made it, and this store outlives requests. */
  private object(name: string): DurableObjectStub<Fleet> {
    return this.namespace.getByName(name)
  }

  private nameFor(agent: string): string {
    return this.names[shardOf(agent, this.names.length)]!
  }

  async apply(batch: readonly Heartbeat[], now: number): Promise<ComponentRecord[]> {
    if (this.names.length === 1) return recordsOf(await this.object(this.names[0]!).apply([...batch], now))
    const byShard = new Map<number, number[]>() // shard → positions in the batch
    batch.forEach((heartbeat, i) => {
      const shard = shardOf(heartbeat.agent, this.names.length)
      byShard.set(shard, [...(byShard.get(shard) ?? []), i])
    })
    const results: ComponentRecord[] = new Array(batch.length)
    await Promise.all(
      [...byShard].map(async ([shard, positions]) => {
        const records = recordsOf(await this.object(this.names[shard]!).apply(positions.map((i) => batch[i]!), now))
        positions.forEach((position, j) => (results[position] = records[j]!))
      }),
    )
    return results
  }

  remove(agent: string, now: number): Promise<number> {
    return this.object(this.nameFor(agent)).remove(agent, now)
  }

  async sweep(now: number): Promise<number> {
    const expired = await Promise.all(this.names.map((name) => this.object(name).sweep(now)))
    return expired.reduce((a, b) => a + b, 0)
  }

  async snapshot(now: number): Promise<Snapshot> {
    const parts = await Promise.all(this.names.map((name) => this.snapshotOf(name, now)))
    if (parts.length === 1) return parts[0]!
    return mergeSnapshots(parts)
  }

  /** In `kv` mode from the agent's shard's mirror; in `do` mode from the object's live index. */
  async agent(agent: string, now: number): Promise<readonly ComponentRecord[]> {
    if (this.settings.probeSource === 'do') return this.object(this.nameFor(agent)).agent(agent, now)
    const { records } = await this.snapshotOf(this.nameFor(agent), now)
    return records.filter((r) => r.agent === agent)
  }

  async summary(now: number): Promise<FleetSummary> {
    return mergeSummaries(await Promise.all(this.names.map((name) => this.summaryOf(name, now))))
  }

  /**
   * In `kv` mode the mirrored summary, while no deadline has passed since it was
   * made (else the shard's snapshot, observed at `now`); in `do` mode the object's live index.
   */
  private async summaryOf(name: string, now: number): Promise<FleetSummary> {
    if (this.settings.probeSource === 'do') return this.object(name).summary(now)
    const mirrored = await this.kv.get<MirroredSummary>(summaryKey(name), 'json')
    // JSON has no Infinity: a summary with nothing due comes back with validUntil null.
    if (mirrored && now <= (mirrored.validUntil ?? Infinity)) return mirrored
    return summarize((await this.snapshotOf(name, now)).records, now, this.settings)
  }

  private async snapshotOf(name: string, now: number): Promise<Snapshot> {
    const held = this.held.get(name)
    // What this isolate holds is still the records of its revision until the next expiry.
    const current = held && now <= held.validUntil ? held : undefined
    if (this.settings.probeSource === 'kv') {
      const summary = await this.kv.get<MirroredSummary>(summaryKey(name), 'json')
      if (current && summary?.revision === current.revision) return current
      const mirrored = await this.kv.get<MirroredSnapshot>(snapshotKey(name), 'json')
      // A stale copy still gives the right state: it is observed at `now`, so a
      // missed heartbeat shows at once; only newer heartbeats may be missing.
      if (mirrored) {
        const records = mirrored.records.filter((r) => !isExpired(r, now, this.settings))
        const validUntil = records.reduce((until, r) => Math.min(until, expiryOf(r, this.settings)), Infinity)
        return this.hold(name, { records, counters: mirrored.counters, revision: mirrored.revision, validUntil })
      }
    }
    const answer = await this.object(name).snapshot(now, current?.revision)
    if ('unchanged' in answer) return { ...current!, counters: answer.counters }
    return this.hold(name, answer)
  }

  private hold(name: string, snapshot: Snapshot): Snapshot {
    this.held.set(name, snapshot)
    return snapshot
  }

  /** Traffic counters live in the first shard. */
  count(counter: TrafficCounter, label: string): Promise<void> {
    return this.object(this.names[0]!).count(counter, label)
  }

  async close(): Promise<void> {}
}

function mergeSnapshots(parts: Snapshot[]): Snapshot {
  const sum = (a: Record<string, number>, b: Record<string, number>) => {
    for (const [label, n] of Object.entries(b)) a[label] = (a[label] ?? 0) + n
    return a
  }
  return parts.reduce((merged, part) => ({
    records: [...merged.records, ...part.records],
    counters: {
      received: merged.counters.received + part.counters.received,
      missed: merged.counters.missed + part.counters.missed,
      expired: merged.counters.expired + part.counters.expired,
      rejected: sum({ ...merged.counters.rejected }, part.counters.rejected),
      scrapes: sum({ ...merged.counters.scrapes }, part.counters.scrapes),
    },
    // Each part's revision only grows, so their sum changes whenever any part does.
    revision: merged.revision + part.revision,
    validUntil: Math.min(merged.validUntil, part.validUntil),
  }))
}
