// The status pages over the real thing: a MemoryStore (the store engine) with an
// injected clock, the whole app that `createApp` builds from settings (so
// STATUS_PAGE, STATUS_PAGE_DETAILS and READ_TOKEN are read as a server reads
// them), and its status pages over the real storeStatusSource. Heartbeats go
// through store.apply() at the fixture's clock; moving the clock sweeps, so a
// deadline that passes becomes a 'missed heartbeat' event at the deadline, as
// the server's sweeper records it. Uptime, bars and events are the engine's own.
import type { OpenAPIHono } from '@hono/zod-openapi'
import { createApp } from '../../lib/app.ts'
import type { Heartbeat } from '../../lib/heartbeat.ts'
import type { HistoryEvent } from '../../lib/history.ts'
import type { AppEnv } from '../../lib/routes/deps.ts'
import { type Settings, loadSettings } from '../../lib/settings.ts'
import { MemoryStore } from '../../lib/stores/memory.ts'

export const SECOND = 1000
export const MINUTE = 60 * SECOND
export const HOUR = 60 * MINUTE
export const DAY = 24 * HOUR

/**
 * The instant the mixed fleet is looked at by default: a fixed UTC time of day
 * (18:04), so that which UTC day each stretch of history falls on is known.
 */
export const FLEET_NOW = Date.UTC(2026, 10, 22, 18, 4)

/** Any host for app.request(): routes read only the path. */
const ORIGIN = 'http://pulsegate.test'

/** The engine, counting the watch() streams open on it: what "the stream let go" is checked against. */
class WatchedStore extends MemoryStore {
  watching = 0

  override async *watch(after: number | undefined, signal: AbortSignal): AsyncIterable<HistoryEvent> {
    this.watching++
    try {
      yield* super.watch(after, signal)
    } finally {
      this.watching--
    }
  }
}

export class StatusFleet {
  /** The clock (ms) heartbeats and sweeps happen at, and the default app reads. */
  now: number
  /** What the store and the default app were built with: the defaults, and what the test gave. */
  readonly env: Record<string, string>
  readonly settings: Settings
  readonly store: WatchedStore
  /** The whole app (API, probes, status pages, badges) at the fixture's clock. */
  readonly app: OpenAPIHono<AppEnv>

  constructor(start: number, env: Record<string, string> = {}) {
    this.now = start
    this.env = env
    this.settings = loadSettings(env)
    this.store = new WatchedStore(this.settings)
    this.app = this.appWith({})
  }

  /** Streams reading the store's events right now (the pages' /status/~/events among them). */
  get subscribers(): number {
    return this.store.watching
  }

  /**
   * Another app over the same store: `env` on top of the fixture's own (say
   * STATUS_PAGE=token), at the fixture's clock unless given one (a browser test
   * that serves on the wall clock).
   */
  appWith(env: Record<string, string>, clock: () => number = () => this.now): OpenAPIHono<AppEnv> {
    const settings = loadSettings({ ...this.env, ...env })
    return createApp({ store: this.store, settings, runtime: 'test', clock })
  }

  /** A request to the default app (the status routes are plain Hono routes, outside the OpenAPI document). */
  request(path: string, init?: RequestInit): Promise<Response> {
    return Promise.resolve(this.app.request(ORIGIN + path, init))
  }

  /** A page's body. */
  async text(path: string, init?: RequestInit): Promise<string> {
    return (await this.request(path, init)).text()
  }

  /** Heartbeats, stored as one batch at the clock. */
  async beat(...batch: Heartbeat[]): Promise<void> {
    await this.store.apply(batch, this.now)
  }

  /** Move the clock on, then sweep: deadlines passed on the way are recorded (at the deadline), expired components dropped. */
  async advance(ms: number): Promise<void> {
    if (ms < 0) throw new Error(`the clock cannot go back (${ms} ms)`)
    this.now += ms
    await this.store.sweep(this.now)
  }

  /** Move the clock on to `at` (ms), sweeping as advance() does. */
  async advanceTo(at: number): Promise<void> {
    await this.advance(at - this.now)
  }

  /** One agent's events as the store keeps them, oldest first. */
  async eventsOf(agent: string): Promise<HistoryEvent[]> {
    const { events } = await this.store.events({ agent, limit: 500 })
    return events.reverse()
  }
}

/** How the mixed fleet was built, in times the tests derive their expectations from. */
export interface MixedTimes {
  /** When the fleet is looked at: the clock at the end of building it. */
  end: number
  /** db-1 has been degraded since then (38 min before `end`), and still is. */
  dbDegradedSince: number
  /** db-1's earlier outage, 12 days before: 3 h degraded from here. */
  dbOutage: { from: number; to: number }
  /** batch-7's deadline, passed 210 s before `end`: its 'missed heartbeat' happened then. */
  batchDeadline: number
  /** cache-2: degraded from here, ok again (recovering) from `cacheRecovering`. */
  cacheDegraded: number
  cacheRecovering: number
  /** When each agent first reported. */
  born: Record<string, number>
}

export const DB_DOWN_MINUTES = 38
export const DB_OUTAGE_HOURS = 3

/** Days before `end` each agent first reported (each then reported once a day, until its last hour). */
const BORN_DAYS_AGO: Record<string, number> = {
  'api-gateway': 30,
  'db-1': 30,
  'web-1': 30,
  'web-2': 30,
  'web-3': 22,
  'cache-2': 20,
  'web-4': 15,
  'queue-1': 8,
  backup: 6,
  'batch-7': 3,
}

