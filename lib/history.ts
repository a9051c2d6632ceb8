// What happened, and how reliable each thing has been. Every change of a
// component's state as a reader sees it (a heartbeat's, a missed deadline, a
// removal, an expiry, a declaration) is an event; each record keeps the points of
// its own recent timeline (when it entered each state), so uptime and the daily
// bars are worked out from the records alone, on every runtime, and the events
// themselves (with their reasons) are stored beside the records for listings.
// Pure, like lib/readiness.ts: `now` is always passed in.
import { type ComponentRecord, type ReadinessSettings, type State, aggregate, deadlineOf, observe } from './readiness.ts'

/** One change of one component's observed state. */
export interface HistoryEvent {
  /** Increasing, restarts included: when it was recorded (µs since the epoch, made unique). */
  seq: number
  /** When the change happened (ms): a missed deadline happened at the deadline, whenever it was noticed. */
  at: number
  agent: string
  component: string
  /** null: the component was new (or new again after it expired). */
  from: State | null
  /** null: the component is gone (deregistered, removed, expired). */
  to: State | null
  reason: string | null
}

export const DEREGISTERED = 'deregistered'
export const EXPIRED = 'expired'
export const DECLARED = 'declared'

/** A point of a record's timeline: from `at` (ms) on, the component was in `state`; `seq` is its event's. */
export interface HistoryPoint {
  at: number
  state: State
  seq: number
}

export interface HistorySettings {
  /** Events and timeline points older than this are dropped. */
  historyDays: number
  /** Events (and points) kept per component at most; past it the oldest go first. */
  historyPerComponent: number
}

export const DAY_MS = 86_400_000

/** The state a component was last recorded in, or null for one with no timeline yet. */
export function seenState(record: ComponentRecord | undefined): State | null {
  return record?.history.at(-1)?.state ?? null
}

/** The next event sequence: µs of `now`, or one past the last if the clock has not moved on (or went back). */
export function nextSeq(last: number, now: number): number {
  return Math.max(last + 1, now * 1000)
}

/** The sequence that comes before every event recorded at or after `time` (ms). */
export function seqBefore(time: number): number {
  return time * 1000 - 1
}

/** The key an event is stored under among its agent's, and in the fleet's feed: ordered by seq. */
export function seqKey(seq: number): string {
  return String(seq).padStart(17, '0')
}

/**
 * The record with one more point on its timeline, and the points that fell off
 * its front past the cap (their events are dropped with them).
 */
export function withPoint(record: ComponentRecord, point: HistoryPoint, settings: HistorySettings): { record: ComponentRecord; dropped: HistoryPoint[] } {
  const history = [...record.history, point]
  const dropped = history.length > settings.historyPerComponent ? history.splice(0, history.length - settings.historyPerComponent) : []
  return { record: { ...record, history }, dropped }
}

/**
 * The points of a timeline still needed at `now`: those newer than the history
 * window, and the last one before it (the state the window begins in).
 */
export function trimmed(history: readonly HistoryPoint[], now: number, settings: HistorySettings): { kept: HistoryPoint[]; dropped: HistoryPoint[] } {
  const cutoff = now - settings.historyDays * DAY_MS
  let first = 0
  while (first + 1 < history.length && history[first + 1]!.at <= cutoff) first++
  return { kept: history.slice(first), dropped: history.slice(0, first) }
}

/** A stretch of time in one state. */
export interface Stretch {
  from: number
  to: number
  state: State
}

/**
 * A component's stretches up to `now`, as a reader sees them: its recorded points,
 * then a missed deadline that is not recorded yet (the sweep has not noticed it),
 * from the deadline on.
 */
export function componentStretches(record: ComponentRecord, now: number, settings: ReadinessSettings): Stretch[] {
  const points = record.history.map(({ at, state }) => ({ at, state }))
  // A record an older pulsegate stored has no timeline: it is known from its last heartbeat on.
  if (points.length === 0) points.push({ at: record.lastSeen, state: record.state })
  const last = points.at(-1)!
  if (observe(record, now, settings).overdue && last.state !== 'degraded') {
    points.push({ at: Math.max(last.at, deadlineOf(record, settings)), state: 'degraded' })
  }
  return points
    .map((point, i) => ({ from: point.at, to: Math.min(points[i + 1]?.at ?? now, now), state: point.state }))
    .filter((stretch) => stretch.to > stretch.from)
}

