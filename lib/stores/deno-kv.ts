// The Deno store: Deno KV, locally a SQLite file (DATA_DIR/pulsegate.kv), on Deno
// Deploy the managed KV that every isolate of the deployment shares. Many isolates
// write at once there, so nothing is kept in memory as the truth: a change reads the
// records it touches, plans on them with a fresh FleetTable (the planning every
// driver shares), and commits with ONE atomic operation that checks the versionstamp
// of every key it read. If another request changed one of them meanwhile, the commit
// fails and the change is read, planned and tried again: no update is ever lost.
// A 200 is sent only after commit() resolves, that is once the write is durable.
//
// The caps (MAX_AGENTS, MAX_COMPONENTS_PER_AGENT, MAX_VERSIONS) are about the whole
// fleet. A heartbeat that cannot move a count (a known, live component keeping its
// version: nearly all of them) is planned on its own record. One that can (a new
// component, one back after expiry, a new version) is planned again on the whole
// fleet, read for it, and its commit checks and bumps ['shape']: two such changes
// never both squeeze under a cap. Deletions only ever loosen a cap: they leave it be.
//
// Within one isolate, changes run one at a time in call order, as on every store:
// concurrent requests see each other's writes in the order they came. Isolates race,
// and the checks settle that. The rate limit (RATE_LIMIT_PER_SECOND) is kept per
// isolate, as every rate limiter of pulsegate is kept in memory: a restart or another
// isolate only ever lets a client through.
//
// Deno KV's limits per atomic operation (Deno's ext/kv/config.rs, as on Deploy): 100
// checks, 1000 mutations, 800 KiB of keys and values, 80 KiB of keys; a key ≤ 2 KiB,
// a value ≤ 64 KiB; getMany() reads ≤ 10 keys. A batch holds ≤ 100 heartbeats, so
// apply() makes ≤ 100 checks (or ['shape'] and the records that exist, falling back
// to ['revision'] alone past 100) and ≤ 100 sets + 5 sums (three fleet counters, the
// revision, the shape); a key is < 250 bytes and a record a few KiB (message ≤ 1 KiB,
// ≤ 8 labels). remove() and sweep() may touch any number of records, so they go in
// atomic chunks of 100 records; every record is still removed and counted exactly once.
import type { FleetSummary } from '../agent-states.ts'
import { summarize } from '../fleet.ts'
import type { Heartbeat } from '../heartbeat.ts'
import { type Limits, NO_LIMITS, RateLimiter } from '../limits.ts'
import { type ComponentRecord, DEFAULT_COMPONENT, isExpired } from '../readiness.ts'
import { type Counters, type FleetCounters, type Snapshot, type Store, type TrafficCounter, recordKey } from './store.ts'
import { type Change, FleetTable, type TableSettings } from './table.ts'
import { StartError } from '../settings.ts'

export const KV_FILE = 'pulsegate.kv'

const MAX_CHECKS = 100
const MAX_GET_MANY = 10
/** Conflicting commits tried before a change gives up (and the client sees an error, not a false 200). */
const MAX_ATTEMPTS = 20
/** Reads of a snapshot tried before one that raced a write is taken as it is. */
const SNAPSHOT_ATTEMPTS = 3

const FLEET_COUNTERS: readonly (keyof FleetCounters)[] = ['received', 'missed', 'expired']
/** Summed by every change of a record: Snapshot.revision. */
const REVISION: Deno.KvKey = ['revision']
/** Summed by every change that may move a cap's count. */
const SHAPE: Deno.KvKey = ['shape']
const componentKey = (agent: string, component: string): Deno.KvKey => ['component', agent, component]

function chunks<T>(items: readonly T[], size: number): T[][] {
  const out: T[][] = []
  for (let i = 0; i < items.length; i += size) out.push(items.slice(i, i + size))
  return out
}

export class KvOpenError extends StartError {
  name = 'KvOpenError'
}

export interface DenoKvOptions {
  /** Folder of the KV file; leave it out on Deno Deploy, whose KV has no path. */
  dataDir?: string | undefined
}

