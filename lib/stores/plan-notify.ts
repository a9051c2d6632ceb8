// The notification side of planning: which changes tell someone, planned into the
// same Change (and so the same atomic write) as the transitions themselves. A
// component that goes degraded carries an Alert in its record and gets a `down`
// in the outbox for each sink, not before NOTIFY_AFTER_SECONDS; if it recovers
// within them the `down` is taken back and nothing is told; after, an `up` is
// told. Silences and a fleet-wide silence make an alert quiet: told nothing.
import { seqKey } from '../history.ts'
import type { Alert, Notification, NotificationKind, OutboxEntry, Silence } from '../notify/notification.ts'
import { outboxKey } from '../notify/notification.ts'
import { type ComponentRecord, MISSED_HEARTBEAT, type ReadinessSettings, isOverdue } from '../readiness.ts'
import { type FleetState, recordKey } from './fleet-state.ts'
import type { Change } from './plan.ts'

export interface NotifySettings {
  /** The sinks the outbox writes for; none: no notifications, and no alerts kept. */
  sinks: readonly string[]
  notifyAfterSeconds: number
  /** 0: no reminders. */
  notifyRepeatSeconds: number
  /** A fleet-wide silence starts when this share of the agents (0: never)… */
  massShare: number
  /** …and at least this many, missed their deadlines within NOTIFY_AFTER_SECONDS (at least a minute). */
  massMinAgents: number
}

export const NO_NOTIFICATIONS: NotifySettings = { sinks: [], notifyAfterSeconds: 0, notifyRepeatSeconds: 0, massShare: 0, massMinAgents: 0 }

/** The fleet-wide silence in force, kept as the engine's `mass` meta entry. */
export interface MassSilence {
  since: number
  seq: number
  agents: number
}

type Settings = NotifySettings & ReadinessSettings

const MIN_MASS_WINDOW_MS = 60_000
const SAMPLE = 10

function entry(sink: string, notification: Notification, now: number, due: number): OutboxEntry {
  return { sink, notification, created: now, due, attempts: 0, lastError: null }
}

/** A notification of `record`'s alert: its labels and start are the alert's, so every one of them names the same outage. */
export function notificationOf(kind: NotificationKind, id: string, record: ComponentRecord, at: number, alert: Alert, change: Pick<Notification, 'from' | 'to' | 'reason'>): Notification {
  return { id, kind, at, agent: record.agent, component: record.component, labels: alert.labels, since: alert.since, ...change }
}

/** Write `notification` for every sink, due at `due`. */
function tell(change: Change, settings: Settings, notification: Notification, due: number): void {
  for (const sink of settings.sinks) change.outbox.set(outboxKey(sink, notification.id), entry(sink, notification, change.now, due))
}

/** The id of an alert's `down`: the same whether it was told at once, taken back, re-sent or told after a silence. */
export const downId = (alert: Pick<Alert, 'seq'>) => `${seqKey(alert.seq)}-down`

/** A quiet alert that a fleet-wide silence in force keeps quiet (a silence of its own agent aside). */
export const heldByMass = (alert: Alert, mass: MassSilence | undefined) => mass !== undefined && alert.reason === MISSED_HEARTBEAT

/** Take back a `down` not yet due (its component recovered within NOTIFY_AFTER_SECONDS). */
function takeBack(change: Change, settings: Settings, alert: Alert): void {
  for (const sink of settings.sinks) change.outbox.set(outboxKey(sink, downId(alert)), undefined)
}

/** The record as the change leaves it (planned, or stored), or undefined if the change deletes it. */
function current(change: Change, state: FleetState, key: string): ComponentRecord | undefined {
  if (change.deletes.has(key)) return undefined
  return change.upserts.get(key) ?? state.records.get(key)
}

export function silenced(silences: ReadonlyMap<string, Silence>, agent: string, at: number): boolean {
  const silence = silences.get(agent)
  return silence !== undefined && silence.until > at
}

/**
 * Add to `change` what its events tell: alerts set and cleared on the records it
 * writes, and the outbox entries for them. Runs once per planned change, after
 * the change is complete, so every kind of change (a batch, a declaration, a
 * removal, a sweep) notifies by the same rules.
 */
export function planNotifications(change: Change, state: FleetState, settings: Settings): void {
  if (settings.sinks.length === 0 || change.history.events.length === 0) return
  const alerts = new Map<string, Alert | null>()
  const records = new Map<string, ComponentRecord>()
  let mass = (change.meta.get('mass') as MassSilence | undefined) ?? state.mass
  let recentMisses: Set<string> | undefined

  for (const event of change.history.events) {
    const key = recordKey(event.agent, event.component)
    const record = current(change, state, key) ?? records.get(key) ?? state.records.get(key)
    if (!record) continue
    records.set(key, record)
    let alert = alerts.has(key) ? alerts.get(key)! : (state.records.get(key)?.alert ?? null)
    if (event.from === null && event.to !== null) alert = null // new, or new again after it expired: nothing to tell of before
    if (event.to === 'degraded' && alert === null) {
      const missed = event.reason === MISSED_HEARTBEAT
      if (missed && settings.massShare > 0) {
        recentMisses ??= missesSince(state, event.at - massWindow(settings))
        recentMisses.add(event.agent)
        if (!mass && recentMisses.size >= massThreshold(state, settings)) {
          mass = { since: event.at, seq: event.seq, agents: recentMisses.size }
          startMassSilence(change, state, settings, mass, recentMisses, alerts, records)
        } else if (mass && change.meta.get('mass') === mass && mass.agents < recentMisses.size) {
          // Started by this very change: the one notification counts every miss the change records.
          mass = { ...mass, agents: recentMisses.size }
          tell(change, settings, fleetNotification(mass, recentMisses, state), change.now)
        }
        if (mass && change.meta.get('mass') !== mass && !state.mass) change.meta.set('mass', mass)
      }
      const quiet = silenced(state.silences, event.agent, event.at) || (missed && mass !== undefined)
      const due = event.at + settings.notifyAfterSeconds * 1000
      alert = { seq: event.seq, since: event.at, reason: event.reason, labels: record.labels, due, remindAt: null, reminders: 0, quiet }
      if (!quiet) {
        if (settings.notifyRepeatSeconds > 0) alert.remindAt = due + settings.notifyRepeatSeconds * 1000
        tell(change, settings, notificationOf('down', downId(alert), record, event.at, alert, event), due)
      }
    } else if (event.to !== 'degraded' && alert !== null) {
      if (!alert.quiet) {
        if (event.at < alert.due) takeBack(change, settings, alert)
        else tell(change, settings, notificationOf('up', `${seqKey(event.seq)}-up`, record, event.at, alert, event), change.now)
      }
      alert = null
    }
    alerts.set(key, alert)
  }
  for (const [key, alert] of alerts) {
    const record = current(change, state, key)
    if (record && record.alert !== alert) change.upserts.set(key, { ...record, alert })
  }
}

