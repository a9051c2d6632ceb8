// Planning: what a heartbeat batch, a deregistration or a sweep would change,
// worked out on the fleet in memory without touching it. The engine stores the
// plan through its driver and only then applies it to memory. Caps and the rate
// limit are checked here, so they hold inside the store's atomic section.
import type { Heartbeat } from '../heartbeat.ts'
import { type LimitCode, type Limits, LimitError, NO_LIMITS, RateLimiter } from '../limits.ts'
import { DECLARED, type HistorySettings } from '../history.ts'
import { type ComponentRecord, DEFAULT_COMPONENT, type Declaration, type ReadinessSettings, declare, isExpired, isOverdue, next } from '../readiness.ts'
import { type CounterKey, type FleetState, recordKey } from './fleet-state.ts'
import { type HistoryChange, type HistoryPlanSettings, emptyHistory, leave, noticeMiss, settle, trimRecord } from './plan-history.ts'
import type { OutboxEntry, Silence } from '../notify/notification.ts'
import { NO_NOTIFICATIONS, type NotifySettings, heldByMass, planReminders, wake } from './plan-notify.ts'

export interface Change {
  now: number
  /** Records to write, by key. */
  upserts: Map<string, ComponentRecord>
  /** Keys of records to delete. */
  deletes: Set<string>
  /** How much each counter grows. */
  counts: Map<CounterKey, number>
  /** The engine's own entries to set (kind `meta`). */
  meta: Map<string, unknown>
  /** Per heartbeat of a batch, its resulting record; for a removal, the components a reader could still see. */
  results: ComponentRecord[]
  /** Rate-limit tokens the change spends, by record key, once stored. */
  tokens: Map<string, number>
  /** Agents, components (per agent, and in all) and versions the change adds: the caps count them. */
  added: { agents: Set<string>; components: Map<string, number>; allComponents: number; versions: Set<string> }
  /** Heartbeats planned, so the engine can keep a commit within its driver's limit. */
  heartbeats: number
  /** The events the change records, and those it drops (lib/stores/plan-history.ts). */
  history: HistoryChange
  /** Outbox entries to write, by key; undefined deletes one (delivered, given up, taken back). */
  outbox: Map<string, OutboxEntry | undefined>
  /** Silences to set, by agent; undefined lifts one. */
  silences: Map<string, Silence | undefined>
}

/** A change that touches nothing yet; `lastSeq` is the event sequence it goes on from. */
export function emptyChange(now: number, lastSeq = 0): Change {
  return {
    now,
    history: emptyHistory(lastSeq),
    upserts: new Map(),
    deletes: new Set(),
    counts: new Map(),
    meta: new Map(),
    results: [],
    tokens: new Map(),
    added: { agents: new Set(), components: new Map(), allComponents: 0, versions: new Set() },
    heartbeats: 0,
    outbox: new Map(),
    silences: new Map(),
  }
}

/** Add what `delta` plans to `base`, in place: several batches sharing one commit. */
function merge(base: Change, delta: Change): Change {
  base.now = Math.max(base.now, delta.now)
  for (const [key, record] of delta.upserts) base.upserts.set(key, record)
  for (const [key, n] of delta.counts) addCount(base, key, n)
  for (const [key, value] of delta.meta) base.meta.set(key, value)
  for (const [key, n] of delta.tokens) base.tokens.set(key, (base.tokens.get(key) ?? 0) + n)
  base.results.push(...delta.results)
  for (const agent of delta.added.agents) base.added.agents.add(agent)
  for (const [agent, n] of delta.added.components) base.added.components.set(agent, (base.added.components.get(agent) ?? 0) + n)
  base.added.allComponents += delta.added.allComponents
  for (const version of delta.added.versions) base.added.versions.add(version)
  base.heartbeats += delta.heartbeats
  base.history.events.push(...delta.history.events)
  base.history.droppedEvents.push(...delta.history.droppedEvents)
  base.history.capped += delta.history.capped
  base.history.lastSeq = Math.max(base.history.lastSeq, delta.history.lastSeq)
  for (const [key, entry] of delta.outbox) base.outbox.set(key, entry)
  for (const [agent, silence] of delta.silences) base.silences.set(agent, silence)
  return base
}

export function addCount(change: Change, key: CounterKey, n = 1): void {
  change.counts.set(key, (change.counts.get(key) ?? 0) + n)
}

