// /metrics, rendered at scrape time from the stored records and counters — never
// from counters in memory, which a Workers isolate neither shares nor keeps.
// Names and meanings of the seed metrics are Teleport's, so its dashboards and
// alerts work unchanged.
import { Counter, Gauge, Registry, type RegistryContentType } from 'prom-client'
import { backgroundFailures } from './background.ts'
import type { AgentView, ComponentView, FleetView } from './fleet.ts'
import { SLICE, forEachInSlices } from './slices.ts'
import { STATE_VALUE, type State } from './readiness.ts'
import { infoLabelName } from './settings.ts'
import { sinkLabel } from './notify/notification.ts'
import { type Counters, recordKey } from './stores/store.ts'

export interface BuildInfo {
  version: string
  runtime: string
}

export interface ScrapeInput {
  view: FleetView
  counters: Counters
  build: BuildInfo
  /** Scrapes being served right now, this one included. */
  inFlight: number
  /** The time of the scrape (ms), for the age of what waits in the outbox. */
  now: number
  /** Process metrics (process_*, nodejs_*, request durations) where the runtime has them. */
  runtimeRegistry?: Registry | undefined
}

type Definition = {
  kind: typeof Gauge | typeof Counter
  help: string
  labelNames?: readonly string[]
}

/** Every metric pulsegate exports, with its type and help, in one table. */
export const METRICS = {
  process_state: {
    kind: Gauge,
    help: 'State of each component: 0 ok, 1 recovering, 2 degraded, 3 starting.',
    labelNames: ['agent', 'component'],
  },
  heartbeat_connections_received_total: { kind: Counter, help: 'Heartbeats accepted.' },
  heartbeat_missed_total: { kind: Counter, help: 'Heartbeat deadlines missed, each counted once.' },
  teleport_connected_resources: {
    kind: Gauge,
    help: 'Agents currently reporting each component name (type = component).',
    labelNames: ['type'],
  },
  teleport_registered_servers: { kind: Gauge, help: 'Agents by reported version.', labelNames: ['version'] },
  teleport_resources_health_status_healthy: { kind: Gauge, help: 'Agents that are ok.' },
  teleport_resources_health_status_unhealthy: { kind: Gauge, help: 'Agents that are degraded or recovering.' },
  teleport_resources_health_status_unknown: { kind: Gauge, help: 'Agents that are starting.' },
  promhttp_metric_handler_requests_total: {
    kind: Counter,
    help: 'Scrapes of /metrics served, by HTTP status code.',
    labelNames: ['code'],
  },
  promhttp_metric_handler_requests_in_flight: { kind: Gauge, help: 'Scrapes of /metrics being served right now.' },
  pulsegate_last_heartbeat_timestamp_seconds: {
    kind: Gauge,
    help: 'When each component last sent a heartbeat, in seconds since the epoch.',
    labelNames: ['agent', 'component'],
  },
  pulsegate_job_running: {
    kind: Gauge,
    help: 'Runs of each job started and not yet finished (a job: a component with a schedule or a run signal).',
    labelNames: ['agent', 'component'],
  },
  pulsegate_job_last_duration_seconds: {
    kind: Gauge,
    help: 'How long the last finished run of each job took, from its start.',
    labelNames: ['agent', 'component'],
  },
  pulsegate_job_last_exit_code: {
    kind: Gauge,
    help: 'The exit code of the last finished run of each job that gave one (0 is success).',
    labelNames: ['agent', 'component'],
  },
  pulsegate_job_last_success_timestamp_seconds: {
    kind: Gauge,
    help: 'When a run of each job last finished with success, in seconds since the epoch.',
    labelNames: ['agent', 'component'],
  },
  pulsegate_heartbeats_rejected_total: {
    kind: Counter,
    help: 'Heartbeat requests rejected (pings, declarations and removals too), by reason.',
    labelNames: ['reason'],
  },
  pulsegate_expired_total: { kind: Counter, help: 'Components dropped after the expiry of silence.' },
  pulsegate_history_dropped_total: { kind: Counter, help: 'History events dropped, oldest first, past HISTORY_PER_COMPONENT.' },
  pulsegate_overdue_components: { kind: Gauge, help: 'Components past their heartbeat deadline right now.' },
  pulsegate_notifications_total: {
    kind: Counter,
    help: 'Notification delivery attempts, by sink (kind:host) and result: delivered, failed (to be retried), dropped (given up).',
    labelNames: ['sink', 'result'],
  },
  pulsegate_notifications_oldest_pending_seconds: { kind: Gauge, help: 'Age of the oldest notification not yet delivered; 0 when none waits.' },
  pulsegate_build_info: { kind: Gauge, help: 'Always 1; labels say what is running.', labelNames: ['version', 'runtime'] },
  pulsegate_background_errors_total: {
    kind: Counter,
    help: 'Failures of work no request waits for (a sweep, counting a scrape), by task, in this process.',
    labelNames: ['task'],
  },
  // Opt-in (METRICS_LABELS), as kube-state-metrics' kube_pod_labels: label_<name> labels beside agent and component.
  pulsegate_component_info: {
    kind: Gauge,
    help: 'Always 1, one series per component; label_<name> holds its heartbeat label <name> of METRICS_LABELS, empty without it.',
    labelNames: ['agent', 'component'],
  },
} as const satisfies Record<string, Definition>

