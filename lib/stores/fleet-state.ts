// The fleet as the engine holds it in memory: every component record, the
// indexes the caps and probes need (components per agent, agents per version,
// every agent's live state), the counters, and the revision. Only the engine
// changes it, and only with what a driver has already made durable: memory is
// never ahead of what is stored.
import type { OutboxEntry, Silence } from '../notify/notification.ts'
import type { MassSilence } from './plan-notify.ts'
import { AgentStates, type FleetSummary } from '../agent-states.ts'
import { type ComponentRecord, type ReadinessSettings, expiryOf, isExpired } from '../readiness.ts'
import type { Counters, Snapshot } from './store.ts'

export function recordKey(agent: string, component: string): string {
  // NUL cannot occur in an id, so the key is unambiguous, and an agent's keys share the prefix `${agent}\0`.
  return `${agent}\u0000${component}`
}

/** Counters are stored one way everywhere: `received`, or `rejected:<label>` for a labelled family. */
export type CounterKey =
  | 'received' | 'missed' | 'expired' | 'history_dropped' | `rejected:${string}` | `scrapes:${string}`
  /** `notifications:<result>:<sink>`, for pulsegate_notifications_total{sink,result}. */
  | `notifications:${string}`

/** The counters as readers see them; `beats` is what the records hold of `received` (see ComponentRecord.beats). */
export function countersOf(values: ReadonlyMap<string, number>, beats: number): Counters {
  const counters: Counters = { received: 0, missed: 0, expired: 0, historyDropped: 0, rejected: {}, scrapes: {}, notifications: {}, oldestPending: null }
  for (const [key, value] of values) {
    const colon = key.indexOf(':')
    if (colon < 0) {
      if (key === 'received' || key === 'missed' || key === 'expired') counters[key] = value
      else if (key === 'history_dropped') counters.historyDropped = value
      continue
    }
    const family = key.slice(0, colon)
    if (family === 'rejected' || family === 'scrapes' || family === 'notifications') counters[family][key.slice(colon + 1)] = value
  }
  counters.received += beats
  return counters
}

/** What the store keeps of a sink besides its outbox: when it last took a notification, its last error. */
export interface SinkRecord {
  lastDelivered: number | null
  lastError: string | null
  lastErrorAt: number | null
}

export class FleetState {
  readonly records = new Map<string, ComponentRecord>()
  readonly counters = new Map<string, number>()
  /** Changes with every change of a record, and never goes back, restarts included: readers key their caches on it. */
  revision = 0
  /** The sequence of the last event stored (lib/history.ts): the next one is past it. */
  lastEventSeq = 0
  /** Notifications not yet taken by their sink, by outbox key (kept small: they leave once delivered). */
  readonly outbox = new Map<string, OutboxEntry>()
  /** Silenced agents. */
  readonly silences = new Map<string, Silence>()
  /** How each sink last did (`sink:<name>` meta entries). */
  readonly sinks = new Map<string, SinkRecord>()
  /** The fleet-wide silence in force, if any. */
  mass: MassSilence | undefined
  /** The heartbeats the records hold (ComponentRecord.beats), summed. */
  private beats = 0
  private readonly settings: ReadinessSettings
  /** Components per agent, and components per reported version: the caps count these. */
  private readonly byAgent = new Map<string, Set<string>>()
  private readonly versions = new Map<string, number>()
  private readonly agentStates: AgentStates
  private live: { records: readonly ComponentRecord[]; revision: number; nextExpiry: number } | undefined

  constructor(settings: ReadinessSettings) {
    this.settings = settings
    this.agentStates = new AgentStates(settings, (agent) => this.componentsOf(agent))
  }

  get agentCount(): number {
    return this.byAgent.size
  }

  get versionCount(): number {
    return this.versions.size
  }

  hasAgent(agent: string): boolean {
    return this.byAgent.has(agent)
  }

  hasVersion(version: string): boolean {
    return this.versions.has(version)
  }

  componentCount(agent: string): number {
    return this.byAgent.get(agent)?.size ?? 0
  }

  counter(key: string): number {
    return this.counters.get(key) ?? 0
  }

  /** Set or delete one record, keeping the indexes and the live agent states in step. */
  put(key: string, record: ComponentRecord | undefined): void {
    const old = this.records.get(key)
    if (old) {
      this.agentStates.touch(old.agent)
      const components = this.byAgent.get(old.agent)!
      components.delete(old.component)
      if (components.size === 0) this.byAgent.delete(old.agent)
      if (old.version !== null) {
        const n = this.versions.get(old.version)! - 1
        if (n === 0) this.versions.delete(old.version)
        else this.versions.set(old.version, n)
      }
      this.records.delete(key)
      this.beats -= old.beats ?? 0
    }
    if (record) {
      this.agentStates.touch(record.agent)
      this.records.set(key, record)
      this.beats += record.beats ?? 0
      let components = this.byAgent.get(record.agent)
      if (!components) this.byAgent.set(record.agent, (components = new Set()))
      components.add(record.component)
      if (record.version !== null) this.versions.set(record.version, (this.versions.get(record.version) ?? 0) + 1)
    }
  }

  setCounter(key: string, value: number | undefined): void {
    if (value === undefined) this.counters.delete(key)
    else this.counters.set(key, value)
  }

  *componentsOf(agent: string): Iterable<ComponentRecord> {
    for (const component of this.byAgent.get(agent) ?? []) yield this.records.get(recordKey(agent, component))!
  }

  /** Components not yet expired at `now`: what MAX_COMPONENTS counts near the cap. */
  liveComponents(now: number): number {
    let live = 0
    for (const record of this.records.values()) if (!isExpired(record, now, this.settings)) live++
    return live
  }

  /** Agents with at least one component not yet expired at `now`: what MAX_AGENTS counts near the cap. */
  liveAgents(now: number): number {
    let live = 0
    for (const agent of this.byAgent.keys()) {
      for (const record of this.componentsOf(agent)) {
        if (!isExpired(record, now, this.settings)) {
          live++
          break
        }
      }
    }
    return live
  }

  /**
   * The records array is built again only after a change or once a record has
   * expired, so a read between changes costs nothing however large the fleet.
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
    const counters = countersOf(this.counters, this.beats)
    for (const entry of this.outbox.values()) counters.oldestPending = Math.min(counters.oldestPending ?? Infinity, entry.created)
    return { records: live.records, counters, revision: this.revision, validUntil: live.nextExpiry }
  }

  /** One agent's components not yet expired at `now` (none: an unknown agent). */
  agentRecords(agent: string, now: number): ComponentRecord[] {
    return [...this.componentsOf(agent)].filter((record) => !isExpired(record, now, this.settings))
  }

  /** The fleet's readiness at `now`, kept up to date as records change: no pass over the fleet. */
  summary(now: number): FleetSummary {
    return this.agentStates.summary(now)
  }
}