export function isEmpty(change: Change): boolean {
  const { events, droppedEvents } = change.history
  return change.upserts.size === 0 && change.deletes.size === 0 && change.counts.size === 0 && change.meta.size === 0 &&
    events.length === 0 && droppedEvents.length === 0 && change.outbox.size === 0 && change.silences.size === 0
}

/**
 * A record leaves the fleet (removed, expired): the heartbeats it held move to
 * the stored counter, so heartbeat_connections_received_total never goes back.
 */
function leaves(change: Change, record: ComponentRecord): void {
  if (record.beats) addCount(change, 'received', record.beats)
}

/** What a heartbeat or a declaration adds to the fleet, as the caps count it. */
type Adding = Pick<Heartbeat, 'agent' | 'component' | 'version'>

export type PlannerSettings = ReadinessSettings & Partial<HistorySettings> & { limits?: Limits | undefined; notify?: NotifySettings | undefined }

/** HISTORY_DAYS and HISTORY_PER_COMPONENT when a store is opened without them (tests, examples). */
export const DEFAULT_HISTORY: HistorySettings = { historyDays: 30, historyPerComponent: 100 }

type CapCode = Exclude<LimitCode, 'rate_limited'> | 'too_many_components_in_fleet'

export class Planner {
  readonly settings: HistoryPlanSettings
  readonly notify: NotifySettings & ReadinessSettings
  private readonly limits: Limits
  /** Kept in memory: a restart (or another isolate) only ever lets a client through. */
  private readonly rate: RateLimiter | undefined

  constructor(settings: PlannerSettings) {
    this.settings = { ...DEFAULT_HISTORY, ...settings }
    this.notify = { ...settings, ...(settings.notify ?? NO_NOTIFICATIONS) }
    this.limits = settings.limits ?? NO_LIMITS
    this.rate = this.limits.ratePerSecond > 0 ? new RateLimiter(this.limits.ratePerSecond) : undefined
  }

  /**
   * Plan a batch, on top of `base` when several batches share one commit (and
   * then into it); throws LimitError, leaving `base` as it was, if it would
   * break a cap or the rate limit. The batch is planned as a delta that looks
   * through `base`, so a group of n batches costs O(n), not O(n²).
   */
  batch(state: FleetState, batch: readonly Heartbeat[], now: number, base?: Change): Change {
    const prior = base ?? emptyChange(now, state.lastEventSeq)
    const delta = emptyChange(now, prior.history.lastSeq)
    for (const heartbeat of batch) {
      const key = recordKey(heartbeat.agent, heartbeat.component ?? DEFAULT_COMPONENT)
      const stored = state.records.get(key)
      const planned = delta.upserts.get(key) ?? prior.upserts.get(key)
      const transition = next(planned ?? stored, heartbeat, now, this.settings)
      let record: ComponentRecord
      if (transition.expired) {
        // Only a stored record can have expired: it leaves the history, and the heartbeat starts it anew.
        leave(delta.history, stored!, now, this.settings, 'expired')
        record = settle(delta.history, undefined, transition.record, now, this.settings)
      } else record = settle(delta.history, planned ?? stored, transition.record, now, this.settings)
      const broken = this.checkCaps(state, record, stored !== undefined && !transition.expired, planned !== undefined, prior.added, delta.added, now)
      if (broken) throw this.capError(broken, state, batch, prior, now, record.agent)
      delta.tokens.set(key, (delta.tokens.get(key) ?? 0) + 1)
      delta.upserts.set(key, record)
      delta.results.push(record)
      if (transition.missed) addCount(delta, 'missed')
      if (transition.expired) {
        // Only a stored record can have expired: one planned in this group has just beaten.
        addCount(delta, 'expired')
        leaves(delta, stored!)
      }
    }
    delta.heartbeats = batch.length
    this.checkRate(prior, delta)
    return base ? merge(base, delta) : delta
  }