const massWindow = (settings: Settings) => Math.max(settings.notifyAfterSeconds * 1000, MIN_MASS_WINDOW_MS)
const massThreshold = (state: FleetState, settings: Settings) => Math.max(settings.massMinAgents, Math.ceil(settings.massShare * state.agentCount))

/** Agents with a component down by a missed deadline since `since` (and still down). */
function missesSince(state: FleetState, since: number): Set<string> {
  const agents = new Set<string>()
  for (const record of state.records.values()) {
    if (record.alert && record.alert.reason === MISSED_HEARTBEAT && record.alert.since >= since) agents.add(record.agent)
  }
  return agents
}

function fleetNotification(mass: MassSilence, agents: ReadonlySet<string>, state: FleetState): Notification {
  return {
    id: `${seqKey(mass.seq)}-fleet`,
    kind: 'fleet',
    at: mass.since,
    agent: '',
    component: '',
    from: 'ok',
    to: 'degraded',
    reason: `${agents.size} of ${state.agentCount} agents missed their deadlines at once: suspect the path to pulsegate`,
    labels: {},
    since: mass.since,
    missed: { agents: agents.size, of: state.agentCount, sample: [...agents].sort().slice(0, SAMPLE) },
  }
}

/**
 * One `fleet` notification instead of a `down` per agent: the misses of the
 * window are made quiet, and their `down`s not yet due are taken back.
 */
function startMassSilence(
  change: Change,
  state: FleetState,
  settings: Settings,
  mass: MassSilence,
  agents: ReadonlySet<string>,
  alerts: Map<string, Alert | null>,
  records: Map<string, ComponentRecord>,
): void {
  tell(change, settings, fleetNotification(mass, agents, state), change.now)
  for (const agent of agents) {
    for (const stored of state.componentsOf(agent)) {
      const key = recordKey(stored.agent, stored.component)
      const alert = alerts.has(key) ? alerts.get(key)! : stored.alert
      if (!alert || alert.quiet || alert.reason !== MISSED_HEARTBEAT) continue
      if (alert.due > change.now) takeBack(change, settings, alert)
      alerts.set(key, { ...alert, quiet: true, remindAt: null })
      records.set(key, stored)
    }
  }
}

/**
 * What a sweep tells with no event: reminders that came due; and the alerts made
 * quiet by a silence that ended, or by a fleet-wide silence that ended, told now
 * if their components are still down.
 */
export function planReminders(change: Change, state: FleetState, settings: Settings): void {
  if (settings.sinks.length === 0) return
  const now = change.now
  let mass = state.mass
  if (mass && overdueAgents(state, now, settings) < massThreshold(state, settings)) {
    change.meta.set('mass', undefined)
    mass = undefined
  }
  for (const key of state.records.keys()) {
    const record = current(change, state, key)
    const alert = record?.alert
    if (!record || !alert) continue
    let next: Alert | undefined
    if (!alert.quiet && alert.remindAt !== null && alert.remindAt <= now) {
      const reminders = alert.reminders + 1
      const notification = notificationOf('reminder', `${seqKey(alert.seq)}-reminder-${reminders}`, record, alert.remindAt, alert, {
        from: 'degraded',
        to: 'degraded',
        reason: alert.reason,
      })
      tell(change, settings, notification, now)
      next = { ...alert, reminders, remindAt: now + settings.notifyRepeatSeconds * 1000 }
    } else if (alert.quiet && !silenced(state.silences, record.agent, now) && !heldByMass(alert, mass)) {
      next = wake(change, settings, record, alert)
    }
    if (next) change.upserts.set(key, { ...record, alert: next })
  }
}

/** A quiet alert told after all (its silence ended, the component still down): a `down` now. */
export function wake(change: Change, settings: Settings, record: ComponentRecord, alert: Alert): Alert {
  const remindAt = settings.notifyRepeatSeconds > 0 ? change.now + settings.notifyRepeatSeconds * 1000 : null
  const told: Alert = { ...alert, quiet: false, due: change.now, remindAt }
  tell(change, settings, notificationOf('down', downId(alert), record, alert.since, told, { from: 'ok', to: 'degraded', reason: alert.reason }), change.now)
  return told
}

function overdueAgents(state: FleetState, now: number, settings: Settings): number {
  const agents = new Set<string>()
  for (const record of state.records.values()) if (isOverdue(record, now, settings)) agents.add(record.agent)
  return agents.size
}

/** When the sweep must run for the notifications of a record: its next reminder. */
export function remindOf(record: ComponentRecord): number {
  return record.alert?.remindAt ?? Infinity
}
