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
import { AgentStates, type FleetSummary } from '../agent-states.ts'
import { type Limits, LimitError, NO_LIMITS, RateLimiter } from '../limits.ts'
import { type Counters, type FleetCounters, type Snapshot, type TrafficCounter, recordKey } from './store.ts'

/** What a table needs to know: the readiness settings and, optionally, the caps. */
export type TableSettings = ReadinessSettings & {
  limits?: Limits
  /** A rate limiter that outlives the table: for a store that plans each change on a fresh table (Deno KV). */
  rateLimiter?: RateLimiter | undefined
}

export interface Change {
  /** Records to write, by key. */
  upserts: Map<string, ComponentRecord>
  /** Keys to delete. */
  deletes: Set<string>
  /** How much each fleet counter grows. */
  counts: FleetCounters
  /** Per heartbeat of a batch, its resulting record. */
  results: ComponentRecord[]
  /** Rate-limit tokens the change spends, by record key, once committed. */
  tokens: Map<string, number>
  /** Agents, components per agent and versions the change adds: the caps count them. */
  added: { agents: Set<string>; components: Map<string, number>; versions: Set<string> }
  now: number
}

function emptyChange(now: number): Change {
  return {
    upserts: new Map(),
    deletes: new Set(),
    counts: { received: 0, missed: 0, expired: 0 },
    results: [],
    tokens: new Map(),
    added: { agents: new Set(), components: new Map(), versions: new Set() },
    now,
  }
}

/** A change to plan on top of, leaving `base` as it was if planning throws. */
function extend(base: Change, now: number): Change {
  return {
    upserts: new Map(base.upserts),
    deletes: new Set(base.deletes),
    counts: { ...base.counts },
    results: [...base.results],
    tokens: new Map(base.tokens),
    added: {
      agents: new Set(base.added.agents),
      components: new Map(base.added.components),
      versions: new Set(base.added.versions),
    },
    now: Math.max(base.now, now),
  }
}

export class FleetTable {
  readonly records = new Map<string, ComponentRecord>()
  readonly counters: Counters = { received: 0, missed: 0, expired: 0, rejected: {}, scrapes: {} }
  revision = 0
  private readonly settings: ReadinessSettings
  private readonly limits: Limits
  private readonly rate: RateLimiter | undefined
  /** Components per agent, and components per reported version: the caps count these. */
  private readonly byAgent = new Map<string, Set<string>>()
  private readonly versions = new Map<string, number>()
  private live: { records: readonly ComponentRecord[]; revision: number; nextExpiry: number } | undefined
  private readonly agentStates: AgentStates

  constructor(settings: TableSettings) {
    this.settings = settings
    this.limits = settings.limits ?? NO_LIMITS
    this.agentStates = new AgentStates(settings, (agent) => this.componentsOf(agent))
    this.rate = settings.rateLimiter ?? (this.limits.ratePerSecond > 0 ? new RateLimiter(this.limits.ratePerSecond) : undefined)
  }

  /** Load what a durable driver found at start. */
  load(records: Iterable<ComponentRecord>, counters: Partial<Counters> = {}): void {
    for (const record of records) this.put(recordKey(record.agent, record.component), record)
    Object.assign(this.counters, counters)
    this.revision++
  }

  /**
   * Plan a batch, on top of `base` when several batches share one commit;
   * throws LimitError, and plans nothing, if it would break a cap or the rate limit.
   */
  planBatch(batch: readonly Heartbeat[], now: number, base?: Change): Change {
    const change = base ? extend(base, now) : emptyChange(now)
    for (const heartbeat of batch) {
      const key = recordKey(heartbeat.agent, heartbeat.component ?? DEFAULT_COMPONENT)
      const transition = next(change.upserts.get(key) ?? this.records.get(key), heartbeat, now, this.settings)
      const { record } = transition
      this.checkCaps(record, this.records.has(key) && !transition.expired, change.upserts.has(key), change.added, now)
      change.tokens.set(key, (change.tokens.get(key) ?? 0) + 1)
      change.upserts.set(key, record)
      change.results.push(record)
      change.counts.received++
      if (transition.missed) change.counts.missed++
      if (transition.expired) change.counts.expired++
    }
    this.checkRate(change)
    return change
  }

  /** `results` holds the removed components a reader could still see. */
  planRemove(agent: string, now: number): Change {
    const change = emptyChange(now)
    for (const component of this.byAgent.get(agent) ?? []) {
      const key = recordKey(agent, component)
      const record = this.records.get(key)!
      change.deletes.add(key)
      // A component deleted while overdue still missed its deadline.
      if (isOverdue(record, now, this.settings)) change.counts.missed++
      if (isExpired(record, now, this.settings)) change.counts.expired++
      else change.results.push(record)
    }
    return change
  }

