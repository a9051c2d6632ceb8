// The Workers store. One Durable Object per fleet (or per shard) is the source
// of truth: it runs the store engine over its own SQLite (ctx.storage.sql), so
// next() is applied inside the object's input gate, and its answer leaves only
// once the write is durable (the output gate). The Worker's side
// (DurableObjectStore) asks the object, or — with PROBE_SOURCE=cache — a copy of
// the object's answer cached where the Worker runs, only while that copy can
// prove its answer (docs/architecture.md, "Copies").
import { Courier } from '../notify/courier.ts'
import type { DeliveryResult, OutboxEntry, Silence, SinkStatus } from '../notify/notification.ts'
import { sinksOf } from '../notify/sinks.ts'
import type { NotificationStatus } from './engine.ts'
import { DurableObject } from 'cloudflare:workers'
import type { Heartbeat } from '../heartbeat.ts'
import { type FleetSummary, mergeSummaries } from '../agent-states.ts'
import { type LimitCode, LimitError } from '../limits.ts'
import type { HistoryEvent } from '../history.ts'
import type { ComponentRecord, Declaration } from '../readiness.ts'
import { type Settings, loadSettings } from '../settings.ts'
import { type Copies, copyUntil } from './copies.ts'
import { Inbox } from '../inbox.ts'
import { configureLogging, logEvents } from '../logging.ts'
import { activeTraceparent, contextOf } from '../tracing.ts'
import { context } from '@opentelemetry/api'
import { Engine } from './engine.ts'
import { wakeOf } from './plan-history.ts'
import { type SqlDatabase, SqlDriver } from './sql.ts'
import { type AgentRead, type Counters, type Declared, type EventPage, type EventQuery, type Snapshot, type Store, type TrafficCounter, eventsAfter } from './store.ts'

export interface FleetEnv {
  FLEET: DurableObjectNamespace<Fleet>
}

/** A change's answer, or its refusal by a cap: RPC carries an error's message, not its class or fields. */
export type Refusable<T> =
  | { value: T }
  | { refused: { code: LimitCode; message: string; retryAfter: number | undefined } }

/** Back on the Worker's side of the RPC: the answer, or the LimitError again. */
function valueOf<T>(result: Refusable<T>): T {
  if ('value' in result) return result.value
  const { code, message, retryAfter } = result.refused
  throw new LimitError(code, message, retryAfter)
}

/** A snapshot, or only its counters when the caller already holds the records of that revision. */
export type SnapshotAnswer = Snapshot | { unchanged: true; counters: Counters }

/**
 * A Durable Object's SQLite, as the SQL driver sees it; `watch` sees every
 * cursor once it is read through (its rowsRead and rowsWritten are what Cloudflare bills).
 */
export function objectDatabase(storage: DurableObjectStorage, watch?: (cursor: SqlStorageCursor<Record<string, SqlStorageValue>>) => void): SqlDatabase {
  const exec = (query: string, params: readonly unknown[] = []) => {
    const cursor = storage.sql.exec(query, ...params)
    const rows = cursor.toArray()
    watch?.(cursor)
    return rows
  }
  return {
    exec: (query) => void exec(query),
    run: (query, params) => void exec(query, params),
    all: (query, params = []) => exec(query, params),
    transaction: (fn) => storage.transactionSync(fn),
    close: () => {},
  }
}

/** The RPC methods a Worker's request calls, which carry its trace (Fleet.traced). */
const TRACED_METHODS = new Set([
  'apply', 'declare', 'removeComponent', 'remove', 'sweep', 'snapshot', 'agent', 'summary', 'count', 'events', 'silence', 'unsilence',
  'notificationStatus', 'deliveries', 'settleDeliveries', 'activeAlerts',
] as const)
type TracedMethod = typeof TRACED_METHODS extends Set<infer M> ? M : never

export class Fleet extends DurableObject<FleetEnv> {
  protected settings!: Settings
  private engine!: Engine
  /** When the alarm that drops expired components is set for, as far as this object knows. */
  private alarmAt: number | null = null
  /** Delivers the outbox, when notifications are on. */
  private courier: Courier | undefined
  /** When Alertmanager's firing alerts are next posted again. */
  private resendAt = 0