  /**
   * Declare a component (or again): `results` holds its record. Adding one is
   * held to the caps; the rate limit is for heartbeats, not for configuration.
   */
  declare(state: FleetState, declaration: Declaration, now: number): Change {
    const change = emptyChange(now, state.lastEventSeq)
    const key = recordKey(declaration.agent, declaration.component)
    const stored = state.records.get(key)
    const expired = stored !== undefined && isExpired(stored, now, this.settings)
    const alive = expired ? undefined : stored
    const declared = declare(alive, declaration, now, this.settings)
    const broken = this.checkCaps(state, declared, alive !== undefined, false, emptyChange(now).added, change.added, now)
    if (broken) throw this.capError(broken, state, [declaration], change, now, declared.agent)
    if (expired) {
      addCount(change, 'expired')
      leaves(change, stored)
      if (isOverdue(stored, now, this.settings)) addCount(change, 'missed')
      leave(change.history, stored, now, this.settings, 'expired')
    }
    const record = settle(change.history, alive, declared, now, this.settings, alive ? undefined : DECLARED)
    change.upserts.set(key, record)
    change.results.push(record)
    return change
  }

  /** Remove one component; `results` holds it if a reader could still see it. */
  removeComponent(state: FleetState, agent: string, component: string, now: number): Change {
    const change = emptyChange(now, state.lastEventSeq)
    const record = state.records.get(recordKey(agent, component))
    if (record) this.drop(change, record, now)
    return change
  }

  /**
   * Deregister an agent: its components go, at most `max` of them (a driver may
   * limit one commit); `results` holds those a reader could still see.
   */
  remove(state: FleetState, agent: string, now: number, max = Infinity): Change {
    const change = emptyChange(now, state.lastEventSeq)
    for (const record of state.componentsOf(agent)) {
      if (change.deletes.size >= max) break
      this.drop(change, record, now)
    }
    return change
  }

  /** Delete a record on request; one deleted while overdue still missed its deadline, one expired still expired. */
  private drop(change: Change, record: ComponentRecord, now: number): void {
    change.deletes.add(recordKey(record.agent, record.component))
    leaves(change, record)
    if (isOverdue(record, now, this.settings)) addCount(change, 'missed')
    const expired = isExpired(record, now, this.settings)
    if (expired) addCount(change, 'expired')
    else change.results.push(record)
    leave(change.history, record, now, this.settings, expired ? 'expired' : 'deregistered')
  }

  /**
   * Drop components silent past the expiry; record the deadlines passed since the
   * last sweep, at the deadline (so history sees a miss when it happens, not when
   * the next heartbeat comes); trim timelines past HISTORY_DAYS. At most `max`
   * records are touched (a driver may limit one commit).
   */
  sweep(state: FleetState, now: number, max = Infinity): Change {
    const change = emptyChange(now, state.lastEventSeq)
    for (const [key, record] of state.records) {
      if (change.deletes.size + change.upserts.size >= max) break
      if (isExpired(record, now, this.settings)) {
        change.deletes.add(key)
        leaves(change, record)
        addCount(change, 'expired')
        if (isOverdue(record, now, this.settings)) addCount(change, 'missed')
        leave(change.history, record, now, this.settings, 'expired')
        continue
      }
      const noticed = noticeMiss(change.history, record, now, this.settings)
      const updated = trimRecord(change.history, noticed, now, this.settings) ?? noticed
      if (updated !== record) change.upserts.set(key, updated)
    }
    for (const silence of state.silences.values()) if (silence.until <= now) change.silences.set(silence.agent, undefined)
    planReminders(change, state, this.notify)
    return change
  }

  /** Silence an agent's notifications until `until` (again: the new one replaces it). */
  silence(state: FleetState, silence: Silence, now: number): Change {
    const change = emptyChange(now, state.lastEventSeq)
    change.silences.set(silence.agent, silence)
    return change
  }

  /** Lift an agent's silence: what is still down is told now. */
  unsilence(state: FleetState, agent: string, now: number): Change {
    const change = emptyChange(now, state.lastEventSeq)
    if (!state.silences.has(agent)) return change
    change.silences.set(agent, undefined)
    for (const record of state.componentsOf(agent)) {
      // One quiet in a fleet-wide silence stays quiet until that ends.
      if (record.alert?.quiet && !heldByMass(record.alert, state.mass)) {
        change.upserts.set(recordKey(record.agent, record.component), { ...record, alert: wake(change, this.notify, record, record.alert) })
      }
    }
    return change
  }

  /** Spend the rate limit's tokens of a stored change. */
  spend(change: Change): void {
    for (const key of change.deletes) this.rate?.forget(key)
    for (const [key, n] of change.tokens) this.rate?.take(key, change.now, n)
  }