export type MetricName = keyof typeof METRICS

/** Agents without a version are counted under this one. */
export const UNKNOWN_VERSION = 'unknown'

const HEALTH: Readonly<Record<State, 'healthy' | 'unhealthy' | 'unknown'>> = {
  ok: 'healthy',
  recovering: 'unhealthy',
  degraded: 'unhealthy',
  starting: 'unknown',
}

export const TEXT_CONTENT_TYPE = Registry.PROMETHEUS_CONTENT_TYPE
export const OPENMETRICS_CONTENT_TYPE = Registry.OPENMETRICS_CONTENT_TYPE

export interface Exposition {
  /** The body, in pieces a server can send one at a time. */
  chunks: string[]
  contentType: string
}

/** Label values as the text formats want them (both escape the same three characters). */
function escapeLabelValue(value: string): string {
  return value.replace(/\\/g, '\\\\').replace(/"/g, '\\"').replace(/\n/g, '\\n')
}

function familyHeader(name: MetricName): string {
  return `# HELP ${name} ${METRICS[name].help}\n# TYPE ${name} gauge\n`
}

/** What /metrics reports per agent rather than per component: small, one pass over the agents. */
interface FleetTotals {
  connected: Map<string, number>
  versions: Map<string, number>
  health: Record<'healthy' | 'unhealthy' | 'unknown', number>
}

function fleetTotals(view: FleetView): FleetTotals {
  const totals: FleetTotals = { connected: new Map(), versions: new Map(), health: { healthy: 0, unhealthy: 0, unknown: 0 } }
  for (const agent of view.agents) {
    totals.health[HEALTH[agent.state]]++
    const version = agent.version ?? UNKNOWN_VERSION
    totals.versions.set(version, (totals.versions.get(version) ?? 0) + 1)
    for (const c of agent.components) totals.connected.set(c.record.component, (totals.connected.get(c.record.component) ?? 0) + 1)
  }
  return totals
}

/** The families with a series per component (or per job), as exposition lines kept in slices of SLICE lines. */
class ComponentFamilies {
  private readonly names = [
    'process_state',
    'pulsegate_last_heartbeat_timestamp_seconds',
    'pulsegate_job_running',
    'pulsegate_job_last_duration_seconds',
    'pulsegate_job_last_exit_code',
    'pulsegate_job_last_success_timestamp_seconds',
    'pulsegate_component_info',
  ] as const satisfies readonly MetricName[]
  private readonly done: string[][] = this.names.map(() => [])
  private readonly open: string[] = this.names.map(() => '')
  private lines = 0
  /** pulsegate_component_info's labels: [label_<name>, the heartbeat label it holds]; none, and the family has no series. */
  private readonly info: readonly (readonly [string, string])[]

  constructor(info: readonly (readonly [string, string])[]) {
    this.info = info
  }

  add(set: string, c: ComponentView): void {
    const r = c.record
    this.line(0, set, STATE_VALUE[c.state])
    this.line(1, set, r.lastSeen / 1000)
    // Only jobs have these: most of a fleet pays one test for them.
    if (r.schedule !== null || r.runs.length > 0 || r.lastSuccessAt !== null || r.lastExitCode !== null || r.lastDurationSeconds !== null) {
      this.line(2, set, r.runs.length)
      if (r.lastDurationSeconds !== null) this.line(3, set, r.lastDurationSeconds)
      if (r.lastExitCode !== null) this.line(4, set, r.lastExitCode)
      if (r.lastSuccessAt !== null) this.line(5, set, r.lastSuccessAt / 1000)
    }
    if (this.info.length > 0) {
      let pairs = ''
      // Own properties only: a label named like an Object.prototype member (constructor) must read "" when unset.
      for (const [name, label] of this.info) pairs += `,${name}="${escapeLabelValue(Object.hasOwn(r.labels, label) ? r.labels[label]! : '')}"`
      this.line(6, `${set.slice(0, -1)}${pairs}}`, 1)
    }
    if (++this.lines % SLICE === 0) this.cut()
  }

  /** Each family with its header, in chunks; a job family with no series is left out, as prom-client leaves out an unset gauge. */
  finish(): string[] {
    this.cut()
    return this.names.flatMap((name, i) => {
      const lines = this.done[i]!.filter(Boolean)
      return lines.length > 0 || i < 2 ? [familyHeader(name), ...lines] : []
    })
  }

  private line(family: number, set: string, value: number): void {
    this.open[family] += `${this.names[family]}${set} ${value}\n`
  }

  private cut(): void {
    this.names.forEach((_, i) => {
      this.done[i]!.push(this.open[i]!)
      this.open[i] = ''
    })
  }
}

export type MetricsRenderer = (input: ScrapeInput, openMetrics: boolean) => Promise<Exposition>

function* componentsOf(view: FleetView): Iterable<[AgentView, ComponentView]> {
  for (const agent of view.agents) for (const c of agent.components) yield [agent, c]
}

/**
 * Build a renderer for one app. prom-client renders every family but the two
 * with a series per component (process_state and the last heartbeat time):
 * those are written here in the same exposition syntax, from label strings
 * escaped once per component and kept between scrapes, in slices (the event
 * loop runs between them) and as chunks a server sends one at a time; the
 * block is kept for as long as the fleet view it came from. A scrape of an
 * unchanged fleet of 100k components then costs the few small families only.
 */
export function createMetricsRenderer(options: { componentLabels?: readonly string[] } = {}): MetricsRenderer {
  const info = (options.componentLabels ?? []).map((label) => [infoLabelName(label), label] as const)
  let labelsByKey = new Map<string, string>()
  const perView = new WeakMap<FleetView, Promise<{ lines: string[]; totals: FleetTotals }>>()

  const componentBlock = async (view: FleetView) => {
    const labels = new Map<string, string>()
    const families = new ComponentFamilies(info)
    await forEachInSlices(componentsOf(view), ([agent, c]) => {
      const key = recordKey(agent.agent, c.record.component)
      let set = labelsByKey.get(key)
      if (set === undefined) set = `{agent="${escapeLabelValue(agent.agent)}",component="${escapeLabelValue(c.record.component)}"}`
      labels.set(key, set)
      families.add(set, c)
    })
    labelsByKey = labels // components gone from the fleet leave the cache with it
    return { lines: families.finish(), totals: fleetTotals(view) }
  }

  return async (input, openMetrics) => {
    const { view, counters } = input
    let cached = perView.get(view)
    if (!cached) perView.set(view, (cached = componentBlock(view)))
    const { lines, totals } = await cached
    const { connected, versions, health } = totals

    const registry = new Registry<RegistryContentType>()
    registry.setContentType(openMetrics ? OPENMETRICS_CONTENT_TYPE : TEXT_CONTENT_TYPE)
    const metric = (name: MetricName) => {
      const { kind, help, ...rest } = METRICS[name] as Definition
      const labelNames = 'labelNames' in rest ? [...rest.labelNames!] : []
      return new kind({ name, help, labelNames, registers: [registry] })
    }
    const gauge = (name: MetricName) => metric(name) as Gauge
    const counter = (name: MetricName) => metric(name) as Counter

    counter('heartbeat_connections_received_total').inc(counters.received)
    counter('heartbeat_missed_total').inc(counters.missed)
    const connectedResources = gauge('teleport_connected_resources')
    for (const [type, n] of connected) connectedResources.set({ type }, n)
    const registered = gauge('teleport_registered_servers')
    for (const [version, n] of versions) registered.set({ version }, n)
    gauge('teleport_resources_health_status_healthy').set(health.healthy)
    gauge('teleport_resources_health_status_unhealthy').set(health.unhealthy)
    gauge('teleport_resources_health_status_unknown').set(health.unknown)
    const scrapes = counter('promhttp_metric_handler_requests_total')
    scrapes.inc({ code: '200' }, 0) // as promhttp does, so the first scrape already has the series
    for (const [code, n] of Object.entries(counters.scrapes)) scrapes.inc({ code }, n)
    gauge('promhttp_metric_handler_requests_in_flight').set(input.inFlight)
    const rejected = counter('pulsegate_heartbeats_rejected_total')
    for (const [reason, n] of Object.entries(counters.rejected)) rejected.inc({ reason }, n)
    counter('pulsegate_expired_total').inc(counters.expired)
    counter('pulsegate_history_dropped_total').inc(counters.historyDropped)
    gauge('pulsegate_overdue_components').set(view.overdue)
    const notifications = counter('pulsegate_notifications_total')
    for (const [key, n] of Object.entries(counters.notifications)) {
      const colon = key.indexOf(':')
      notifications.inc({ sink: sinkLabel(key.slice(colon + 1)), result: key.slice(0, colon) }, n)
    }
    const oldest = counters.oldestPending
    gauge('pulsegate_notifications_oldest_pending_seconds').set(oldest === null ? 0 : Math.max(0, (input.now - oldest) / 1000))
    gauge('pulsegate_build_info').set({ ...input.build }, 1)
    const background = counter('pulsegate_background_errors_total')
    for (const [task, n] of backgroundFailures()) background.inc({ task }, n)

    if (input.runtimeRegistry) {
      // Copies, not the runtime's own metric objects: prom-client renames counters
      // in place when it renders OpenMetrics, which would spoil the next text scrape.
      for (const { name, help, type, values, aggregator } of await input.runtimeRegistry.getMetricsAsJSON()) {
        // prom-client's nodejs_active_*_total are gauges with a counter's suffix, which
        // promtool flags and OpenMetrics forbids; each is only the sum of its typed series.
        if (String(type) === 'gauge' && name.endsWith('_total')) continue
        // get() reads the copy's name back, since OpenMetrics rendering strips `_total` from it first.
        const copy = { name, help, type, aggregator, get: () => ({ name: copy.name, help, type, values, aggregator }) }
        registry.registerMetric(copy as never)
      }
    }
    // Text format separates families with a blank line; OpenMetrics allows none.
    const chunks = [...lines, `${openMetrics ? '' : '\n'}${await registry.metrics()}`]
    return { chunks, contentType: registry.contentType }
  }
}
