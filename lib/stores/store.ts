// The Store port: what the app sees of storage. The store engine
// (lib/stores/engine.ts) implements it over any driver; the Worker implements it
// over RPC to the Durable Object that runs the engine. test/stores.suite.ts holds
// every implementation to the same behaviour, through this port only.
import type { FleetSummary } from '../agent-states.ts'
import type { Heartbeat } from '../heartbeat.ts'
import type { HistoryEvent } from '../history.ts'
import type { DeliveryResult, OutboxEntry, Silence } from '../notify/notification.ts'
import type { NotificationStatus } from './engine.ts'
import type { ComponentRecord, Declaration } from '../readiness.ts'

export { recordKey } from './fleet-state.ts'

/** Counters that describe the fleet's data: stored with the records. */
export interface FleetCounters {
  /** Accepted heartbeats (`heartbeat_connections_received_total`). */
  received: number
  /** Deadlines missed, each counted once (`heartbeat_missed_total`). */
  missed: number
  /** Components dropped after EXPIRE_SECONDS of silence (`pulsegate_expired_total`). */
  expired: number
  /** History events dropped past HISTORY_PER_COMPONENT (`pulsegate_history_dropped_total`). */
  historyDropped: number
}

/** Counters that describe traffic, keyed by one label value (reason, status code). */
export type TrafficCounter = 'rejected' | 'scrapes'

export interface Counters extends FleetCounters {
  rejected: Record<string, number>
  scrapes: Record<string, number>
  /** Delivery attempts by `<result>:<sink>` (`pulsegate_notifications_total`). */
  notifications: Record<string, number>
  /** When the oldest notification still waiting was written (ms), or null (`pulsegate_notifications_oldest_pending_seconds`). */
  oldestPending: number | null
}

export interface Snapshot {
  /** Every component not yet expired at the time asked for. Shared: never modify it. */
  records: readonly ComponentRecord[]
  counters: Counters
  /**
   * Changes whenever a record changes (never for a counter alone), and never
   * goes back, restarts included: readers may key what they derive on it.
   */
  revision: number
  /** The records hold until this instant (ms) unless the revision moves: the next expiry. */
  validUntil: number
}

/**
 * One agent's records. An answer that comes from a copy of the source of truth
 * (the Worker's cached copies) says when that copy was made, so readers can say
 * how old it is.
 */
export interface AgentRead {
  records: readonly ComponentRecord[]
  /** When the copy this comes from was made (ms); absent when it comes from the source of truth. */
  copiedAt?: number
}

/** A declared component's record, and whether the declaration added it (it was unknown, or had expired). */
export interface Declared {
  record: ComponentRecord
  created: boolean
}

/** A page of history: one agent's newest first (before a seq), or the fleet's oldest first (after a seq). */
export interface EventQuery {
  agent?: string | undefined
  /** With `agent`: events recorded before this seq (the page before ended there). */
  before?: number | undefined
  /** Without `agent`: events recorded after this seq. */
  after?: number | undefined
  limit: number
}

export interface EventPage {
  events: HistoryEvent[]
  /** The page was full: there may be more past its last event. */
  more: boolean
}

export interface Store {
  /**
   * Apply a batch of heartbeats atomically, each through `next()`, and resolve
   * with the resulting record of each — only once the write is durable.
   */
  apply(batch: readonly Heartbeat[], now: number): Promise<ComponentRecord[]>
  /**
   * Declare what is expected of a component (or again), listing it from now on;
   * resolves with its record. A cap it would break throws LimitError.
   */
  declare(declaration: Declaration, now: number): Promise<Declared>
  /** Remove one component; resolves with whether a reader could see it. */
  removeComponent(agent: string, component: string, now: number): Promise<boolean>
  /** Deregister an agent; resolves with how many components it had (0: unknown agent). */
  remove(agent: string, now: number): Promise<number>
  /** Drop components silent past the expiry, counting them; resolves with how many. */
  sweep(now: number): Promise<number>
  snapshot(now: number): Promise<Snapshot>
  /** One agent's components not yet expired (none: unknown agent); for /readyz/:agent. */
  agent(agent: string, now: number): Promise<AgentRead>
  /** Agents per state and the fleet's aggregate, at `now`; for /readyz. */
  summary(now: number): Promise<FleetSummary>
  /** History events (lib/history.ts), a page at a time. */
  events(query: EventQuery): Promise<EventPage>
  /**
   * Every event recorded after `after` (a seq; undefined: from now on), then each
   * new one as it is stored, until `signal` aborts.
   */
  watch(after: number | undefined, signal: AbortSignal): AsyncIterable<HistoryEvent>
  /** Silence an agent's notifications until `silence.until` (a new one replaces it). */
  silence(silence: Silence, now: number): Promise<void>
  /** Lift an agent's silence; resolves with whether it had one. What is still down is told now. */
  unsilence(agent: string, now: number): Promise<boolean>
  /** Each sink's outbox and last error, the silences in force, a fleet-wide silence. */
  notificationStatus(now: number): Promise<NotificationStatus>
  /**
   * Notifications to deliver at `now` (the courier's, lib/notify/courier.ts), and
   * what their delivery came to; the alerts firing at `now`, for Alertmanager.
   */
  deliveries(now: number, limit: number): Promise<{ key: string; entry: OutboxEntry }[]>
  settleDeliveries(results: readonly DeliveryResult[], now: number): Promise<void>
  activeAlerts(now: number): Promise<ComponentRecord[]>
  /** Count one rejected request or one scrape, by label. */
  count(counter: TrafficCounter, label: string): Promise<void>
  close(): Promise<void>
}

/** Every event recorded after `after`, read from `store` a page at a time, oldest first. */
export async function* eventsAfter(store: Pick<Store, 'events'>, after: number, signal: AbortSignal): AsyncIterable<HistoryEvent> {
  for (let last = after, more = true; more && !signal.aborted; ) {
    const page = await store.events({ after: last, limit: 500 })
    for (const event of page.events) {
      last = event.seq
      yield event
    }
    more = page.more
  }
}
