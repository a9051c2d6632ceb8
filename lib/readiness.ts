// The state machine of Teleport's diagnostics service (lib/srv/diag, process_state),
// applied to pushed heartbeats. Pure: no I/O and no clock — `now` (ms since the
// epoch) is always passed in, so every store and runtime gives the same answer
// for the same records, and tests can walk the clock exactly.
import type { HistoryPoint } from './history.ts'
import type { Alert } from './notify/notification.ts'
import { DEFAULT_TZ, type Schedule, defaultScheduleGrace, nextRun, scheduleDeadline } from './schedule.ts'

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
export const RAN_TOO_LONG = 'ran too long'

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
  /** Absent for a run's start and for a log line; derived from exit_code when only that is given. */
  status?: ReportedStatus | undefined
  message?: string | undefined
  version?: string | undefined
  pid?: number | undefined
  interval_seconds?: number | undefined
  grace_seconds?: number | undefined
  /** A cron expression (lib/schedule.ts) instead of an interval; with `tz`, default UTC. */
  schedule?: string | undefined
  tz?: string | undefined
  /** How long a run may take before the component is degraded (`ran too long`); default: the grace. */
  max_run_seconds?: number | undefined
  /** Silence after which this component is dropped; 0 = never; default EXPIRE_SECONDS. */
  expire_seconds?: number | undefined
  labels?: Record<string, string> | undefined
  /** A job's run: `start` marks it running (state unchanged); `finish` ends a run (and so does an exit code). */
  run?: 'start' | 'finish' | undefined
  /** Pairs a finish with its start when runs overlap (healthchecks.io's `rid`). */
  run_id?: string | undefined
  /** A finished run's exit code: 0 is success. */
  exit_code?: number | undefined
  /** Only a message: no state change, and the deadline stays where it was (healthchecks.io's /log). */
  log?: boolean | undefined
}

/** A run started and not yet finished. */
export interface OpenRun {
  id: string | null
  since: number
}

/** Runs a component may have open at once; past it, the oldest is forgotten. */
export const MAX_OPEN_RUNS = 16

/** What a store keeps per (agent, component): the state as of the last heartbeat. */
export interface ComponentRecord {
  agent: string
  component: string
  state: State
  /** When the current stretch of `recovering` began (ms), else null. */
  recoveringSince: number | null
  /** When the last heartbeat arrived (ms); for a component declared and not heard from yet, when it was declared. */
  lastSeen: number
  /** Belongs to the last heartbeat only. */
  message: string | null
  // Sticky: a heartbeat that omits these keeps the stored values.
  version: string | null
  pid: number | null
  labels: Record<string, string>
  intervalSeconds: number | null
  graceSeconds: number | null
  /** A cron schedule instead of an interval (one or the other), and its time zone. */
  schedule: string | null
  tz: string | null
  maxRunSeconds: number | null
  /** Null: EXPIRE_SECONDS (never, for a declared component); 0: never. */
  expireSeconds: number | null
  /** Declared (PUT /v1/agents/:agent/components/:component): expected, listed from then on, and kept. */
  declared: boolean
  /** Runs started and not finished, oldest first. */
  runs: OpenRun[]
  lastDurationSeconds: number | null
  lastExitCode: number | null
  /** When a run last finished with success (ms). */
  lastSuccessAt: number | null
  /** Its recent timeline, oldest first: when it entered each state (lib/history.ts). */
  history: HistoryPoint[]
  /** While it is degraded and notifications are on: what it was told of it (lib/stores/plan-notify.ts). */
  alert: Alert | null
  /**
   * Heartbeats this component has sent since it registered. The record keeps its
   * own share of `heartbeat_connections_received_total`, so a heartbeat writes
   * one row, not that row and a shared counter's.
   */
  beats: number
}

/** The fields a record stored by an older pulsegate lacks, at what they mean. */
const ADDED: Omit<ComponentRecord, 'agent' | 'component' | 'state' | 'recoveringSince' | 'lastSeen' | 'message' | 'version' | 'pid' | 'labels' | 'intervalSeconds' | 'graceSeconds'> = {
  schedule: null,
  tz: null,
  maxRunSeconds: null,
  expireSeconds: null,
  declared: false,
  runs: [],
  lastDurationSeconds: null,
  lastExitCode: null,
  lastSuccessAt: null,
  history: [],
  alert: null,
  beats: 0,
}

/** A record as an older pulsegate stored it: without the fields added since. */
export type StoredRecord = Omit<ComponentRecord, keyof typeof ADDED> & Partial<typeof ADDED>

/** A record as read back from storage: what an older pulsegate did not store reads as its default. */
export function completeRecord(stored: StoredRecord): ComponentRecord {
  for (const key of Object.keys(ADDED) as (keyof typeof ADDED)[]) if (stored[key] === undefined) return { ...ADDED, ...stored }
  return stored as ComponentRecord
}

export const DEFAULT_COMPONENT = 'main'

export function scheduleOf(record: ComponentRecord): Schedule | null {
  return record.schedule === null ? null : { expression: record.schedule, tz: record.tz ?? DEFAULT_TZ }
}

