// The state of every agent, kept up to date as records change, so that the
// fleet's readiness costs O(1) per probe instead of a pass over the fleet.
// Pure: the records come from a lookup, and `now` is always passed in.
//
// An agent's state changes in two ways: a write touches it, or time passes one
// of its components' deadlines (or expiries). Touched agents are refreshed on
// the next read; for time, each agent is scheduled in a min-heap at the first
// instant its state could change, and refreshed when a read passes it.
import {
  type ComponentRecord,
  type ReadinessSettings,
  type State,
  STATES,
  aggregate,
  deadlineOf,
  expiryOf,
  isExpired,
  observe,
} from './readiness.ts'

export interface FleetSummary {
  /** All agents aggregated with Teleport's rule (none: starting). */
  state: State
  agents: number
  byState: Record<State, number>
  /** When known: the summary holds until this instant (ms) unless a record changes. */
  validUntil?: number
  /** When the copy this summary comes from was made (ms); absent when it comes from the source of truth. */
  copiedAt?: number
}

export function summaryOf(states: Iterable<State>): FleetSummary {
  const byState = Object.fromEntries(STATES.map((s) => [s, 0])) as Record<State, number>
  let agents = 0
  for (const state of states) {
    byState[state]++
    agents++
  }
  return { state: stateOf(byState, agents), agents, byState }
}

/** Summaries of disjoint parts of a fleet (shards) as one. */
export function mergeSummaries(parts: readonly FleetSummary[]): FleetSummary {
  if (parts.length === 1) return parts[0]!
  const byState = Object.fromEntries(STATES.map((s) => [s, 0])) as Record<State, number>
  let agents = 0
  let validUntil: number | undefined
  let copiedAt: number | undefined
  for (const part of parts) {
    // The whole is as old as its oldest part.
    if (part.copiedAt !== undefined) copiedAt = Math.min(copiedAt ?? Infinity, part.copiedAt)
    agents += part.agents
    for (const state of STATES) byState[state] += part.byState[state]
    // The whole holds as long as every part does; a part that does not say, not past now.
    validUntil = Math.min(validUntil ?? Infinity, part.validUntil ?? -Infinity)
  }
  const merged: FleetSummary = { state: stateOf(byState, agents), agents, byState }
  if (validUntil !== undefined && validUntil !== -Infinity) merged.validUntil = validUntil
  if (copiedAt !== undefined) merged.copiedAt = copiedAt
  return merged
}

function stateOf(byState: Record<State, number>, agents: number): State {
  if (byState.degraded > 0) return 'degraded'
  if (byState.recovering > 0) return 'recovering'
  return agents > 0 && byState.ok === agents ? 'ok' : 'starting'
}

/** A binary min-heap of (time, agent). */
class Schedule {
  private readonly items: [number, string][] = []

  get size(): number {
    return this.items.length
  }

  peek(): [number, string] | undefined {
    return this.items[0]
  }

  push(item: [number, string]): void {
    const items = this.items
    items.push(item)
    for (let i = items.length - 1; i > 0; ) {
      const parent = (i - 1) >> 1
      if (items[parent]![0] <= items[i]![0]) break
      ;[items[parent], items[i]] = [items[i]!, items[parent]!]
      i = parent
    }
  }

  pop(): [number, string] | undefined {
    const items = this.items
    const top = items[0]
    const last = items.pop()
    if (items.length > 0 && last) {
      items[0] = last
      for (let i = 0; ; ) {
        const left = 2 * i + 1
        const right = left + 1
        let least = i
        if (left < items.length && items[left]![0] < items[least]![0]) least = left
        if (right < items.length && items[right]![0] < items[least]![0]) least = right
        if (least === i) break
        ;[items[least], items[i]] = [items[i]!, items[least]!]
        i = least
      }
    }
    return top
  }
}

export class AgentStates {
  private readonly settings: ReadinessSettings
  private readonly componentsOf: (agent: string) => Iterable<ComponentRecord>
  private readonly states = new Map<string, State>()
  private readonly byState = Object.fromEntries(STATES.map((s) => [s, 0])) as Record<State, number>
  private readonly touched = new Set<string>()
  /** The time of each agent's live entry in the heap, which may also hold stale ones. */
  private readonly due = new Map<string, number>()
  private readonly schedule = new Schedule()

  constructor(settings: ReadinessSettings, componentsOf: (agent: string) => Iterable<ComponentRecord>) {
    this.settings = settings
    this.componentsOf = componentsOf
  }

  /** A write changed (or removed) one of this agent's records. */
  touch(agent: string): void {
    this.touched.add(agent)
  }

  summary(now: number): FleetSummary {
    for (const agent of this.touched) this.refresh(agent, now)
    this.touched.clear()
    for (let next = this.schedule.peek(); next && next[0] < now; next = this.schedule.peek()) {
      this.schedule.pop()
      // An entry superseded by an earlier one, or of an agent since removed, is stale.
      if (this.due.get(next[1]) !== next[0]) continue
      this.due.delete(next[1])
      this.refresh(next[1], now)
    }
    // The earliest entry may be a stale one: then this is merely too early, never too late.
    const validUntil = this.schedule.peek()?.[0] ?? Infinity
    return { state: stateOf(this.byState, this.states.size), agents: this.states.size, byState: { ...this.byState }, validUntil }
  }

  private refresh(agent: string, now: number): void {
    const old = this.states.get(agent)
    if (old) this.byState[old]--
    const states: State[] = []
    let until = Infinity
    for (const record of this.componentsOf(agent)) {
      if (isExpired(record, now, this.settings)) continue
      const observed = observe(record, now, this.settings)
      states.push(observed.state)
      // What can change with time alone: a deadline passing, or the record expiring.
      if (!observed.overdue) until = Math.min(until, deadlineOf(record, this.settings))
      until = Math.min(until, expiryOf(record, this.settings))
    }
    if (states.length === 0) {
      this.states.delete(agent)
      this.due.delete(agent)
      return
    }
    const state = aggregate(states)
    this.states.set(agent, state)
    this.byState[state]++
    // One live entry per agent, at the earliest time it may change. A later time
    // needs no entry of its own: the earlier one, when it comes due, reschedules.
    const scheduled = this.due.get(agent)
    if (until !== Infinity && (scheduled === undefined || until < scheduled)) {
      this.due.set(agent, until)
      this.schedule.push([until, agent])
    }
  }
}