  constructor(ctx: DurableObjectState, env: FleetEnv) {
    super(ctx, env)
    void ctx.blockConcurrencyWhile(async () => {
      await this.open(await this.loadSettings())
      this.alarmAt = await ctx.storage.getAlarm()
    })
  }

  /** The object's settings: the Worker's vars (a subclass may add to them). */
  protected async loadSettings(): Promise<Settings> {
    return loadSettings(this.env as unknown as Record<string, unknown>, 'workers')
  }

  /** The SQLite the engine stores in (a subclass may watch it). */
  protected database(): SqlDatabase {
    return objectDatabase(this.ctx.storage)
  }

  protected async open(settings: Settings): Promise<void> {
    this.settings = settings
    configureLogging({ severity: settings.logSeverity, format: settings.logFormat })
    // No group commit of the engine's own: the output gate already coalesces the writes of concurrent requests.
    this.engine = await Engine.open(new SqlDriver(this.database()), settings, { storeTrafficCounters: true })
    this.engine.onEvents((events) => this.relay(events))
    this.engine.onEvents(logEvents)
    // A notification written (or a retry planned) is due at some time: the alarm comes by then.
    this.engine.onWake((at) => void this.wakeBy(at))
    const sinks = sinksOf(settings)
    this.courier = sinks.length > 0 ? new Courier(this.engine, sinks) : undefined
  }

  silence(silence: Silence, now: number): Promise<void> {
    return this.engine.silence(silence, now)
  }

  /**
   * Call `method` in the trace of the Worker's request: RPC carries no context of
   * its own, so the Worker's store sends its traceparent with every call it makes
   * inside one (DurableObjectStore.object).
   */
  traced<M extends TracedMethod>(traceparent: string, method: M, args: Parameters<Fleet[M]>): ReturnType<Fleet[M]> {
    if (!TRACED_METHODS.has(method)) throw new Error(`${method} is not a method of the fleet`)
    const call = () => (this[method] as (...a: unknown[]) => ReturnType<Fleet[M]>)(...args)
    const carried = contextOf(traceparent)
    return carried ? context.with(carried, call) : call()
  }

  unsilence(agent: string, now: number): Promise<boolean> {
    return this.engine.unsilence(agent, now)
  }

  notificationStatus(now: number): Promise<NotificationStatus> {
    return this.engine.notificationStatus(now)
  }

  deliveries(now: number, limit: number): Promise<{ key: string; entry: OutboxEntry }[]> {
    return this.engine.deliveries(now, limit)
  }

  settleDeliveries(results: DeliveryResult[], now: number): Promise<void> {
    return this.engine.settleDeliveries(results, now)
  }

  activeAlerts(now: number): Promise<ComponentRecord[]> {
    return this.engine.activeAlerts(now)
  }

  apply(batch: Heartbeat[], now: number): Promise<Refusable<ComponentRecord[]>> {
    return this.refusable(() => this.engine.apply(batch, now), (records) => records)
  }

  declare(declaration: Declaration, now: number): Promise<Refusable<Declared>> {
    return this.refusable(() => this.engine.declare(declaration, now), ({ record }) => [record])
  }

  removeComponent(agent: string, component: string, now: number): Promise<boolean> {
    return this.engine.removeComponent(agent, component, now)
  }

  /** A change, with the alarm brought forward to the next deadline or expiry of what it wrote; a refusal comes back as a value. */
  private async refusable<T>(change: () => Promise<T>, written: (value: T) => ComponentRecord[]): Promise<Refusable<T>> {
    try {
      const value = await change()
      const now = Date.now()
      await this.wakeBy(Math.min(...written(value).map((record) => wakeOf(record, now, this.settings))))
      return { value }
    } catch (error) {
      if (!(error instanceof LimitError)) throw error
      return { refused: { code: error.code, message: error.message, retryAfter: error.retryAfter } }
    }
  }

  remove(agent: string, now: number): Promise<number> {
    return this.engine.remove(agent, now)
  }

  sweep(now: number): Promise<number> {
    return this.engine.sweep(now)
  }