export function intervalOf(record: ComponentRecord, settings: ReadinessSettings): number {
  return record.intervalSeconds ?? settings.defaultIntervalSeconds
}

/**
 * Grace defaults to max(5 s, interval / 2): half an interval late is late, but
 * never less than 5 s; for a schedule, half the gap between its next two runs
 * (lib/schedule.ts).
 */
export function graceOf(record: ComponentRecord, settings: ReadinessSettings): number {
  if (record.graceSeconds !== null) return record.graceSeconds
  const schedule = scheduleOf(record)
  return schedule ? defaultScheduleGrace(schedule, record.lastSeen) : Math.max(5, intervalOf(record, settings) / 2)
}

/** How long a run may take: its own limit, else the grace (as healthchecks.io's start + grace). */
export function maxRunOf(record: ComponentRecord, settings: ReadinessSettings): number {
  return record.maxRunSeconds ?? graceOf(record, settings)
}

/** The latest run started and not finished. */
export function runningSince(record: ComponentRecord): number | null {
  return record.runs.at(-1)?.since ?? null
}

/**
 * The instant (ms) after which the component counts as degraded by time alone.
 * Due: the next heartbeat, interval + grace after the last one, or the first
 * scheduled run after it + grace. While a run is open, the run's own limit
 * instead: the job has started, and is due to finish within its max run time.
 */
export function deadlineOf(record: ComponentRecord, settings: ReadinessSettings): number {
  const since = runningSince(record)
  if (since !== null) return since + maxRunOf(record, settings) * 1000
  const schedule = scheduleOf(record)
  if (schedule) return scheduleDeadline(schedule, record.lastSeen, graceOf(record, settings))
  return record.lastSeen + (intervalOf(record, settings) + graceOf(record, settings)) * 1000
}

export function isOverdue(record: ComponentRecord, now: number, settings: ReadinessSettings): boolean {
  return now > deadlineOf(record, settings)
}

/** A component's period: its interval, or the gap between the two scheduled runs after its deadline. */
function periodOf(record: ComponentRecord, settings: ReadinessSettings): number {
  const schedule = scheduleOf(record)
  if (!schedule) return intervalOf(record, settings)
  const due = nextRun(schedule, record.lastSeen)
  return (nextRun(schedule, due) - due) / 1000
}

/** The silence after which a component may be dropped: its own, else EXPIRE_SECONDS, else (declared) never; 0 never. */
export function expireSecondsOf(record: ComponentRecord, settings: ReadinessSettings): number {
  return record.expireSeconds ?? (record.declared ? 0 : settings.expireSeconds)
}

/**
 * The instant (ms) after which the component is dropped, or Infinity when it
 * never is (expire_seconds 0, EXPIRE_SECONDS 0, or declared without one). Never
 * before it has been seen missed for at least a whole period past its deadline:
 * an expiry must not hide a failure before anyone could have seen it.
 */