export async function openDenoKvStore(options: DenoKvOptions, settings: TableSettings): Promise<DenoKvStore> {
  const path = options.dataDir === undefined ? undefined : `${options.dataDir}/${KV_FILE}`
  try {
    if (options.dataDir !== undefined) await Deno.mkdir(options.dataDir, { recursive: true })
    return new DenoKvStore(await Deno.openKv(path), settings)
  } catch (error) {
    throw new KvOpenError(`cannot open Deno KV${path ? ` at ${path}` : ''}: ${(error as Error).message}`)
  }
}

export class DenoKvStore implements Store {
  private readonly kv: Deno.Kv
  private readonly settings: TableSettings
  private readonly limits: Limits
  private readonly capped: boolean
  private readonly rate: RateLimiter | undefined
  /** The last change of this isolate's queue. */
  private queue: Promise<unknown> = Promise.resolve()

  constructor(kv: Deno.Kv, settings: TableSettings) {
    this.kv = kv
    this.settings = settings
    this.limits = settings.limits ?? NO_LIMITS
    const { maxAgents, maxComponentsPerAgent, maxVersions, ratePerSecond } = this.limits
    this.capped = maxAgents > 0 || maxComponentsPerAgent > 0 || maxVersions > 0
    this.rate = ratePerSecond > 0 ? new RateLimiter(ratePerSecond) : undefined
  }

  async apply(batch: readonly Heartbeat[], now: number): Promise<ComponentRecord[]> {
    const keys = new Map<string, Deno.KvKey>()
    for (const { agent, component = DEFAULT_COMPONENT } of batch) keys.set(recordKey(agent, component), componentKey(agent, component))
    return this.serially(async () => (await this.change([...keys.values()], (table) => table.planBatch(batch, now), now)).results)
  }

  remove(agent: string, now: number): Promise<number> {
    return this.serially(async () => {
      const keys = (await this.list(['component', agent])).map((entry) => entry.key)
      let removed = 0
      for (const part of chunks(keys, MAX_CHECKS)) {
        removed += (await this.change(part, (table) => table.planRemove(agent, now), now)).results.length
      }
      return removed
    })
  }

  sweep(now: number): Promise<number> {
    return this.serially(async () => {
      const due = (await this.list(['component'])).filter((entry) => isExpired(entry.value, now, this.settings))
      let expired = 0
      for (const part of chunks(due.map((entry) => entry.key), MAX_CHECKS)) {
        // Planned again on what is read for the commit: a record refreshed meanwhile stays.
        expired += (await this.change(part, (table) => table.planSweep(now), now)).counts.expired
      }
      return expired
    })
  }

  async snapshot(now: number): Promise<Snapshot> {
    for (let attempt = 1; ; attempt++) {
      const revision = await this.revision()
      const records = (await this.list(['component'])).map((entry) => entry.value)
      const counters: Counters = { received: 0, missed: 0, expired: 0, rejected: {}, scrapes: {} }
      for await (const { key, value } of this.kv.list<Deno.KvU64>({ prefix: ['counter'] })) {
        const [, name, label] = key as [string, string, string?]
        if (label !== undefined) counters[name as TrafficCounter][label] = Number(value.value)
        else counters[name as keyof FleetCounters] = Number(value.value)
      }
      // Records, fleet counters and revision change in one commit: an unmoved revision means the reads agree.
      if (attempt === SNAPSHOT_ATTEMPTS || (await this.revision()) === revision) {
        return { records: records.filter((r) => !isExpired(r, now, this.settings)), counters, revision }
      }
    }
  }

  async agent(agent: string, now: number): Promise<ComponentRecord[]> {
    const records = (await this.list(['component', agent])).map((entry) => entry.value)
    return records.filter((r) => !isExpired(r, now, this.settings))
  }

  /** Deno Deploy's isolates share no memory to keep an index in: the summary reads the fleet. */
  async summary(now: number): Promise<FleetSummary> {
    return summarize((await this.snapshot(now)).records, now, this.settings)
  }

  async count(counter: TrafficCounter, label: string): Promise<void> {
    // Stored, like the Durable Object's: an isolate keeps nothing. A sum never conflicts.
    await this.kv.atomic().sum(['counter', counter, label], 1n).commit()
  }

