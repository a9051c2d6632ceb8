// The in-memory fleet every driver builds on. A change is first planned (pure:
// nothing is touched), then a durable driver writes the plan inside its own
// atomic section, and only after that commits it here. So memory never runs
// ahead of what is stored, and a failed write leaves both unchanged.
import type { Heartbeat } from '../heartbeat.ts'
import {
  type ComponentRecord,
  DEFAULT_COMPONENT,
  type ReadinessSettings,
  expiryOf,
  isExpired,
  isOverdue,
  next,
} from '../readiness.ts'
import { type Counters, type FleetCounters, type Snapshot, type TrafficCounter, recordKey } from './store.ts'

export interface Change {
  /** Records to write, by key. */
  upserts: Map<string, ComponentRecord>
  /** Keys to delete. */
  deletes: Set<string>
  /** How much each fleet counter grows. */
  counts: FleetCounters
  /** Per heartbeat of a batch, its resulting record. */
  results: ComponentRecord[]
}

function emptyChange(): Change {
  return { upserts: new Map(), deletes: new Set(), counts: { received: 0, missed: 0, expired: 0 }, results: [] }
}

export class FleetTable {
  readonly records = new Map<string, ComponentRecord>()
  readonly counters: Counters = { received: 0, missed: 0, expired: 0, rejected: {}, scrapes: {} }
  revision = 0
  private readonly settings: ReadinessSettings
  private live: { records: readonly ComponentRecord[]; revision: number; nextExpiry: number } | undefined

  constructor(settings: ReadinessSettings) {
    this.settings = settings
  }

  /** Load what a durable driver found at start. */
  load(records: Iterable<ComponentRecord>, counters: Partial<Counters> = {}): void {
    for (const record of records) this.records.set(recordKey(record.agent, record.component), record)
    Object.assign(this.counters, counters)
    this.revision++
  }

  planBatch(batch: readonly Heartbeat[], now: number): Change {
    const change = emptyChange()
    for (const heartbeat of batch) {
      const transition = next(this.current(change, heartbeat.agent, heartbeat.component), heartbeat, now, this.settings)
      const { record } = transition
      change.upserts.set(recordKey(record.agent, record.component), record)
      change.results.push(record)
      change.counts.received++
      if (transition.missed) change.counts.missed++
      if (transition.expired) change.counts.expired++
    }
    return change
  }

  /** `results` holds the removed components a reader could still see. */
  planRemove(agent: string, now: number): Change {
    const change = emptyChange()
    for (const [key, record] of this.records) {
      if (record.agent !== agent) continue
      change.deletes.add(key)
      // A component deleted while overdue still missed its deadline.
      if (isOverdue(record, now, this.settings)) change.counts.missed++
      if (isExpired(record, now, this.settings)) change.counts.expired++
      else change.results.push(record)
    }
    return change
  }

  planSweep(now: number): Change {
    const change = emptyChange()
    for (const [key, record] of this.records) {
      if (!isExpired(record, now, this.settings)) continue
      change.deletes.add(key)
      change.counts.expired++
      if (isOverdue(record, now, this.settings)) change.counts.missed++
    }
    return change
  }

  commit(change: Change): void {
    for (const key of change.deletes) this.records.delete(key)
    for (const [key, record] of change.upserts) this.records.set(key, record)
    this.counters.received += change.counts.received
    this.counters.missed += change.counts.missed
    this.counters.expired += change.counts.expired
    if (change.upserts.size > 0 || change.deletes.size > 0) this.revision++
  }

  count(counter: TrafficCounter, label: string): void {
    const counts = this.counters[counter]
    counts[label] = (counts[label] ?? 0) + 1
  }

  /**
   * The records array is built again only after a write or once a record has
   * expired, so a read between writes costs nothing however large the fleet;
   * readers may cache what they derive from it by its identity.
   */
  snapshot(now: number): Snapshot {
    let live = this.live
    if (!live || live.revision !== this.revision || now > live.nextExpiry) {
      const records: ComponentRecord[] = []
      let nextExpiry = Infinity
      for (const record of this.records.values()) {
        if (isExpired(record, now, this.settings)) continue
        records.push(record)
        nextExpiry = Math.min(nextExpiry, expiryOf(record, this.settings))
      }
      this.live = live = { records, revision: this.revision, nextExpiry }
    }
    const { rejected, scrapes } = this.counters
    return {
      records: live.records,
      counters: { ...this.counters, rejected: { ...rejected }, scrapes: { ...scrapes } },
      revision: this.revision,
    }
  }

  private current(change: Change, agent: string, component = DEFAULT_COMPONENT): ComponentRecord | undefined {
    const key = recordKey(agent, component)
    return change.upserts.get(key) ?? this.records.get(key)
  }
}
