// The Alertmanager sink: a notification becomes one alert posted to Alertmanager's
// API v2, the way Prometheus sends its alerts. A firing alert carries an endsAt a
// few resends ahead (Prometheus: 4 × max(resend delay, evaluation interval)), so it
// resolves by itself if pulsegate dies; a resolved one carries the time it resolved.
// Alertmanager identifies an alert by its label set, so an `up` must have exactly
// the labels of the `down` it resolves: every label here comes from what both share.
// Portable: web platform fetch only.
import type { State } from '../readiness.ts'
import type { Notification } from './notification.ts'
import { deliver, type SinkOptions } from './sink.ts'

/** Alertmanager's PostableAlert (api/v2/openapi.yaml); times are RFC 3339. */
export interface PostableAlert {
  labels: Record<string, string>
  annotations: Record<string, string>
  startsAt: string
  endsAt: string
  generatorURL?: string
}

export interface AlertOptions {
  /** The status page of an agent (a fleet alert's agent is '': the fleet's page), the alert's link back; null: no link. */
  statusUrl: (agent: string) => string | null
  /** How often the engine posts a firing alert again (Prometheus's resend delay). */
  resendMs: number
  /** The time of this post (ms). */
  now: number
}

/** Firing alerts live this many resends, so two lost posts in a row do not resolve one (as in Prometheus). */
const RESENDS_TO_LIVE = 4

// Prometheus's label-name syntax, which Alertmanager 0.25 enforces: one bad name
// makes it answer 400 for the whole alert. `__` names are reserved for internal use.
const LABEL_NAME = /^[a-zA-Z_][a-zA-Z0-9_]*$/
const FIXED_LABELS = new Set(['alertname', 'agent', 'component', 'state', 'severity'])

/**
 * Critical for degraded, the state pulsegate tells of as down; warning for any
 * other. A fleet alert is critical: it stands in for one `down` per silent agent,
 * and holding those back must not make the news less urgent.
 */
function severityOf(state: State): 'critical' | 'warning' {
  return state === 'degraded' ? 'critical' : 'warning'
}

/**
 * The component's labels that can be Alertmanager labels. An invalid name is
 * dropped, not sanitised: `a.b` and `a-b` would both become `a_b`, and a route on
 * the made-up name would match by accident (the heartbeat API rejects such names,
 * so this only guards older data). A label named like a fixed one is dropped, so
 * routing on `severity` or `state` always means pulsegate's. An empty value is
 * dropped: Alertmanager drops it too, and a label set should be what it stores.
 */
function componentLabels(labels: Record<string, string>): Record<string, string> {
  const kept: Record<string, string> = {}
  for (const [name, value] of Object.entries(labels)) {
    if (!LABEL_NAME.test(name) || name.startsWith('__') || FIXED_LABELS.has(name) || value === '') continue
    kept[name] = value
  }
  return kept
}

function iso(ms: number): string {
  return new Date(ms).toISOString()
}

function fleetAlert(n: Notification, endsAt: number): Omit<PostableAlert, 'generatorURL'> {
  const annotations: Record<string, string> = {
    summary: n.missed
      ? `${n.missed.agents} of ${n.missed.of} agents missed their deadline at once`
      : 'a large share of the fleet missed its deadline at once',
  }
  if (n.reason !== null) annotations.description = n.reason
  if (n.missed) {
    annotations.missed_agents = String(n.missed.agents)
    annotations.total_agents = String(n.missed.of)
    annotations.sample_agents = n.missed.sample.join(', ')
  }
  return {
    labels: { ...componentLabels(n.labels), alertname: 'PulsegateFleetSilent', severity: 'critical' },
    annotations,
    startsAt: iso(n.since),
    endsAt: iso(endsAt),
  }
}

/**
 * The alert for a notification. `state` is the state the alert is about: `to` for
 * down and reminder, `from` for up (the state the down told of), so both carry the
 * same labels. A fleet alert is never resolved by an `up`: its endsAt is the
 * firing one, and it resolves by itself unless posted again.
 */
export function alertOf(n: Notification, { statusUrl, resendMs, now }: AlertOptions): PostableAlert {
  const firingEnd = now + RESENDS_TO_LIVE * resendMs
  const link = statusUrl(n.agent)
  const generator = link === null ? {} : { generatorURL: link }
  if (n.kind === 'fleet') return { ...fleetAlert(n, firingEnd), ...generator }

  // Down is only ever told of a degraded component; the fallback keeps a label set.
  const state = (n.kind === 'up' ? n.from : n.to) ?? 'degraded'
  const where = `${n.component} on ${n.agent}`
  const summary =
    n.kind === 'down' ? `${where} is ${state}`
    : n.kind === 'reminder' ? `${where} is still ${state}`
    : `${where} is ${n.to ?? 'gone'}, no longer ${state}`
  const annotations: Record<string, string> = { summary }
  if (n.reason !== null) annotations.description = n.reason
  return {
    labels: {
      ...componentLabels(n.labels),
      alertname: 'PulsegateComponentDown',
      agent: n.agent,
      component: n.component,
      state,
      severity: severityOf(state),
    },
    annotations,
    startsAt: iso(n.since),
    // Alertmanager answers 400 to an alert that ends before it starts: never send one.
    endsAt: iso(n.kind === 'up' ? Math.max(n.at, n.since) : firingEnd),
    ...generator,
  }
}

/**
 * POST alerts to an Alertmanager (`url`: its base, with any path prefix). Throws
 * DeliveryError: retry for a network error, a timeout, a 5xx, 408 or 429; no retry
 * for any other 4xx, which the same alerts will get again.
 */
export async function postAlerts(url: string, alerts: PostableAlert[], options: SinkOptions = {}): Promise<void> {
  const endpoint = `${url.replace(/\/+$/, '')}/api/v2/alerts`
  const init = { method: 'POST', headers: { 'Content-Type': 'application/json' }, body: JSON.stringify(alerts) }
  await deliver(endpoint, init, { label: `POST ${endpoint}`, peer: 'Alertmanager' }, options)
}
