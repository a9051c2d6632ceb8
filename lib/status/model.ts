// What the status page, the agent page and the badges render: small, plain data
// (times in ms since the epoch). Nothing here knows how history is stored:
// lib/status/source.ts fills it in from the store, lib/fleet.ts and lib/history.ts.
import { type DayBar, DECLARED, type HistoryEvent, DEREGISTERED, EXPIRED, type Uptime, UPTIME_WINDOWS as WINDOW_LENGTHS, type UptimeWindow } from '../history.ts'
import { MISSED_HEARTBEAT, RAN_TOO_LONG, type State } from '../readiness.ts'

export type { DayBar, Uptime, UptimeWindow }
export const UPTIME_WINDOWS = Object.keys(WINDOW_LENGTHS) as [UptimeWindow, ...UptimeWindow[]]

/** One agent on the fleet page. */
export interface AgentRow {
  id: string
  state: State
  /**
   * Why the agent is not ok: the reason of its first component (in name order)
   * in the agent's state — a message or a built-in reason; null when ok or unsaid.
   */
  reason: string | null
  /** The component `reason` belongs to when the agent has several (shown as `component: reason`). */
  reasonComponent: string | null
  /** How many components the agent has (the client script needs to know whether to name one). */
  components: number
  lastSeen: number
  /** Its notifications are held back (POST /v1/agents/:agent/silence); its state and history still change. */
  silenced: boolean
  uptime: Uptime
  /** A bar per UTC day, oldest first, the last being today. */
  bars: DayBar[]
}

/** The fleet page: every agent, sorted by id. */
export interface FleetPage {
  state: State
  agents: AgentRow[]
}

/** One component on the agent page. */
export interface ComponentDetail {
  name: string
  state: State
  /** A message or a built-in reason; null when ok or unsaid. */
  reason: string | null
  lastSeen: number
  /** When the next heartbeat is due at the latest; null when nothing is due (a running job, a declared check not yet seen). */
  deadline: number | null
  /** How the deadline is set, in words: `every 60 s` or `0 3 * * * (Europe/Berlin)`. */
  schedule: string
  /** A run started and not yet finished. */
  runningSince: number | null
  lastDurationMs: number | null
  lastExitCode: number | null
  // Details: shown only when the operator allows it (see Visibility).
  message: string | null
  pid: number | null
  version: string | null
  labels: Record<string, string>
}

/** One transition of one component, as the agent page lists it. */
export type EventItem = Pick<HistoryEvent, 'at' | 'component' | 'from' | 'to' | 'reason'>

/** The agent page. */
export interface AgentPage {
  id: string
  state: State
  reason: string | null
  reasonComponent: string | null
  lastSeen: number
  silenced: boolean
  uptime: Uptime
  bars: DayBar[]
  components: ComponentDetail[]
  /** Recent events, newest first. */
  events: EventItem[]
}

/** The fleet's state and uptime alone, for /badge.svg (a source may answer it without building every row). */
export interface FleetSummary {
  state: State
  uptime: Uptime
}

/** What the page listens to: `event: transition`, `id: <seq>`, this as `data`. */
export interface TransitionEvent extends HistoryEvent {
  /** The agent's aggregated state after the transition; null: the agent is gone. */
  agent_state: State | null
}

/**
 * Reasons pulsegate itself says. Everything else is a message an agent sent,
 * which may hold host names, paths or customer data.
 */
export const BUILTIN_REASONS: ReadonlySet<string> = new Set([MISSED_HEARTBEAT, RAN_TOO_LONG, DEREGISTERED, EXPIRED, DECLARED])

/** What the operator allows a page to show beyond states. */
export interface Visibility {
  /** Messages, labels, pids and versions; false on a public page unless the operator says so. */
  details: boolean
}

/**
 * The one rule for reasons: with details allowed, a reason is shown as it is;
 * without, only pulsegate's built-in reasons are shown and a message is
 * dropped (the state word and the component name still say what is wrong).
 */
export function visibleReason(reason: string | null, visibility: Visibility): string | null {
  if (reason === null || visibility.details) return reason
  return BUILTIN_REASONS.has(reason) ? reason : null
}

/** An agent's reason in words: `component: reason` when it has several components. */
export function reasonText(reason: string | null, component: string | null): string | null {
  if (component === null) return reason
  return reason === null ? component : `${component}: ${reason}`
}