  /**
   * The cap a record would break by adding an agent, a component or a version,
   * if any; else count what it adds. Only the rare record that adds one pays
   * anything here; near a cap, components that expired but were not yet swept
   * are not counted.
   */
  private checkCaps(
    state: FleetState,
    record: ComponentRecord,
    stored: boolean,
    planned: boolean,
    prior: Change['added'],
    fresh: Change['added'],
    now: number,
  ): CapCode | undefined {
    const { maxAgents, maxComponentsPerAgent, maxComponents, maxVersions } = this.limits
    const { agent, version } = record
    if (!stored && !planned) {
      const adding = prior.allComponents + fresh.allComponents
      if (maxComponents > 0 && state.records.size + adding >= maxComponents && state.liveComponents(now) + adding >= maxComponents) {
        return 'too_many_components_in_fleet'
      }
      const known = state.hasAgent(agent) || prior.agents.has(agent) || fresh.agents.has(agent)
      const newAgents = prior.agents.size + fresh.agents.size
      if (!known && maxAgents > 0 && state.agentCount + newAgents >= maxAgents && state.liveAgents(now) + newAgents >= maxAgents) {
        return 'too_many_agents'
      }
      const components = state.componentCount(agent) + (prior.components.get(agent) ?? 0) + (fresh.components.get(agent) ?? 0)
      if (maxComponentsPerAgent > 0 && components >= maxComponentsPerAgent) return 'too_many_components'
      if (!known) fresh.agents.add(agent)
      fresh.components.set(agent, (fresh.components.get(agent) ?? 0) + 1)
      fresh.allComponents++
    }
    if (version !== null && !state.hasVersion(version) && !prior.versions.has(version) && !fresh.versions.has(version)) {
      if (maxVersions > 0 && state.versionCount + prior.versions.size + fresh.versions.size >= maxVersions) return 'too_many_versions'
      fresh.versions.add(version)
    }
    return undefined
  }

  /** The refusal of a batch past a cap, with the real numbers: how many there are, how many the batch adds, the cap. */
  private capError(code: CapCode, state: FleetState, batch: readonly Adding[], prior: Change, now: number, agent: string): LimitError {
    const count = (n: number, one: string, many: string) => `${n} ${n === 1 ? one : many}`
    const fresh = (key: string) => {
      const record = state.records.get(key)
      return (!record || isExpired(record, now, this.settings)) && !prior.upserts.has(key)
    }
    const { maxAgents, maxComponentsPerAgent, maxComponents, maxVersions } = this.limits
    if (code === 'too_many_components_in_fleet') {
      const adds = new Set(batch.map((h) => recordKey(h.agent, h.component ?? DEFAULT_COMPONENT)).filter(fresh)).size
      const has = state.liveComponents(now) + prior.added.allComponents
      return new LimitError('too_many_components', `the fleet has ${count(has, 'component', 'components')} and this batch adds ${adds}; MAX_COMPONENTS is ${maxComponents}`)
    }
    if (code === 'too_many_agents') {
      const adds = new Set(batch.map((h) => h.agent).filter((a) => !state.hasAgent(a) && !prior.added.agents.has(a))).size
      const has = state.liveAgents(now) + prior.added.agents.size
      return new LimitError(code, `the fleet has ${count(has, 'agent', 'agents')} and this batch adds ${adds}; MAX_AGENTS is ${maxAgents}`)
    }
    if (code === 'too_many_components') {
      const keys = batch.filter((h) => h.agent === agent).map((h) => recordKey(agent, h.component ?? DEFAULT_COMPONENT))
      const adds = new Set(keys.filter(fresh)).size
      const has = state.agentRecords(agent, now).length + (prior.added.components.get(agent) ?? 0)
      return new LimitError(code, `agent ${agent} has ${count(has, 'component', 'components')} and this batch adds ${adds}; MAX_COMPONENTS_PER_AGENT is ${maxComponentsPerAgent}`)
    }
    const versions = batch.flatMap((h) => (h.version === undefined ? [] : [h.version]))
    const adds = new Set(versions.filter((v) => !state.hasVersion(v) && !prior.added.versions.has(v))).size
    const has = state.versionCount + prior.added.versions.size
    return new LimitError(code, `the fleet reports ${count(has, 'version', 'versions')} and this batch adds ${adds}; MAX_VERSIONS is ${maxVersions}`)
  }

  private checkRate(prior: Change, delta: Change): void {
    if (!this.rate) return
    let wait = 0
    for (const [key, n] of delta.tokens) wait = Math.max(wait, this.rate.waitFor(key, delta.now, n + (prior.tokens.get(key) ?? 0)))
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