  planSweep(now: number): Change {
    const change = emptyChange(now)
    for (const [key, record] of this.records) {
      if (!isExpired(record, now, this.settings)) continue
      change.deletes.add(key)
      change.counts.expired++
      if (isOverdue(record, now, this.settings)) change.counts.missed++
    }
    return change
  }

  commit(change: Change): void {
    for (const key of change.deletes) {
      this.put(key, undefined)
      this.rate?.forget(key)
    }
    for (const [key, record] of change.upserts) this.put(key, record)
    for (const [key, n] of change.tokens) this.rate?.take(key, change.now, n)
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

  /** One agent's components not yet expired at `now` (none: an unknown agent). */
  agentRecords(agent: string, now: number): ComponentRecord[] {
    return [...this.componentsOf(agent)].filter((record) => !isExpired(record, now, this.settings))
  }

  /** The fleet's readiness at `now`, kept up to date as records change: no pass over the fleet. */
  summary(now: number): FleetSummary {
    return this.agentStates.summary(now)
  }

  private *componentsOf(agent: string): Iterable<ComponentRecord> {
    for (const component of this.byAgent.get(agent) ?? []) yield this.records.get(recordKey(agent, component))!
  }

  /** Set or delete one record, keeping the per-agent and per-version counts and states in step. */
  private put(key: string, record: ComponentRecord | undefined): void {
    const old = this.records.get(key)
    if (old) this.agentStates.touch(old.agent)
    if (record) this.agentStates.touch(record.agent)
    if (old) {
      const components = this.byAgent.get(old.agent)!
      components.delete(old.component)
      if (components.size === 0) this.byAgent.delete(old.agent)
      if (old.version !== null) {
        const n = this.versions.get(old.version)! - 1
        if (n === 0) this.versions.delete(old.version)
        else this.versions.set(old.version, n)
      }
      this.records.delete(key)
    }
    if (record) {
      this.records.set(key, record)
      let components = this.byAgent.get(record.agent)
      if (!components) this.byAgent.set(record.agent, (components = new Set()))
      components.add(record.component)
      if (record.version !== null) this.versions.set(record.version, (this.versions.get(record.version) ?? 0) + 1)
    }
  }

  /**
   * Refuse a record that would add an agent, a component or a version past its
   * cap. Only the rare record that adds one pays anything here; near a cap,
   * components that expired but were not yet swept are not counted.
   */
  private checkCaps(
    record: ComponentRecord,
    stored: boolean,
    planned: boolean,
    fresh: Change['added'],
    now: number,
  ): void {
    const { maxAgents, maxComponentsPerAgent, maxVersions } = this.limits
    if (!stored && !planned) {
      const known = this.byAgent.has(record.agent) || fresh.agents.has(record.agent)
      if (!known && maxAgents > 0 && this.byAgent.size + fresh.agents.size >= maxAgents) {
        if (this.liveAgents(now) + fresh.agents.size >= maxAgents) {
          throw new LimitError('too_many_agents', `the fleet already has ${maxAgents} agents (MAX_AGENTS)`)
        }
      }
      const components = (this.byAgent.get(record.agent)?.size ?? 0) + (fresh.components.get(record.agent) ?? 0)
      if (maxComponentsPerAgent > 0 && components >= maxComponentsPerAgent) {
        throw new LimitError(
          'too_many_components',
          `agent ${record.agent} already has ${maxComponentsPerAgent} components (MAX_COMPONENTS_PER_AGENT)`,
        )
      }
      if (!known) fresh.agents.add(record.agent)
      fresh.components.set(record.agent, (fresh.components.get(record.agent) ?? 0) + 1)
    }
    const version = record.version
    if (version !== null && !this.versions.has(version) && !fresh.versions.has(version)) {
      if (maxVersions > 0 && this.versions.size + fresh.versions.size >= maxVersions) {
        throw new LimitError('too_many_versions', `the fleet already reports ${maxVersions} versions (MAX_VERSIONS)`)
      }
      fresh.versions.add(version)
    }
  }

  private liveAgents(now: number): number {
    let live = 0
    for (const [agent, components] of this.byAgent) {
      for (const component of components) {
        if (!isExpired(this.records.get(recordKey(agent, component))!, now, this.settings)) {
          live++
          break
        }
      }
    }
    return live
  }

  private checkRate(change: Change): void {
    if (!this.rate) return
    let wait = 0
    for (const [key, n] of change.tokens) wait = Math.max(wait, this.rate.waitFor(key, change.now, n))
    if (wait > 0) {
      const seconds = Math.ceil(wait / 1000)
      throw new LimitError(
        'rate_limited',
        `at most ${this.limits.ratePerSecond} heartbeats a second per component (RATE_LIMIT_PER_SECOND); retry in ${seconds} s`,
        seconds,
      )
    }
  }
}
