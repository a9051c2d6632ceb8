// The status pages' StatusSource over the store engine: states from the shared
// fleet views (lib/views.ts), uptime and daily bars from each record's timeline
// (lib/history.ts), recent events and the live transitions from the store.
import type { AgentView, ComponentView } from '../fleet.ts'
import { type AgentHistory, agentHistory, meanUptime } from '../history.ts'
import type { ReadinessSettings } from '../readiness.ts'
import { DEFAULT_TZ } from '../schedule.ts'
import type { Store } from '../stores/store.ts'
import type { FleetViews } from '../views.ts'
import { span } from './format.ts'
import type { AgentPage, AgentRow, ComponentDetail, FleetPage, FleetSummary, TransitionEvent, Uptime } from './model.ts'
import type { StatusSource } from './routes.ts'

/** Events the agent page lists. */
export const PAGE_EVENTS = 50
/** A fleet's uptime (a badge's) is worked out at most this often while nothing is stored. */
const FLEET_UPTIME_MS = 60_000

/** The component whose reason is the agent's, as describeAgent() picks it: the first in the agent's state. */
function reasonSource(agent: AgentView): ComponentView | undefined {
  if (agent.state === 'ok') return undefined
  return agent.components.find((c) => c.state === agent.state)
}

function agentRow(agent: AgentView, history: AgentHistory, silenced: ReadonlySet<string>): AgentRow {
  const source = reasonSource(agent)
  return {
    id: agent.agent,
    state: agent.state,
    reason: source?.reason ?? null,
    reasonComponent: source && agent.components.length > 1 ? source.record.component : null,
    components: agent.components.length,
    lastSeen: agent.lastSeen,
    silenced: silenced.has(agent.agent),
    uptime: history.uptime,
    bars: history.bars,
  }
}

/** How the deadline is set, in words: `every 1 min, grace 30 s` or `0 3 * * * (Europe/Berlin), grace 5 min`. */
function scheduleText(view: ComponentView): string {
  const grace = `grace ${span(view.graceSeconds * 1000)}`
  if (view.intervalSeconds === null) return `${view.record.schedule} (${view.record.tz ?? DEFAULT_TZ}), ${grace}`
  return `every ${span(view.intervalSeconds * 1000)}, ${grace}`
}

function componentDetail(view: ComponentView): ComponentDetail {
  const r = view.record
  return {
    name: r.component,
    state: view.state,
    reason: view.reason,
    lastSeen: r.lastSeen,
    deadline: view.deadline,
    schedule: scheduleText(view),
    runningSince: r.runs.at(-1)?.since ?? null,
    lastDurationMs: r.lastDurationSeconds === null ? null : r.lastDurationSeconds * 1000,
    lastExitCode: r.lastExitCode,
    message: r.message,
    pid: r.pid,
    version: r.version,
    labels: r.labels,
  }
}

const historyOf = (agent: AgentView, now: number, settings: ReadinessSettings) =>
  agentHistory(agent.components.map((c) => c.record), now, settings)

export function storeStatusSource(store: Store, views: FleetViews, settings: ReadinessSettings, clock: () => number): StatusSource {
  let fleetUptime: { revision: number; at: number; uptime: Uptime } | undefined
  const silencedAt = async (now: number) => new Set((await store.notificationStatus(now)).silences.map((s) => s.agent))

  return {
    async fleet(now: number): Promise<FleetPage> {
      const [{ view }, silenced] = await Promise.all([views.fleet(now), silencedAt(now)])
      return { state: view.state, agents: view.agents.map((a) => agentRow(a, historyOf(a, now, settings), silenced)) }
    },

    async agent(id: string, now: number): Promise<AgentPage | undefined> {
      const view = await views.agent(id, now)
      if (!view) return undefined
      const row = agentRow(view, historyOf(view, now, settings), await silencedAt(now))
      const { events } = await store.events({ agent: id, limit: PAGE_EVENTS })
      return {
        id,
        state: row.state,
        reason: row.reason,
        reasonComponent: row.reasonComponent,
        lastSeen: row.lastSeen,
        silenced: row.silenced,
        uptime: row.uptime,
        bars: row.bars,
        components: view.components.map(componentDetail),
        events: events.map(({ at, component, from, to, reason }) => ({ at, component, from, to, reason })),
      }
    },

    // The state is always now's; the mean uptime of every agent moves slowly and costs the whole fleet, so it is kept a minute.
    async summary(now: number): Promise<FleetSummary> {
      const { view, snapshot } = await views.fleet(now)
      const held = fleetUptime
      if (!held || held.revision !== snapshot.revision || now - held.at >= FLEET_UPTIME_MS || now < held.at) {
        fleetUptime = { revision: snapshot.revision, at: now, uptime: meanUptime(view.agents.map((a) => historyOf(a, now, settings).uptime)) }
      }
      return { state: view.state, uptime: fleetUptime!.uptime }
    },

    async *transitions({ after, signal }): AsyncIterable<TransitionEvent> {
      for await (const e of store.watch(after ?? undefined, signal)) {
        const agent = await views.agent(e.agent, clock())
        yield { ...e, agent_state: agent?.state ?? null }
      }
    },
  }
}