  /** The fleet; only its counters when `known` is the revision of the records the caller holds. */
  async snapshot(now: number, known?: number): Promise<SnapshotAnswer> {
    const snapshot = await this.engine.snapshot(now)
    if (known === snapshot.revision) return { unchanged: true, counters: snapshot.counters }
    return snapshot
  }

  async agent(agent: string, now: number): Promise<readonly ComponentRecord[]> {
    return (await this.engine.agent(agent, now)).records
  }

  summary(now: number): Promise<FleetSummary> {
    return this.engine.summary(now)
  }

  count(counter: TrafficCounter, label: string): Promise<void> {
    return this.engine.count(counter, label)
  }

  /** A page of history, from this object's part of the fleet. */
  events(query: EventQuery): Promise<EventPage> {
    return this.engine.events(query)
  }

  /**
   * A WebSocket that is sent every event as it is stored, as a JSON array: how
   * a Worker follows the history for /v1/events/stream. Accepted with the
   * hibernation API, so the object sleeps while its watchers wait, and idle
   * watchers cost nothing.
   */
  override async fetch(request: Request): Promise<Response> {
    if (request.headers.get('Upgrade') !== 'websocket') return new Response('expected a WebSocket upgrade', { status: 426 })
    const { 0: client, 1: server } = new WebSocketPair()
    this.ctx.acceptWebSocket(server)
    return new Response(null, { status: 101, webSocket: client })
  }

  override async webSocketClose(ws: WebSocket, code: number, reason: string): Promise<void> {
    ws.close(code, reason)
  }

  /** Record what happened since the last wake (deadlines passed, expiries), and wake again when the next thing is due. */
  async alarm(): Promise<void> {
    const now = Date.now()
    this.alarmAt = null
    await this.engine.sweep(now)
    let next = this.engine.nextWake(now)
    if (this.courier) {
      await this.courier.drain()
      if (this.settings.alertmanagerUrls.length > 0) {
        if (now >= this.resendAt) {
          await this.courier.resend()
          this.resendAt = now + this.settings.alertmanagerResendSeconds * 1000
        }
        if ((await this.engine.activeAlerts(now)).length > 0) next = Math.min(next, this.resendAt)
      }
      next = Math.min(next, this.engine.nextWake(Date.now()))
    }
    // At least once a day, so history past HISTORY_DAYS goes even in a fleet where nothing is due;
    // never sooner than a second from now, so a delivery that keeps failing is not a busy loop.
    await this.wakeBy(Math.max(Math.min(next, now + 86_400_000), Date.now() + 1000))
  }

  /** Send each stored event to every watcher's socket; a socket that fails is the watcher's to reopen. */
  private relay(events: readonly HistoryEvent[]): void {
    const sockets = this.ctx.getWebSockets()
    if (sockets.length === 0) return
    const data = JSON.stringify(events)
    for (const socket of sockets) {
      try {
        socket.send(data)
      } catch {
        // closed under us: its Worker sees the close and reconnects
      }
    }
  }

  /**
   * Something is due at `at` (a deadline, an expiry): make sure the alarm comes
   * by then. Once set, an alarm is never later than the earliest thing due: each
   * write brings it forward to what it wrote is due, so a write costs no scan of
   * the fleet.
   */
  private async wakeBy(at: number): Promise<void> {
    if (!Number.isFinite(at)) return
    if (this.alarmAt !== null && this.alarmAt <= at) return
    this.alarmAt = at
    await this.ctx.storage.setAlarm(at)
  }
}

/** FNV-1a: a small, stable hash, so an agent always lands on the same shard. */
function shardOf(agent: string, shards: number): number {
  let hash = 0x811c9dc5
  for (let i = 0; i < agent.length; i++) hash = Math.imul(hash ^ agent.charCodeAt(i), 0x01000193)
  return (hash >>> 0) % shards
}

export interface DurableObjectStoreOptions {
  /** The object names are `${fleetName}` (or `${fleetName}-0` … with shards). */
  fleetName?: string
  namespace?: DurableObjectNamespace<Fleet>
  /** Where cached copies live with PROBE_SOURCE=cache (by default the Cache API of the data center). */
  copies?: Copies
}

