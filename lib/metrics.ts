// /metrics, rendered at scrape time from the stored records and counters — never
// from counters in memory, which a Workers isolate neither shares nor keeps.
// Names and meanings of the seed metrics are Teleport's, so its dashboards and
// alerts work unchanged.
import { Counter, Gauge, Registry, type RegistryContentType } from 'prom-client'
import type { FleetView } from './fleet.ts'
import { STATE_VALUE, type State } from './readiness.ts'
import type { Counters } from './stores/store.ts'

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
  pulsegate_heartbeats_rejected_total: {
    kind: Counter,
    help: 'Heartbeat requests rejected, by reason.',
    labelNames: ['reason'],
  },
  pulsegate_expired_total: { kind: Counter, help: 'Components dropped after the expiry of silence.' },
  pulsegate_overdue_components: { kind: Gauge, help: 'Components past their heartbeat deadline right now.' },
  pulsegate_build_info: { kind: Gauge, help: 'Always 1; labels say what is running.', labelNames: ['version', 'runtime'] },
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
  body: string
  contentType: string
}

export async function renderMetrics(input: ScrapeInput, openMetrics: boolean): Promise<Exposition> {
  const registry = new Registry<RegistryContentType>()
  registry.setContentType(openMetrics ? OPENMETRICS_CONTENT_TYPE : TEXT_CONTENT_TYPE)
  const metric = <N extends MetricName>(name: N) => {
    const { kind, help, ...rest } = METRICS[name] as Definition
    const labelNames = 'labelNames' in rest ? [...rest.labelNames!] : []
    return new kind({ name, help, labelNames, registers: [registry] })
  }
  const gauge = (name: MetricName) => metric(name) as Gauge
  const counter = (name: MetricName) => metric(name) as Counter

  const { view, counters } = input
  const processState = gauge('process_state')
  const lastHeartbeat = gauge('pulsegate_last_heartbeat_timestamp_seconds')
  const connected = new Map<string, number>()
  const versions = new Map<string, number>()
  const health = { healthy: 0, unhealthy: 0, unknown: 0 }
  for (const agent of view.agents) {
    health[HEALTH[agent.state]]++
    const version = agent.version ?? UNKNOWN_VERSION
    versions.set(version, (versions.get(version) ?? 0) + 1)
    for (const c of agent.components) {
      const labels = { agent: agent.agent, component: c.record.component }
      processState.set(labels, STATE_VALUE[c.state])
      lastHeartbeat.set(labels, c.record.lastSeen / 1000)
      connected.set(c.record.component, (connected.get(c.record.component) ?? 0) + 1)
    }
  }
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
  gauge('pulsegate_overdue_components').set(view.overdue)
  gauge('pulsegate_build_info').set({ ...input.build }, 1)

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
  return { body: await registry.metrics(), contentType: registry.contentType }
}