  async close(): Promise<void> {
    this.kv.close()
  }

  /** Run `fn` once every change asked for before it has finished, failed or not. */
  private serially<T>(fn: () => Promise<T>): Promise<T> {
    const run = this.queue.then(fn, fn)
    this.queue = run.catch(() => {})
    return run
  }

  private async revision(): Promise<number> {
    return Number((await this.kv.get<Deno.KvU64>(REVISION)).value?.value ?? 0n)
  }

  private async list(prefix: Deno.KvKey): Promise<Deno.KvEntry<ComponentRecord>[]> {
    return Array.fromAsync(this.kv.list<ComponentRecord>({ prefix }))
  }

  /** A fresh table over `records`; the caps only when it holds the whole fleet. */
  private table(records: Iterable<ComponentRecord>, wholeFleet: boolean): FleetTable {
    const limits = wholeFleet ? this.limits : { ...NO_LIMITS, ratePerSecond: this.limits.ratePerSecond }
    const table = new FleetTable({ ...this.settings, limits, rateLimiter: this.rate })
    table.load(records)
    return table
  }

  /** Whether a planned change may move a cap's count: a new or returning component, or a new version. */
  private movesCaps(table: FleetTable, change: Change, now: number): boolean {
    for (const [key, record] of change.upserts) {
      const old = table.records.get(key)
      if (!old || isExpired(old, now, this.settings)) return true
      if (record.version !== null && record.version !== old.version) return true
    }
    return false
  }

  /** Read, plan on what is there, and commit only if nothing read changed since: else again. */
  private async change(keys: readonly Deno.KvKey[], plan: (table: FleetTable) => Change, now: number): Promise<Change> {
    for (let attempt = 1; ; attempt++) {
      const parts = await Promise.all(chunks(keys, MAX_GET_MANY).map((part) => this.kv.getMany<ComponentRecord[]>(part)))
      let entries: Deno.KvEntryMaybe<ComponentRecord>[] = parts.flat()
      let table = this.table(entries.flatMap((entry) => (entry.value ? [entry.value] : [])), false)
      let change = plan(table)
      if (change.upserts.size === 0 && change.deletes.size === 0) return change
      // A null versionstamp checks that the key is still absent.
      let checks: Deno.AtomicCheck[] = entries
      const moves = this.capped && this.movesCaps(table, change, now)
      if (moves) {
        // Plan again on the whole fleet, read after the guards. Keys it lacks are covered by ['shape'].
        const [shape, revision] = await this.kv.getMany([SHAPE, REVISION])
        const fleet = await this.list(['component'])
        table = this.table(fleet.map((entry) => entry.value), true)
        change = plan(table) // throws LimitError past a cap
        const wanted = new Set(keys.map((key) => recordKey(String(key[1]), String(key[2]))))
        entries = fleet.filter((entry) => wanted.has(recordKey(entry.value.agent, entry.value.component)))
        checks = [shape, ...entries]
        // Past the limit, one check covers everything: no change at all since the fleet was read.
        if (checks.length > MAX_CHECKS) checks = [revision]
      }

      const op = this.kv.atomic()
      for (const { key, versionstamp } of checks) op.check({ key, versionstamp })
      for (const key of change.deletes) {
        const { agent, component } = table.records.get(key)!
        op.delete(componentKey(agent, component))
      }
      for (const record of change.upserts.values()) op.set(componentKey(record.agent, record.component), record)
      for (const name of FLEET_COUNTERS) {
        if (change.counts[name] > 0) op.sum(['counter', name], BigInt(change.counts[name]))
      }
      op.sum(REVISION, 1n)
      if (moves) op.sum(SHAPE, 1n)
      if ((await op.commit()).ok) {
        table.commit(change) // spends the rate limit's tokens; the table itself is dropped
        return change
      }
      if (attempt === MAX_ATTEMPTS) throw new Error(`Deno KV: ${MAX_ATTEMPTS} commits in a row met a concurrent change`)
      // Jittered, growing: writers that collided do not collide again in step.
      await new Promise((resolve) => setTimeout(resolve, Math.random() * Math.min(100, 2 ** attempt)))
    }
  }
}