export function expiryOf(record: ComponentRecord, settings: ReadinessSettings): number {
  const seconds = expireSecondsOf(record, settings)
  if (seconds === 0) return Infinity
  return Math.max(record.lastSeen + seconds * 1000, deadlineOf(record, settings) + periodOf(record, settings) * 1000)
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
    return { state: 'degraded', reason: runningSince(record) === null ? MISSED_HEARTBEAT : RAN_TOO_LONG, overdue: true }
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

/** A component not heard from before (or heard from last before it expired). */
function fresh(agent: string, component: string, now: number): ComponentRecord {
  return {
    agent, component, state: 'starting', recoveringSince: null, lastSeen: now, message: null,
    version: null, pid: null, labels: {}, intervalSeconds: null, graceSeconds: null, ...ADDED, runs: [], history: [],
  }
}

/** The status a heartbeat reports: its own, or its exit code's (0 is success). */
export function statusOf(event: HeartbeatEvent): ReportedStatus | undefined {
  return event.status ?? (event.exit_code === undefined ? undefined : event.exit_code === 0 ? 'ok' : 'degraded')
}

/** The state a status moves a component to from `prior` (what a reader saw at `now`), Teleport's rule. */
function stateAfter(previous: ComponentRecord | undefined, prior: State | undefined, status: ReportedStatus, now: number, settings: ReadinessSettings) {
  if (status !== 'ok') return { state: status, recoveringSince: null }
  if (prior === 'degraded') return { state: 'recovering' as const, recoveringSince: now }
  if (prior === 'recovering') {
    const since = previous!.recoveringSince ?? now
    const recovered = now - since >= settings.recoverySeconds * 1000
    return recovered ? { state: 'ok' as const, recoveringSince: null } : { state: 'recovering' as const, recoveringSince: since }
  }
  return { state: 'ok' as const, recoveringSince: null } // new, starting or ok
}

/** The open runs once a run finishes: the one with its run id, else the latest started; and how long it ran. */
function finishRun(runs: readonly OpenRun[], runId: string | undefined, now: number): { runs: OpenRun[]; seconds: number | null } {
  let i = runId === undefined ? -1 : runs.findIndex((run) => run.id === runId)
  if (i < 0) i = runs.length - 1
  if (i < 0) return { runs: [], seconds: null }
  return { runs: runs.filter((_, j) => j !== i), seconds: (now - runs[i]!.since) / 1000 }
}

/**
 * Apply one heartbeat to the stored record (undefined for a new component).
 * The prior state is what a reader would have seen at `now`, so a late
 * heartbeat moves a component on from `degraded`, never from its stale state.
 * A run's start changes no state; a log line changes nothing but the message.
 */
export function next(
  record: ComponentRecord | undefined,
  event: HeartbeatEvent,
  now: number,
  settings: ReadinessSettings,
): Transition {
  const expired = record !== undefined && isExpired(record, now, settings)
  const previous = expired ? undefined : record
  const base = previous ?? fresh(event.agent, event.component ?? DEFAULT_COMPONENT, now)
  if (event.log) {
    // The deadline stays where it was: a job that only logs is still missed.
    return { record: { ...base, message: event.message ?? null, beats: base.beats + 1 }, missed: false, expired }
  }
  const missed = record !== undefined && isOverdue(record, now, settings)
  const prior = previous && observe(previous, now, settings).state
  const status = statusOf(event)
  const finishing = event.run === 'finish' || event.exit_code !== undefined
  // A start keeps the state a reader saw, a missed deadline included; the first
  // start of a component that never reported is ok: the job is alive and within
  // its time, and a running job must not hold the fleet at starting. A run that
  // finishes with success is its own proof of health: ok at once, as
  // healthchecks.io's success ping; a job has no later heartbeat to recover with.
  const missedBefore = prior === 'degraded' && base.state !== 'degraded'
  const firstStart = event.run === 'start' && base.beats === 0
  const changed =
    firstStart ? { state: 'ok' as const, recoveringSince: null }
    : status === undefined ? { state: prior ?? base.state, recoveringSince: missedBefore ? null : base.recoveringSince }
    : finishing && status === 'ok' ? { state: 'ok' as const, recoveringSince: null }
    : stateAfter(previous, prior, status, now, settings)
  const message = event.message ?? (status !== undefined ? null : missedBefore ? MISSED_HEARTBEAT : base.message)

  let runs = base.runs
  let { lastDurationSeconds, lastExitCode, lastSuccessAt } = base
  if (event.run === 'start') runs = [...runs, { id: event.run_id ?? null, since: now }].slice(-MAX_OPEN_RUNS)
  else if (finishing) {
    const finished = finishRun(runs, event.run_id, now)
    runs = finished.runs
    lastDurationSeconds = finished.seconds
    lastExitCode = event.exit_code ?? null
    if (status === 'ok') lastSuccessAt = now
  }

  // An interval and a schedule exclude each other: stating one drops the other.
  const schedule = event.interval_seconds !== undefined ? null : event.schedule ?? base.schedule
  const tz = event.interval_seconds !== undefined ? null : event.tz ?? (event.schedule !== undefined ? null : base.tz)
  const intervalSeconds = event.schedule !== undefined ? null : event.interval_seconds ?? base.intervalSeconds

  return {
    record: {
      ...base,
      ...changed,
      lastSeen: now,
      message,
      version: event.version ?? base.version,
      pid: event.pid ?? base.pid,
      labels: event.labels ?? base.labels,
      intervalSeconds,
      graceSeconds: event.grace_seconds ?? base.graceSeconds,
      schedule,
      tz,
      maxRunSeconds: event.max_run_seconds ?? base.maxRunSeconds,
      expireSeconds: event.expire_seconds ?? base.expireSeconds,
      runs,
      lastDurationSeconds,
      lastExitCode,
      lastSuccessAt,
      beats: base.beats + 1,
    },
    missed,
    expired,
  }
}

/** What a declaration states: what is expected of a component, before or whatever it reports. */
export interface Declaration {
  agent: string
  component: string
  schedule?: string | undefined
  tz?: string | undefined
  interval_seconds?: number | undefined
  grace_seconds?: number | undefined
  max_run_seconds?: number | undefined
  /** Default for a declared component: never. */
  expire_seconds?: number | undefined
  labels?: Record<string, string> | undefined
}

/**
 * Declare a component, or declare it again: what the declaration states replaces
 * what was expected of it (a field left out is the default again). A component
 * declared before it is heard from is listed from now on, `starting`, and due
 * from now: one that never reports is missed like one that stopped.
 */
export function declare(record: ComponentRecord | undefined, declaration: Declaration, now: number, settings: ReadinessSettings): ComponentRecord {
  const base = record && !isExpired(record, now, settings) ? record : fresh(declaration.agent, declaration.component, now)
  return {
    ...base,
    declared: true,
    schedule: declaration.schedule ?? null,
    tz: declaration.schedule === undefined ? null : declaration.tz ?? null,
    intervalSeconds: declaration.schedule === undefined ? declaration.interval_seconds ?? null : null,
    graceSeconds: declaration.grace_seconds ?? null,
    maxRunSeconds: declaration.max_run_seconds ?? null,
    expireSeconds: declaration.expire_seconds ?? null,
    labels: declaration.labels ?? base.labels,
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