/**
 * The Store the Worker's app sees: every write and every fleet read goes to the
 * fleet's Durable Object; /readyz and /readyz/:agent ask the object, or, with
 * PROBE_SOURCE=cache, a cached copy of its answer while the copy can prove it.
 *
 * With SHARDS = N > 1 the fleet is spread over N objects by a hash of the agent
 * id ("fleet-0" … "fleet-N-1"); fleet reads merge them. All of one agent's
 * heartbeats go to one object, so a batch about one agent stays atomic; a batch
 * about several agents is applied per shard.
 *
 * It keeps the last snapshot of each object it read, by revision: an object
 * whose records have not changed since sends only its counters.
 */
export class DurableObjectStore implements Store {
  private readonly namespace: DurableObjectNamespace<Fleet>
  private readonly settings: Settings
  private readonly names: string[]
  private readonly copies: Copies | undefined
  private readonly held = new Map<string, Snapshot>()

  constructor(env: FleetEnv, settings: Settings, options: DurableObjectStoreOptions = {}) {
    const fleetName = options.fleetName ?? 'fleet'
    this.namespace = options.namespace ?? env.FLEET
    this.settings = settings
    this.names = settings.shards === 1 ? [fleetName] : Array.from({ length: settings.shards }, (_, i) => `${fleetName}-${i}`)
    this.copies = settings.probeSource === 'cache' ? options.copies : undefined
  }

  /** A stub per call: a stub belongs to the request that made it, and this store outlives requests. */
  /** The fleet's object, its calls carrying the trace of the request they are made in, if any. */
  private object(name: string): DurableObjectStub<Fleet> {
    const stub = this.namespace.getByName(name)
    const traceparent = activeTraceparent()
    if (!traceparent) return stub
    return new Proxy(stub, {
      get: (target, key) =>
        typeof key === 'string' && TRACED_METHODS.has(key as TracedMethod)
          ? (...args: unknown[]) => target.traced(traceparent, key as TracedMethod, args as never)
          : Reflect.get(target, key),
    })
  }

  private nameFor(agent: string): string {
    return this.names[shardOf(agent, this.names.length)]!
  }

  async apply(batch: readonly Heartbeat[], now: number): Promise<ComponentRecord[]> {
    if (this.names.length === 1) return valueOf(await this.object(this.names[0]!).apply([...batch], now))
    const byShard = new Map<number, number[]>() // shard → positions in the batch
    batch.forEach((heartbeat, i) => {
      const shard = shardOf(heartbeat.agent, this.names.length)
      byShard.set(shard, [...(byShard.get(shard) ?? []), i])
    })
    const results: ComponentRecord[] = new Array(batch.length)
    await Promise.all(
      [...byShard].map(async ([shard, positions]) => {
        const records = valueOf(await this.object(this.names[shard]!).apply(positions.map((i) => batch[i]!), now))
        positions.forEach((position, j) => (results[position] = records[j]!))
      }),
    )
    return results
  }

  async declare(declaration: Declaration, now: number): Promise<Declared> {
    return valueOf(await this.object(this.nameFor(declaration.agent)).declare(declaration, now))
  }

  removeComponent(agent: string, component: string, now: number): Promise<boolean> {
    return this.object(this.nameFor(agent)).removeComponent(agent, component, now)
  }

  remove(agent: string, now: number): Promise<number> {
    return this.object(this.nameFor(agent)).remove(agent, now)
  }

  silence(silence: Silence, now: number): Promise<void> {
    return this.object(this.nameFor(silence.agent)).silence(silence, now)
  }

  unsilence(agent: string, now: number): Promise<boolean> {
    return this.object(this.nameFor(agent)).unsilence(agent, now)
  }

  async notificationStatus(now: number): Promise<NotificationStatus> {
    const parts = await Promise.all(this.names.map((name) => this.object(name).notificationStatus(now)))
    return mergeNotificationStatus(parts)
  }

