// What readers see: stored records observed at `now`, grouped per agent, and
// aggregated with Teleport's rule. Pure, like lib/readiness.ts.
import { type FleetSummary, summaryOf } from './agent-states.ts'
import { forEachInSlices } from './slices.ts'
import {
  type ComponentRecord,
  type ReadinessSettings,
  type State,
  aggregate,
  deadlineOf,
  expireSecondsOf,
  expiryOf,
  graceOf,
  intervalOf,
  maxRunOf,
  observe,
} from './readiness.ts'

export interface ComponentView {
  record: ComponentRecord
  state: State
  reason: string | null
  overdue: boolean
  /** When the next heartbeat is due at the latest (ms); while a run is open, when it must have finished. */
  deadline: number
  /** Null on a schedule. */
  intervalSeconds: number | null
  graceSeconds: number
  maxRunSeconds: number
  /** Silence after which it may be dropped; 0 never. */
  expireSeconds: number
  /** When it is dropped unless it reports (ms); Infinity never. */
  expires: number
}

export interface AgentView {
  agent: string
  state: State
  components: ComponentView[]
  /** The latest pid and version any component reported. */
  pid: number | null
  version: string | null
  lastSeen: number
  /** When the copy this view was made from was made (ms); absent when it comes from the source of truth. */
  copiedAt?: number
}

export interface FleetView {
  /** Agents sorted by id, components sorted by name. */
  agents: AgentView[]
  /** All agents aggregated with Teleport's rule. */
  state: State
  /** Components past their deadline right now. */
  overdue: number
  /**
   * The view holds until this instant (ms): the next deadline. Only a deadline
   * passing changes a state without a heartbeat (recovering → ok waits for one).
   */
  validUntil: number
}

export function viewComponent(record: ComponentRecord, now: number, settings: ReadinessSettings): ComponentView {
  const { state, reason, overdue } = observe(record, now, settings)
  return {
    record,
    state,
    reason,
    overdue,
    deadline: deadlineOf(record, settings),
    intervalSeconds: record.schedule === null ? intervalOf(record, settings) : null,
    graceSeconds: graceOf(record, settings),
    maxRunSeconds: maxRunOf(record, settings),
    expireSeconds: expireSecondsOf(record, settings),
    expires: expiryOf(record, settings),
  }
}

export function viewFleet(records: Iterable<ComponentRecord>, now: number, settings: ReadinessSettings): FleetView {
  const building = new FleetViewBuilder(now, settings)
  for (const record of records) building.add(record)
  return building.finish(building.agentIds().map((agent) => building.agent(agent)))
}

/**
 * The same view, built in slices with the event loop let through between them:
 * for a large fleet, where one pass would hold up every probe for a while.
 */
export async function viewFleetInSlices(records: Iterable<ComponentRecord>, now: number, settings: ReadinessSettings): Promise<FleetView> {
  const building = new FleetViewBuilder(now, settings)
  await forEachInSlices(records, (record) => building.add(record))
  const agents: AgentView[] = []
  await forEachInSlices(building.agentIds(), (agent) => agents.push(building.agent(agent)))
  return building.finish(agents)
}

/** A fleet view, one record at a time: records seen at `now`, grouped per agent. */
class FleetViewBuilder {
  private readonly grouped = new Map<string, ComponentView[]>()
  private overdue = 0
  private validUntil = Infinity
  private readonly now: number
  private readonly settings: ReadinessSettings

  constructor(now: number, settings: ReadinessSettings) {
    this.now = now
    this.settings = settings
  }

  add(record: ComponentRecord): void {
    const view = viewComponent(record, this.now, this.settings)
    if (view.overdue) this.overdue++
    else this.validUntil = Math.min(this.validUntil, view.deadline)
    const list = this.grouped.get(record.agent)
    if (list) list.push(view)
    else this.grouped.set(record.agent, [view])
  }

  agentIds(): string[] {
    return [...this.grouped.keys()].sort(compare)
  }

  agent(agent: string): AgentView {
    return viewAgent(agent, this.grouped.get(agent)!)
  }

  finish(agents: AgentView[]): FleetView {
    return { agents, state: aggregate(agents.map((a) => a.state)), overdue: this.overdue, validUntil: this.validUntil }
  }
}

/** One agent from its own records (none: undefined), without looking at the rest of the fleet. */
export function viewAgentAt(records: readonly ComponentRecord[], now: number, settings: ReadinessSettings): AgentView | undefined {
  if (records.length === 0) return undefined
  return viewAgent(records[0]!.agent, records.map((record) => viewComponent(record, now, settings)))
}

function viewAgent(agent: string, components: ComponentView[]): AgentView {
  components.sort((a, b) => compare(a.record.component, b.record.component))
  // Latest first, so pid and version come from the most recent heartbeat that stated them.
  const byRecency = [...components].sort((a, b) => b.record.lastSeen - a.record.lastSeen)
  return {
    agent,
    state: aggregate(components.map((c) => c.state)),
    components,
    pid: byRecency.find((c) => c.record.pid !== null)?.record.pid ?? null,
    version: byRecency.find((c) => c.record.version !== null)?.record.version ?? null,
    lastSeen: byRecency[0]!.record.lastSeen,
  }
}

/** Why an agent is not ok, in a few words: its worst component and that component's reason. */
export function describeAgent(agent: AgentView): string | null {
  if (agent.state === 'ok') return null
  const worst = agent.components.find((c) => c.state === agent.state)!
  const why = worst.reason ?? null
  if (agent.components.length === 1) return why
  return why ? `${worst.record.component}: ${why}` : worst.record.component
}

function compare(a: string, b: string): number {
  return a < b ? -1 : a > b ? 1 : 0
}

/** A summary from records, for stores that keep no live index (they read the whole fleet anyway). */
export function summarize(records: Iterable<ComponentRecord>, now: number, settings: ReadinessSettings): FleetSummary {
  return summaryOf(viewFleet(records, now, settings).agents.map((agent) => agent.state))
}
