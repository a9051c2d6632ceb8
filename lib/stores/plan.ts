// Planning: what a heartbeat batch, a deregistration or a sweep would change,
// worked out on the fleet in memory without touching it. The engine stores the
// plan through its driver and only then applies it to memory. Caps and the rate
// limit are checked here, so they hold inside the store's atomic section.
import type { Heartbeat } from '../heartbeat.ts'
import { type Limits, LimitError, NO_LIMITS, RateLimiter } from '../limits.ts'
import { type ComponentRecord, DEFAULT_COMPONENT, type ReadinessSettings, isExpired, isOverdue, next } from '../readiness.ts'
import { type CounterKey, type FleetState, recordKey } from './fleet-state.ts'

export interface Change {
  now: number
  /** Records to write, by key. */
  upserts: Map<string, ComponentRecord>
  /** Keys of records to delete. */
  deletes: Set<string>
  /** How much each counter grows. */
  counts: Map<CounterKey, number>
  /** Per heartbeat of a batch, its resulting record; for a removal, the components a reader could still see. */
  results: ComponentRecord[]
  /** Rate-limit tokens the change spends, by record key, once stored. */
  tokens: Map<string, number>
  /** Agents, components per agent and versions the change adds: the caps count them. */
  added: { agents: Set<string>; components: Map<string, number>; versions: Set<string> }
  /** Heartbeats planned, so the engine can keep a commit within its driver's limit. */
  heartbeats: number
}

export function emptyChange(now: number): Change {
  return {
    now,
    upserts: new Map(),
    deletes: new Set(),
    counts: new Map(),
    results: [],
    tokens: new Map(),
    added: { agents: new Set(), components: new Map(), versions: new Set() },
    heartbeats: 0,
  }
}

/** A change to plan on top of, leaving `base` as it was if planning throws. */
function extend(base: Change, now: number): Change {
  return {
    now: Math.max(base.now, now),
    upserts: new Map(base.upserts),
    deletes: new Set(base.deletes),
    counts: new Map(base.counts),
    results: [...base.results],
    tokens: new Map(base.tokens),
    added: {
      agents: new Set(base.added.agents),
      components: new Map(base.added.components),
      versions: new Set(base.added.versions),
    },
    heartbeats: base.heartbeats,
  }
}

export function addCount(change: Change, key: CounterKey, n = 1): void {
  change.counts.set(key, (change.counts.get(key) ?? 0) + n)
}

export function isEmpty(change: Change): boolean {
  return change.upserts.size === 0 && change.deletes.size === 0 && change.counts.size === 0
}

export type PlannerSettings = ReadinessSettings & { limits?: Limits | undefined }

export class Planner {
  readonly settings: ReadinessSettings
  private readonly limits: Limits
  /** Kept in memory: a restart (or another isolate) only ever lets a client through. */
  private readonly rate: RateLimiter | undefined

  constructor(settings: PlannerSettings) {
    this.settings = settings
    this.limits = settings.limits ?? NO_LIMITS
    this.rate = this.limits.ratePerSecond > 0 ? new RateLimiter(this.limits.ratePerSecond) : undefined
  }

  /**
   * Plan a batch, on top of `base` when several batches share one commit;
   * throws LimitError, and plans nothing, if it would break a cap or the rate limit.
   */
  batch(state: FleetState, batch: readonly Heartbeat[], now: number, base?: Change): Change {
    const change = base ? extend(base, now) : emptyChange(now)
    for (const heartbeat of batch) {
      const key = recordKey(heartbeat.agent, heartbeat.component ?? DEFAULT_COMPONENT)
      const stored = state.records.get(key)
      const transition = next(change.upserts.get(key) ?? stored, heartbeat, now, this.settings)
      const { record } = transition
      this.checkCaps(state, record, stored !== undefined && !transition.expired, change.upserts.has(key), change.added, now)
      change.tokens.set(key, (change.tokens.get(key) ?? 0) + 1)
      change.upserts.set(key, record)
      change.results.push(record)
      addCount(change, 'received')
      if (transition.missed) addCount(change, 'missed')
      if (transition.expired) addCount(change, 'expired')
    }
    change.heartbeats += batch.length
    this.checkRate(change)
    return change
  }

  /**
   * Deregister an agent: its components go, at most `max` of them (a driver may
   * limit one commit); `results` holds those a reader could still see.
   */
  remove(state: FleetState, agent: string, now: number, max = Infinity): Change {
    const change = emptyChange(now)
    for (const record of state.componentsOf(agent)) {
      if (change.deletes.size >= max) break
      change.deletes.add(recordKey(record.agent, record.component))
      // A component deleted while overdue still missed its deadline.
      if (isOverdue(record, now, this.settings)) addCount(change, 'missed')
      if (isExpired(record, now, this.settings)) addCount(change, 'expired')
      else change.results.push(record)
    }
    return change
  }

  /** Drop components silent past the expiry, at most `max` of them (a driver may limit one commit). */
  sweep(state: FleetState, now: number, max = Infinity): Change {
    const change = emptyChange(now)
    for (const [key, record] of state.records) {
      if (change.deletes.size >= max) break
      if (!isExpired(record, now, this.settings)) continue
      change.deletes.add(key)
      addCount(change, 'expired')
      if (isOverdue(record, now, this.settings)) addCount(change, 'missed')
    }
    return change
  }

  /** Spend the rate limit's tokens of a stored change. */
  spend(change: Change): void {
    for (const key of change.deletes) this.rate?.forget(key)
    for (const [key, n] of change.tokens) this.rate?.take(key, change.now, n)
  }

  /**
   * Refuse a record that would add an agent, a component or a version past its
   * cap. Only the rare record that adds one pays anything here; near a cap,
   * components that expired but were not yet swept are not counted.
   */
  private checkCaps(
    state: FleetState,
    record: ComponentRecord,
    stored: boolean,
    planned: boolean,
    fresh: Change['added'],
    now: number,
  ): void {
    const { maxAgents, maxComponentsPerAgent, maxVersions } = this.limits
    if (!stored && !planned) {
      const known = state.hasAgent(record.agent) || fresh.agents.has(record.agent)
      if (!known && maxAgents > 0 && state.agentCount + fresh.agents.size >= maxAgents) {
        if (state.liveAgents(now) + fresh.agents.size >= maxAgents) {
          throw new LimitError('too_many_agents', `the fleet already has ${maxAgents} agents (MAX_AGENTS)`)
        }
      }
      const components = state.componentCount(record.agent) + (fresh.components.get(record.agent) ?? 0)
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
    if (version !== null && !state.hasVersion(version) && !fresh.versions.has(version)) {
      if (maxVersions > 0 && state.versionCount + fresh.versions.size >= maxVersions) {
        throw new LimitError('too_many_versions', `the fleet already reports ${maxVersions} versions (MAX_VERSIONS)`)
      }
      fresh.versions.add(version)
    }
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
