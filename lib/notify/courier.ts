// The courier takes what the outbox holds to the sinks: each notification that is
// due, each sink's in order, retried with exponential backoff and full jitter
// after a failure (the first retry within 5 s), and given up after a day. What an
// attempt came to is stored before the next one starts, so a crash repeats at most
// the deliveries in flight: at least once, never lost. Alertmanager's firing alerts
// are posted again every resend period, as Prometheus does, so they stay firing
// while true and resolve by themselves if pulsegate stops.
import { logOnce } from '../logging.ts'
import type { ComponentRecord } from '../readiness.ts'
import type { Store } from '../stores/store.ts'
import { downId, notificationOf } from '../stores/plan-notify.ts'
import { inSpan } from '../tracing.ts'
import { type DeliveryResult, DeliveryError, type Notification, type OutboxEntry, sinkLabel } from './notification.ts'
import type { Sink } from './sink.ts'

/** What the courier needs of the store. */
export type Outbox = Pick<Store, 'deliveries' | 'settleDeliveries' | 'activeAlerts'>

/** A sink of firing alerts that must be posted again while they fire (Alertmanager). */
export interface ResendSink extends Sink {
  resend(notifications: readonly Notification[]): Promise<void>
}

export const FIRST_RETRY_MS = 5_000
export const MAX_RETRY_MS = 3_600_000
/** How long a notification is tried for before it is given up (and counted `dropped`). */
export const GIVE_UP_MS = 86_400_000
const BATCH = 100

/** The wait before attempt n + 1 after n failures: up to 5 s, 10 s, 20 s… at most an hour, with full jitter. */
export function retryDelay(failures: number, random: () => number = Math.random): number {
  const ceiling = Math.min(MAX_RETRY_MS, FIRST_RETRY_MS * 2 ** Math.max(0, failures - 1))
  return Math.max(250, Math.floor(random() * ceiling))
}

export interface CourierOptions {
  clock?: () => number
  random?: () => number
}

export class Courier {
  private readonly outbox: Outbox
  private readonly sinks: Map<string, Sink>
  private readonly clock: () => number
  private readonly random: () => number
  private draining: Promise<number> | undefined

  constructor(outbox: Outbox, sinks: readonly Sink[], options: CourierOptions = {}) {
    this.outbox = outbox
    this.sinks = new Map(sinks.map((sink) => [sink.name, sink]))
    this.clock = options.clock ?? Date.now
    this.random = options.random ?? Math.random
  }

  /** Deliver everything due, until nothing is or every sink with work failed; resolves with how many were delivered. Never throws. */
  drain(): Promise<number> {
    this.draining ??= this.drainNow().finally(() => (this.draining = undefined))
    return this.draining
  }

  private async drainNow(): Promise<number> {
    let delivered = 0
    try {
      for (;;) {
        const due = await this.outbox.deliveries(this.clock(), BATCH)
        if (due.length === 0) return delivered
        const bySink = new Map<string, { key: string; entry: OutboxEntry }[]>()
        for (const item of due) bySink.set(item.entry.sink, [...(bySink.get(item.entry.sink) ?? []), item])
        const results = (await Promise.all([...bySink].map(([name, items]) => this.deliverAll(name, items)))).flat()
        await this.outbox.settleDeliveries(results, this.clock())
        delivered += results.filter((r) => r.outcome === 'delivered').length
        if (!results.some((r) => r.outcome !== 'failed')) return delivered // all failed: wait for the retries
      }
    } catch (error) {
      logOnce('notification delivery', error)
      return delivered
    }
  }

  /** One sink's due notifications, in order; after a failure the rest wait for the next drain. */
  private async deliverAll(name: string, items: { key: string; entry: OutboxEntry }[]): Promise<DeliveryResult[]> {
    const sink = this.sinks.get(name)
    const results: DeliveryResult[] = []
    for (const { key, entry } of items) {
      const now = this.clock()
      if (!sink) {
        results.push({ key, outcome: 'dropped', error: 'the sink is no longer configured' })
        continue
      }
      try {
        const { kind } = entry.notification
        await inSpan('notify.deliver', { 'pulsegate.sink': sinkLabel(name), 'pulsegate.notification': kind }, () => sink.deliver(entry.notification))
        results.push({ key, outcome: 'delivered' })
      } catch (error) {
        const message = error instanceof Error ? error.message : String(error)
        const never = error instanceof DeliveryError && !error.retry
        if (never || now - entry.created >= GIVE_UP_MS) {
          results.push({ key, outcome: 'dropped', error: never ? message : `${message}; given up after a day` })
        } else {
          results.push({ key, outcome: 'failed', error: message, retryAt: now + retryDelay(entry.attempts + 1, this.random) })
          break // keep the sink's order: what follows waits for this one
        }
      }
    }
    return results
  }

  /** Post every firing alert again to the sinks that want it (Alertmanager). Never throws. */
  async resend(): Promise<void> {
    const resenders = [...this.sinks.values()].filter((s): s is ResendSink => 'resend' in s)
    if (resenders.length === 0) return
    try {
      const now = this.clock()
      const firing = (await this.outbox.activeAlerts(now)).map((record) => firingOf(record, now))
      if (firing.length === 0) return
      await Promise.all(resenders.map((sink) => sink.resend(firing).catch((error) => logOnce(`resend to ${sink.name}`, error))))
    } catch (error) {
      logOnce('alert resend', error)
    }
  }
}

/** A firing alert as a `down` notification again, with the id of the one that first told it. */
function firingOf(record: ComponentRecord, now: number): Notification {
  const alert = record.alert!
  return notificationOf('down', downId(alert), record, now, alert, { from: null, to: 'degraded', reason: alert.reason })
}