  // Each object delivers its own outbox from its alarm; these are for whoever reads it from outside (the store suite).
  async deliveries(now: number, limit: number): Promise<{ key: string; entry: OutboxEntry }[]> {
    const parts = await Promise.all(this.names.map((name) => this.object(name).deliveries(now, limit)))
    return parts.flat().slice(0, limit)
  }

  async settleDeliveries(results: readonly DeliveryResult[], now: number): Promise<void> {
    // A key names no shard; each object settles the keys it holds and ignores the rest.
    await Promise.all(this.names.map((name) => this.object(name).settleDeliveries([...results], now)))
  }

  async activeAlerts(now: number): Promise<ComponentRecord[]> {
    return (await Promise.all(this.names.map((name) => this.object(name).activeAlerts(now)))).flat()
  }

  async sweep(now: number): Promise<number> {
    const expired = await Promise.all(this.names.map((name) => this.object(name).sweep(now)))
    return expired.reduce((a, b) => a + b, 0)
  }

  async snapshot(now: number): Promise<Snapshot> {
    const parts = await Promise.all(this.names.map((name) => this.snapshotOf(name, now)))
    if (parts.length === 1) return parts[0]!
    return mergeSnapshots(parts)
  }

  async agent(agent: string, now: number): Promise<AgentRead> {
    const name = this.nameFor(agent)
    const ask = async () => {
      const records = await this.object(name).agent(agent, now)
      // An unknown agent is not kept: the next heartbeat may register it.
      return { data: records, validUntil: records.length > 0 ? copyUntil(records, now, this.settings) : now }
    }
    const { data, copiedAt } = await this.read(`agent/${name}/${agent}`, now, ask)
    return copiedAt === undefined ? { records: data } : { records: data, copiedAt }
  }

  async summary(now: number): Promise<FleetSummary> {
    const parts = await Promise.all(
      this.names.map(async (name) => {
        const ask = async () => {
          const summary = await this.object(name).summary(now)
          return { data: summary, validUntil: Math.min(summary.validUntil ?? Infinity, now + this.settings.copyMaxAgeSeconds * 1000) }
        }
        const { data, copiedAt } = await this.read(`summary/${name}`, now, ask)
        return copiedAt === undefined ? data : { ...data, copiedAt }
      }),
    )
    return mergeSummaries(parts)
  }

  /** A cached copy while it holds at `now`, else the object's answer (kept as a copy where it may be). */
  private async read<T>(key: string, now: number, ask: () => Promise<{ data: T; validUntil: number }>): Promise<{ data: T; copiedAt?: number }> {
    if (!this.copies) return { data: (await ask()).data }
    const copy = await this.copies.get<T>(key)
    if (copy && now >= copy.madeAt && now <= copy.validUntil) return { data: copy.data, copiedAt: copy.madeAt }
    const { data, validUntil } = await ask()
    await this.copies.put(key, { madeAt: now, validUntil, data })
    return { data }
  }

  private async snapshotOf(name: string, now: number): Promise<Snapshot> {
    const held = this.held.get(name)
    // What this isolate holds is still the records of its revision until the next expiry.
    const current = held && now <= held.validUntil ? held : undefined
    const answer = await this.object(name).snapshot(now, current?.revision)
    if ('unchanged' in answer) return { ...current!, counters: answer.counters }
    this.held.set(name, answer)
    return answer
  }

  /** One agent's page from its shard; the fleet's, merged from every shard's in seq order. */
  async events(query: EventQuery): Promise<EventPage> {
    if (query.agent !== undefined) return this.object(this.nameFor(query.agent)).events(query)
    if (this.names.length === 1) return this.object(this.names[0]!).events(query)
    const pages = await Promise.all(this.names.map((name) => this.object(name).events(query)))
    const merged = pages.flatMap((page) => page.events).sort((a, b) => a.seq - b.seq)
    return { events: merged.slice(0, query.limit), more: merged.length > query.limit || pages.some((page) => page.more) }
  }