/** An agent's stretches: its components' merged with Teleport's rule, each component counting from its first point. */
export function agentStretches(components: readonly Stretch[][]): Stretch[] {
  const bounds = [...new Set(components.flatMap((stretches) => stretches.flatMap((s) => [s.from, s.to])))].sort((a, b) => a - b)
  const cursor = components.map(() => 0)
  const out: Stretch[] = []
  for (let i = 0; i + 1 < bounds.length; i++) {
    const from = bounds[i]!
    const to = bounds[i + 1]!
    const states: State[] = []
    components.forEach((stretches, c) => {
      while (cursor[c]! < stretches.length && stretches[cursor[c]!]!.to <= from) cursor[c]!++
      const stretch = stretches[cursor[c]!]
      if (stretch && stretch.from <= from) states.push(stretch.state)
    })
    if (states.length === 0) continue
    const state = aggregate(states)
    const previous = out.at(-1)
    if (previous && previous.state === state && previous.to === from) previous.to = to
    else out.push({ from, to, state })
  }
  return out
}

export const UPTIME_WINDOWS = { '24h': DAY_MS, '7d': 7 * DAY_MS, '30d': 30 * DAY_MS } as const
export type UptimeWindow = keyof typeof UPTIME_WINDOWS
/** The fraction of each window up (0–1), or null when nothing in it counts. */
export type Uptime = Record<UptimeWindow, number | null>

/** Time up and down within [from, to): ok and recovering are up, degraded is down, starting does not count. */
function upAndDown(stretches: readonly Stretch[], from: number, to: number): { up: number; down: number; worst: State | null } {
  let up = 0
  let down = 0
  let worst: State | null = null
  for (const s of stretches) {
    const length = Math.min(s.to, to) - Math.max(s.from, from)
    if (length <= 0) continue
    if (s.state === 'degraded') down += length
    else if (s.state !== 'starting') up += length
    if (worst === null || SEVERITY[s.state] > SEVERITY[worst]) worst = s.state
  }
  return { up, down, worst }
}

/** Worse first: the order a day's bar takes its colour from. */
export const SEVERITY: Readonly<Record<State, number>> = { degraded: 3, recovering: 2, starting: 1, ok: 0 }

const ratio = ({ up, down }: { up: number; down: number }) => (up + down === 0 ? null : up / (up + down))

export function uptimeOf(stretches: readonly Stretch[], now: number): Uptime {
  const out = {} as Uptime
  for (const [window, length] of Object.entries(UPTIME_WINDOWS) as [UptimeWindow, number][]) {
    out[window] = ratio(upAndDown(stretches, now - length, now))
  }
  return out
}

/** One UTC day: the fraction up, and the worst state seen; null for a day with no history. */
export interface DayBar {
  day: string
  ratio: number | null
  worst: State | null
}

/** The last `days` UTC days, oldest first, the last being today. */
export function dailyBars(stretches: readonly Stretch[], now: number, days = 30): DayBar[] {
  const today = Math.floor(now / DAY_MS)
  return Array.from({ length: days }, (_, i) => {
    const start = (today - days + 1 + i) * DAY_MS
    const within = upAndDown(stretches, start, Math.min(start + DAY_MS, now))
    return { day: new Date(start).toISOString().slice(0, 10), ratio: ratio(within), worst: within.worst }
  })
}

/** The mean of the ratios that say something (a fleet's uptime: the mean of its agents'), or null. */
export function meanUptime(all: readonly Uptime[]): Uptime {
  const out = {} as Uptime
  for (const window of Object.keys(UPTIME_WINDOWS) as UptimeWindow[]) {
    const known = all.map((u) => u[window]).filter((r): r is number => r !== null)
    out[window] = known.length === 0 ? null : known.reduce((a, b) => a + b, 0) / known.length
  }
  return out
}

/** An agent's uptime and bars, and each component's uptime, from its records at `now`. */
export interface AgentHistory {
  uptime: Uptime
  bars: DayBar[]
  components: Map<string, Uptime>
}

export function agentHistory(records: readonly ComponentRecord[], now: number, settings: ReadinessSettings): AgentHistory {
  const stretches = records.map((record) => componentStretches(record, now, settings))
  const merged = agentStretches(stretches)
  return {
    uptime: uptimeOf(merged, now),
    bars: dailyBars(merged, now),
    components: new Map(records.map((record, i) => [record.component, uptimeOf(stretches[i]!, now)])),
  }
}
