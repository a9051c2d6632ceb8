// The state machine of Teleport's diagnostics service (lib/srv/diag, process_state),
// applied to pushed heartbeats. Pure: no I/O and no clock — `now` (ms since the
// epoch) is always passed in, so every store and runtime gives the same answer
// for the same records, and tests can walk the clock exactly.

export const STATES = ['ok', 'recovering', 'degraded', 'starting'] as const
export type State = (typeof STATES)[number]

/** The value of Teleport's `process_state` gauge for each state. */
export const STATE_VALUE: Readonly<Record<State, number>> = {
  ok: 0,
  recovering: 1,
  degraded: 2,
  starting: 3,
}

/** What a heartbeat may report; `recovering` is never reported, only earned. */
export type ReportedStatus = 'ok' | 'degraded' | 'starting'

export const MISSED_HEARTBEAT = 'missed heartbeat'

export interface ReadinessSettings {
  /** How long a degraded component must report ok before it is ok again. */
  recoverySeconds: number
  /** The interval of a heartbeat that states none. */
  defaultIntervalSeconds: number
  /** Silence after which a component is dropped; 0 = never. */
  expireSeconds: number
}

/** The fields of a heartbeat the state machine reads (see lib/heartbeat.ts). */
export interface HeartbeatEvent {
  agent: string
  component?: string | undefined
  status: ReportedStatus
  message?: string | undefined
  version?: string | undefined
  pid?: number | undefined
  interval_seconds?: number | undefined
  grace_seconds?: number | undefined
  labels?: Record<string, string> | undefined
}

/** What a store keeps per (agent, component): the state as of the last heartbeat. */
export interface ComponentRecord {
  agent: string
  component: string
  state: State
  /** When the current stretch of `recovering` began (ms), else null. */
  recoveringSince: number | null
  /** When the last heartbeat arrived (ms). */
  lastSeen: number
  /** Belongs to the last heartbeat only. */
  message: string | null
  // Sticky: a heartbeat that omits these keeps the stored values.
  version: string | null
  pid: number | null
  labels: Record<string, string>
  intervalSeconds: number | null
  graceSeconds: number | null
  /**
   * Heartbeats this component has sent since it registered. The record keeps its
   * own share of `heartbeat_connections_received_total`, so a heartbeat writes
   * one row, not that row and a shared counter's.
   */
  beats: number
}

export const DEFAULT_COMPONENT = 'main'

export function intervalOf(record: ComponentRecord, settings: ReadinessSettings): number {
  return record.intervalSeconds ?? settings.defaultIntervalSeconds
}

/** Grace defaults to max(5 s, interval / 2): half an interval late is late, but never less than 5 s. */
export function graceOf(record: ComponentRecord, settings: ReadinessSettings): number {
  return record.graceSeconds ?? Math.max(5, intervalOf(record, settings) / 2)
}

/** The instant (ms) after which the component counts as having missed its heartbeat. */
export function deadlineOf(record: ComponentRecord, settings: ReadinessSettings): number {
  return record.lastSeen + (intervalOf(record, settings) + graceOf(record, settings)) * 1000
}

export function isOverdue(record: ComponentRecord, now: number, settings: ReadinessSettings): boolean {
  return now > deadlineOf(record, settings)
}

/** The instant (ms) after which the component is dropped, or Infinity when nothing expires. */
export function expiryOf(record: ComponentRecord, settings: ReadinessSettings): number {
  return settings.expireSeconds > 0 ? record.lastSeen + settings.expireSeconds * 1000 : Infinity
}

export function isExpired(record: ComponentRecord, now: number, settings: ReadinessSettings): boolean {
  return now > expiryOf(record, settings)
}

export interface Observation {
  state: State
  /** Why the component is not ok, when there is something to say. */
  reason: string | null
  overdue: boolean
}

/** The state a reader sees at `now`: the stored state, unless the deadline has passed. */
export function observe(record: ComponentRecord, now: number, settings: ReadinessSettings): Observation {
  if (isOverdue(record, now, settings)) {
    return { state: 'degraded', reason: MISSED_HEARTBEAT, overdue: true }
  }
  const reason = record.state === 'ok' ? null : record.message
  return { state: record.state, reason, overdue: false }
}

export interface Transition {
  record: ComponentRecord
  /** The previous record had passed its deadline: count one missed heartbeat. */
  missed: boolean
  /** The previous record had expired and this heartbeat registers the component anew. */
  expired: boolean
}

/**
 * Apply one heartbeat to the stored record (undefined for a new component).
 * The prior state is what a reader would have seen at `now`, so a late
 * heartbeat moves a component on from `degraded`, never from its stale state.
 */
export function next(
  record: ComponentRecord | undefined,
  event: HeartbeatEvent,
  now: number,
  settings: ReadinessSettings,
): Transition {
  const expired = record !== undefined && isExpired(record, now, settings)
  const missed = record !== undefined && isOverdue(record, now, settings)
  const previous = expired ? undefined : record
  const prior = previous && observe(previous, now, settings).state

  let state: State
  let recoveringSince: number | null = null
  switch (event.status) {
    case 'degraded':
      state = 'degraded'
      break
    case 'starting':
      state = 'starting'
      break
    case 'ok':
      if (prior === 'degraded') {
        state = 'recovering'
        recoveringSince = now
      } else if (prior === 'recovering') {
        const since = previous!.recoveringSince ?? now
        const recovered = now - since >= settings.recoverySeconds * 1000
        state = recovered ? 'ok' : 'recovering'
        recoveringSince = recovered ? null : since
      } else {
        state = 'ok' // new, starting or ok
      }
      break
  }

  return {
    record: {
      agent: event.agent,
      component: event.component ?? DEFAULT_COMPONENT,
      state,
      recoveringSince,
      lastSeen: now,
      message: event.message ?? null,
      version: event.version ?? previous?.version ?? null,
      pid: event.pid ?? previous?.pid ?? null,
      labels: event.labels ?? previous?.labels ?? {},
      intervalSeconds: event.interval_seconds ?? previous?.intervalSeconds ?? null,
      graceSeconds: event.grace_seconds ?? previous?.graceSeconds ?? null,
      beats: (previous?.beats ?? 0) + 1,
    },
    missed,
    expired,
  }
}

/**
 * Teleport's rule, used for components → agent and agents → fleet: any degraded
 * → degraded; else any recovering → recovering; else at least one and all ok →
 * ok; else (none at all, or some starting) → starting.
 */
export function aggregate(states: Iterable<State>): State {
  let any = false
  let recovering = false
  let starting = false
  for (const state of states) {
    any = true
    if (state === 'degraded') return 'degraded'
    if (state === 'recovering') recovering = true
    else if (state === 'starting') starting = true
  }
  if (recovering) return 'recovering'
  return any && !starting ? 'ok' : 'starting'
}