/** An agent's once-a-day heartbeats (the longest interval a heartbeat may state), component by component. */
function daily(agent: string): Heartbeat[] {
  const one = { status: 'ok' as const, interval_seconds: 86_400 }
  if (agent === 'queue-1') return ['consumer', 'producer'].map((component) => ({ agent, component, ...one }))
  if (agent === 'backup') return [{ agent, component: 'offsite', ...one }]
  return [{ agent, ...one }]
}

/**
 * A lived-in fleet, built by walking the clock over a month to `end`: agents that
 * report once a day from the day they were born, db-1 with a 3-hour outage 12
 * days ago and degraded for the last 38 minutes, cache-2 recovering from a bad
 * ten minutes, batch-7 past its deadline (the sweep records the miss), backup
 * starting (a new component), queue-1 with two components — and messages, pids,
 * versions and labels a public page must not show. About 30 batches and sweeps.
 */
export async function mixedFleet(end = FLEET_NOW, env: Record<string, string> = {}): Promise<{ fleet: StatusFleet; times: MixedTimes }> {
  const born = Object.fromEntries(Object.entries(BORN_DAYS_AGO).map(([agent, days]) => [agent, end - days * DAY]))
  const fleet = new StatusFleet(end - 30 * DAY, env)
  const at = async (time: number, ...batch: Heartbeat[]) => {
    await fleet.advanceTo(time)
    await fleet.beat(...batch)
  }
  const dbOutage = { from: end - 12 * DAY - 10 * HOUR, to: end - 12 * DAY - 10 * HOUR + DB_OUTAGE_HOURS * HOUR }

  // A month, a day at a time: every agent born by then reports ok.
  for (let daysAgo = 30; daysAgo >= 1; daysAgo--) {
    const agents = Object.keys(BORN_DAYS_AGO).filter((agent) => BORN_DAYS_AGO[agent]! >= daysAgo)
    await at(end - daysAgo * DAY, ...agents.flatMap(daily))
    if (daysAgo === 13) {
      // db-1's disk filled up between two daily reports, and was cleared 3 hours later.
      await at(dbOutage.from, { agent: 'db-1', status: 'degraded', message: 'disk 99% full on /var/lib/postgresql' })
      await at(dbOutage.to, { agent: 'db-1', status: 'ok' }) // recovering: up, though not ok yet
      await at(dbOutage.to + MINUTE, { agent: 'db-1', status: 'ok' }) // ok: RECOVERY_SECONDS (10 s) of ok reports
    }
    if (daysAgo === 9) {
      // cache-2 had a bad hour, and stayed recovering until its next daily report.
      await at(end - 9 * DAY + 2 * HOUR, { agent: 'cache-2', status: 'degraded', message: 'evictions above 60%' })
      await at(end - 9 * DAY + 3 * HOUR, { agent: 'cache-2', status: 'ok' })
    }
  }

  // The last hour: agents move to hourly reports with their details, batch-7 to a 1-minute job.
  const times: MixedTimes = {
    end,
    dbDegradedSince: end - DB_DOWN_MINUTES * MINUTE,
    dbOutage,
    batchDeadline: end - 5 * MINUTE + 90 * SECOND,
    cacheDegraded: end - 10 * MINUTE,
    cacheRecovering: end - 12 * SECOND,
    born,
  }
  const hourly = 3600
  await at(end - 50 * MINUTE, { agent: 'api-gateway', status: 'ok', interval_seconds: hourly, version: '2.4.1', labels: { region: 'eu-west' } })
  await at(end - 45 * MINUTE, { agent: 'web-1', status: 'ok', interval_seconds: hourly, version: '2.4.0' }, { agent: 'web-2', status: 'ok', interval_seconds: hourly })
  await at(times.dbDegradedSince, { agent: 'db-1', status: 'degraded', message: 'disk 97% full on /var/lib/postgresql', interval_seconds: hourly, pid: 4242 })
  await at(end - 30 * MINUTE, { agent: 'web-3', status: 'ok', interval_seconds: hourly }, { agent: 'web-4', status: 'ok', interval_seconds: hourly })
  await at(end - 25 * MINUTE, ...['consumer', 'producer'].map((component) => ({ agent: 'queue-1', component, status: 'ok' as const, interval_seconds: hourly })))
  await at(end - 20 * MINUTE, { agent: 'backup', component: 'nightly', status: 'starting', message: 'first run pending', interval_seconds: 86_400 })
  await at(times.cacheDegraded, { agent: 'cache-2', status: 'degraded', message: 'evictions above 40%', interval_seconds: hourly })
  await at(end - 5 * MINUTE, { agent: 'batch-7', status: 'ok', interval_seconds: 60, grace_seconds: 30, pid: 811 })
  // batch-7's deadline passes 210 s before the end: the sweep that moves the clock to cache-2's report records it, at the deadline.
  await at(times.cacheRecovering, { agent: 'cache-2', status: 'ok' })
  await fleet.advanceTo(end)
  return { fleet, times }
}

/** What the mixed fleet is built to show: each agent's state at `end`. */
export const MIXED_STATES = {
  'api-gateway': 'ok',
  backup: 'starting',
  'batch-7': 'degraded',
  'cache-2': 'recovering',
  'db-1': 'degraded',
  'queue-1': 'ok',
  'web-1': 'ok',
  'web-2': 'ok',
  'web-3': 'ok',
  'web-4': 'ok',
} as const

/** Text a public page must never show: messages, pids, versions and labels of the mixed fleet. */
export const MIXED_SECRETS = ['disk 97%', 'disk 99%', '/var/lib/postgresql', '4242', '811', '2.4.1', '2.4.0', 'eu-west', 'first run pending', 'evictions']