  /**
   * Each shard's events as they are stored, through a WebSocket its object
   * accepts with the hibernation API (it sleeps while nothing happens), after
   * those recorded since `after`. Shards keep their own clocks, so across shards
   * the order is each one's own, and an event is told once.
   */
  async *watch(after: number | undefined, signal: AbortSignal): AsyncIterable<HistoryEvent> {
    const inbox = new Inbox<HistoryEvent>()
    const sockets = await Promise.all(
      this.names.map(async (name) => {
        const answer = await this.object(name).fetch('https://fleet/watch', { headers: { Upgrade: 'websocket' } })
        const socket = answer.webSocket
        if (!socket) throw new Error(`the fleet object ${name} did not accept a watch (HTTP ${answer.status})`)
        socket.accept()
        socket.addEventListener('message', (message) => inbox.push(...(JSON.parse(String(message.data)) as HistoryEvent[])))
        // An object that goes away ends the watch; the client reconnects from the last event it saw.
        socket.addEventListener('close', () => inbox.close())
        return socket
      }),
    )
    const told = new Set<string>()
    const once = (event: HistoryEvent) => {
      const id = `${event.seq}/${event.agent}`
      if (told.has(id)) return false
      told.add(id)
      if (told.size > 10_000) told.delete(told.values().next().value!)
      return true
    }
    try {
      if (after !== undefined) for await (const event of eventsAfter(this, after, signal)) if (once(event)) yield event
      for await (const event of inbox.read(signal)) if (once(event)) yield event
    } finally {
      for (const socket of sockets) socket.close(1000, 'done')
    }
  }

  /** Traffic counters live in the first shard. */
  count(counter: TrafficCounter, label: string): Promise<void> {
    return this.object(this.names[0]!).count(counter, label)
  }

  async close(): Promise<void> {}
}

/** `pick` of two times either of which may be unknown (null): the one that is known, or null. */
const known = (pick: (a: number, b: number) => number, a: number | null, b: number | null) => (a === null ? b : b === null ? a : pick(a, b))

function mergeSnapshots(parts: Snapshot[]): Snapshot {
  const sum = (a: Record<string, number>, b: Record<string, number>) => {
    for (const [label, n] of Object.entries(b)) a[label] = (a[label] ?? 0) + n
    return a
  }
  return parts.reduce((merged, part) => ({
    records: [...merged.records, ...part.records],
    counters: {
      received: merged.counters.received + part.counters.received,
      missed: merged.counters.missed + part.counters.missed,
      expired: merged.counters.expired + part.counters.expired,
      historyDropped: merged.counters.historyDropped + part.counters.historyDropped,
      rejected: sum({ ...merged.counters.rejected }, part.counters.rejected),
      scrapes: sum({ ...merged.counters.scrapes }, part.counters.scrapes),
      notifications: sum({ ...merged.counters.notifications }, part.counters.notifications),
      oldestPending: known(Math.min, merged.counters.oldestPending, part.counters.oldestPending),
    },
    // Each part's revision only grows, so their sum changes whenever any part does.
    revision: merged.revision + part.revision,
    validUntil: Math.min(merged.validUntil, part.validUntil),
  }))
}

/** The status of several shards as one: each sink's pending summed, its latest times and error. */
function mergeNotificationStatus(parts: readonly NotificationStatus[]): NotificationStatus {
  if (parts.length === 1) return parts[0]!
  const sinks = new Map<string, SinkStatus>()
  for (const part of parts) {
    for (const s of part.sinks) {
      const held = sinks.get(s.sink)
      if (!held) {
        sinks.set(s.sink, { ...s })
        continue
      }
      held.pending += s.pending
      held.oldestPending = known(Math.min, held.oldestPending, s.oldestPending)
      held.lastDelivered = known(Math.max, held.lastDelivered, s.lastDelivered)
      if ((s.lastErrorAt ?? -1) > (held.lastErrorAt ?? -1)) Object.assign(held, { lastError: s.lastError, lastErrorAt: s.lastErrorAt })
    }
  }
  return {
    sinks: [...sinks.values()].sort((a, b) => (a.sink < b.sink ? -1 : 1)),
    silences: parts.flatMap((p) => p.silences).sort((a, b) => (a.agent < b.agent ? -1 : 1)),
    mass: parts.find((p) => p.mass)?.mass ?? null,
  }
}
