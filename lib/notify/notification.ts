// What pulsegate tells someone, and where: a notification is planned by the store
// engine in the same atomic write as the transition that causes it, kept in the
// outbox (one entry per notification and sink) until that sink took it, and
// delivered at least once, with the same id every time (the Pulsegate-Delivery
// header), so a receiver can drop a duplicate.
import type { HistoryEvent } from '../history.ts'

/**
 * down: a component has been degraded for NOTIFY_AFTER_SECONDS; up: one that was
 * told down is not degraded any more (or is gone); reminder: still down after
 * NOTIFY_REPEAT_SECONDS; fleet: a large share of the fleet missed its deadline at
 * once, told once instead of one `down` per agent (suspect the path to pulsegate).
 */
export type NotificationKind = 'down' | 'up' | 'reminder' | 'fleet'

/** What happened to what, as in the history (`at`: the transition, or the reminder's due time), and what to tell of it. */
export interface Notification extends Omit<HistoryEvent, 'seq'> {
  /** Stable across retries and restarts: `<seq>-<kind>`, the Pulsegate-Delivery header. */
  id: string
  kind: NotificationKind
  /** The component's labels (what Alertmanager routes on). */
  labels: Record<string, string>
  /** When the component went down (ms): the start of the alert, for down, up and reminder alike. */
  since: number
  /** kind `fleet` only: how many agents missed their deadline within the window, of how many, and the first few. */
  missed?: { agents: number; of: number; sample: string[] }
}

export type SinkKind = 'webhook' | 'alertmanager'

/** A sink's name, stable across restarts while its URL is: `webhook:https://…`, `alertmanager:http://…`. */
export function sinkName(kind: SinkKind, url: string): string {
  return `${kind}:${url}`
}

/** A delivery that did not take; `retry: false` for an answer that will not change (a 4xx but 408 and 429). */
export class DeliveryError extends Error {
  name = 'DeliveryError'
  readonly retry: boolean
  constructor(message: string, retry = true) {
    super(message)
    this.retry = retry
  }
}

/**
 * What a component that is down carries in its record, from the transition to
 * degraded until it leaves it: when it is due to be told (NOTIFY_AFTER_SECONDS
 * after), and when to remind. `quiet`: told nothing (its agent was silenced, or
 * it went down in a fleet-wide silence), and so nothing is told when it recovers.
 */
export interface Alert {
  /** The seq of the event that took it down: the notification's id. */
  seq: number
  since: number
  reason: string | null
  /** The component's labels when it went down: every notification of the alert carries these, so Alertmanager sees one alert. */
  labels: Record<string, string>
  due: number
  /** The next reminder (ms), or null: none (NOTIFY_REPEAT_SECONDS=0, or quiet). */
  remindAt: number | null
  reminders: number
  quiet: boolean
}

/** One notification waiting for one sink: kept until the sink took it, or it was given up. */
export interface OutboxEntry {
  sink: string
  notification: Notification
  /** When it was written (ms). */
  created: number
  /** Not before (ms): NOTIFY_AFTER_SECONDS for a down, the next retry after a failure. */
  due: number
  attempts: number
  lastError: string | null
}

/** An agent whose components notify nothing until `until` (their states and history still change). */
export interface Silence {
  agent: string
  until: number
  reason: string | null
  /** When it was set (ms). */
  at: number
}

/** How each sink is doing, for GET /v1/notifications. */
export interface SinkStatus {
  sink: string
  pending: number
  /** When the oldest pending notification was written (ms), or null. */
  oldestPending: number | null
  lastDelivered: number | null
  lastError: string | null
  lastErrorAt: number | null
}

/** The outcome of one delivery attempt, as the courier reports it to the store. */
export type DeliveryResult =
  | { key: string; outcome: 'delivered' }
  | { key: string; outcome: 'failed'; error: string; retryAt: number }
  | { key: string; outcome: 'dropped'; error: string }

/** The outbox key of a notification for a sink: a sink's entries list in the order they happened. */
export function outboxKey(sink: string, id: string): string {
  return `${sink}\u0000${id}`
}

/** The host of a URL, for what people and metrics see: a URL's path or query may hold a secret. */
export function hostOf(url: string): string | undefined {
  try {
    return new URL(url).host
  } catch {
    return undefined
  }
}

/** A sink as people and metrics see it: its kind and host, never the URL (a Slack webhook's path is its secret). */
export function sinkLabel(name: string): string {
  const colon = name.indexOf(':')
  const host = hostOf(name.slice(colon + 1))
  return host === undefined ? name.slice(0, colon) : `${name.slice(0, colon)}:${host}`
}
