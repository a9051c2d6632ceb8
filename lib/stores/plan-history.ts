// The history side of planning: every change of a component's state as a reader
// sees it becomes an event in the change (stored as an `event` row under its agent
// and a `feed` row in the fleet's order) and a point on the record's timeline.
// A record that passes its cap of points drops its oldest, and their events go
// with them (counted in `history_dropped`).
import {
  DEREGISTERED,
  EXPIRED,
  type HistoryEvent,
  type HistoryPoint,
  type HistorySettings,
  nextSeq,
  seenState,
  trimmed,
  withPoint,
} from '../history.ts'
import { type ComponentRecord, type ReadinessSettings, type State, deadlineOf, expiryOf, isOverdue, observe } from '../readiness.ts'

export type HistoryPlanSettings = ReadinessSettings & HistorySettings

/** What a change adds to the history, and what it drops from it. */
export interface HistoryChange {
  /** Events to store, in the order they happened. */
  events: HistoryEvent[]
  /** Events to delete: dropped off a record's timeline past its cap, or past HISTORY_DAYS. */
  droppedEvents: { agent: string; seq: number }[]
  /** How many of those fell off past the cap (HISTORY_PER_COMPONENT): counted in `history_dropped`. */
  capped: number
  /** The last sequence the change uses (or the one before it, if it records nothing). */
  lastSeq: number
}

export function emptyHistory(lastSeq: number): HistoryChange {
  return { events: [], droppedEvents: [], capped: 0, lastSeq }
}

/**
 * Record one change of observed state: an event, and (unless the component is
 * gone) a point on its timeline. Resolves with the record carrying it.
 */
export function recordEvent(
  history: HistoryChange,
  record: ComponentRecord,
  event: { at: number; from: State | null; to: State | null; reason: string | null },
  now: number,
  settings: HistoryPlanSettings,
): ComponentRecord {
  const seq = (history.lastSeq = nextSeq(history.lastSeq, now))
  history.events.push({ seq, agent: record.agent, component: record.component, ...event })
  if (event.to === null) return record
  const point: HistoryPoint = { at: event.at, state: event.to, seq }
  const { record: withIt, dropped } = withPoint(record, point, settings)
  for (const { seq: dropSeq } of dropped) history.droppedEvents.push({ agent: record.agent, seq: dropSeq })
  history.capped += dropped.length
  return withIt
}

/**
 * A deadline the record passed that its timeline does not hold yet (no sweep has
 * noticed it): the event, at the deadline. Resolves with the record that has it.
 */
export function noticeMiss(history: HistoryChange, record: ComponentRecord, now: number, settings: HistoryPlanSettings): ComponentRecord {
  if (!isOverdue(record, now, settings)) return record
  const seen = seenState(record) ?? record.state
  if (seen === 'degraded') return record
  const { reason } = observe(record, now, settings)
  return recordEvent(history, record, { at: deadlineOf(record, settings), from: seen, to: 'degraded', reason }, now, settings)
}

/**
 * Settle a record that changed at `now` (`before`: what it was, undefined for a
 * new one): a miss `before` had not recorded, then its new observed state.
 * `reason` overrides the observed reason (a declaration says `declared`).
 */
export function settle(
  history: HistoryChange,
  before: ComponentRecord | undefined,
  after: ComponentRecord,
  now: number,
  settings: HistoryPlanSettings,
  reason?: string,
): ComponentRecord {
  let record = after
  let seen: State | null = before ? seenState(before) ?? before.state : null
  if (before) {
    const noticed = noticeMiss(history, { ...before, history: record.history }, now, settings)
    if (noticed.history !== record.history) {
      record = { ...record, history: noticed.history }
      seen = 'degraded'
    }
  }
  const observed = observe(record, now, settings)
  if (observed.state === seen) return record
  return recordEvent(history, record, { at: now, from: seen, to: observed.state, reason: reason ?? observed.reason }, now, settings)
}

/** A record that leaves: a miss it had not recorded, then its event to nothing (`deregistered` at `now`, or `expired` at its expiry). */
export function leave(history: HistoryChange, record: ComponentRecord, now: number, settings: HistoryPlanSettings, why: 'deregistered' | 'expired'): void {
  const at = why === 'expired' ? expiryOf(record, settings) : now
  const noticed = noticeMiss(history, record, Math.min(now, at), settings)
  const from = seenState(noticed) ?? noticed.state
  recordEvent(history, noticed, { at, from, to: null, reason: why === 'expired' ? EXPIRED : DEREGISTERED }, now, settings)
}

/** Points past the history window: the record without them (undefined if none), their events to drop. */
export function trimRecord(history: HistoryChange, record: ComponentRecord, now: number, settings: HistoryPlanSettings): ComponentRecord | undefined {
  const { kept, dropped } = trimmed(record.history, now, settings)
  if (dropped.length === 0) return undefined
  for (const { seq } of dropped) history.droppedEvents.push({ agent: record.agent, seq })
  return { ...record, history: kept }
}

/**
 * When this record next changes with no request (ms): its deadline passing,
 * then its expiry; at once when it passed a deadline no sweep has recorded yet.
 */
export function wakeOf(record: ComponentRecord, now: number, settings: ReadinessSettings): number {
  const expiry = expiryOf(record, settings)
  if (!isOverdue(record, now, settings)) return Math.min(deadlineOf(record, settings) + 1, expiry + 1)
  if ((seenState(record) ?? record.state) !== 'degraded') return now
  return expiry + 1
}
