// The store engine: the one implementation of the Store port, over any driver
// (lib/stores/driver.ts). It keeps the fleet in memory (lib/stores/fleet-state.ts),
// plans every change there with next(), the caps and the rate limit
// (lib/stores/plan.ts), has the driver store the plan atomically, and only then
// applies it to memory — so memory is never ahead of what is stored, and a
// failed write leaves both unchanged. Reads never touch the driver.
//
// Changes run one group at a time, in arrival order. Heartbeat batches that
// queue while a commit is under way (or within one turn of the event loop, with
// `groupCommit`) share the next commit: one fsync for all of them, each request
// answered once it is stored; a batch refused by a cap fails alone.
//
// A shared driver (Deno KV on Deno Deploy, where isolates write the same data)
// is caught up with before every change and every read, and refuses a commit
// that raced another writer: the group is then planned again on the new state.
import type { FleetSummary } from '../agent-states.ts'
import type { Heartbeat } from '../heartbeat.ts'
import { DAY_MS, type HistoryEvent, seqBefore, seqKey } from '../history.ts'
import { type ComponentRecord, type Declaration, type StoredRecord, completeRecord } from '../readiness.ts'
import type { Driver, Kind, Write } from './driver.ts'
import { type CounterKey, FleetState, type SinkRecord } from './fleet-state.ts'
import { Inbox } from '../inbox.ts'
import { activeContext, inSpan, inSpanSync, linkTo } from '../tracing.ts'
import type { Context } from '@opentelemetry/api'
import { wakeOf } from './plan-history.ts'
import { type Change, Planner, type PlannerSettings, addCount, emptyChange, isEmpty } from './plan.ts'
import type { DeliveryResult, OutboxEntry, Silence, SinkStatus } from '../notify/notification.ts'
import { type MassSilence, planNotifications, remindOf } from './plan-notify.ts'
import { type AgentRead, type Declared, type EventPage, type EventQuery, type Snapshot, type Store, type TrafficCounter, eventsAfter } from './store.ts'

export interface EngineOptions {
  /**
   * Group commit: called with the engine's flush when a change arrives while
   * none is under way; the runtime's way to run it after the pending I/O
   * callbacks (setImmediate) lets the requests of one turn share a commit.
   * Without it the change starts at once, and only those that arrive while it
   * is being stored wait for the next commit together.
   */
  groupCommit?: ((flush: () => void) => void) | undefined
  /**
   * Store the traffic counters (rejections, scrapes) too. Where memory does not
   * outlive a request (a Durable Object, Deno Deploy) they must be; a
   * long-running process keeps them in memory, so that a flood of bad requests
   * does not become a flood of disk writes.
   */
  storeTrafficCounters?: boolean | undefined
}

export type EngineSettings = PlannerSettings

/** What GET /v1/notifications shows: each sink, the silences in force, and a fleet-wide silence. */
export interface NotificationStatus {
  sinks: SinkStatus[]
  silences: Silence[]
  mass: MassSilence | null
}

/** Commits in a row that met a concurrent writer before a change gives up (the client sees an error, not a false 200). */
const MAX_ATTEMPTS = 20
/** The revision of epoch n starts at n × this: room for 2³² changes an opening, and 2²¹ openings. */
const REVISIONS_PER_EPOCH = 2 ** 32

interface Waiting<T> {
  resolve: (value: T) => void
  reject: (error: unknown) => void
  /** The trace context it was asked for in: its commit's span is a child of the first job's, linked to the others'. */
  asked?: Context
}
type Job =
  | ({ kind: 'batch'; batch: readonly Heartbeat[]; now: number } & Waiting<ComponentRecord[]>)
  | ({ kind: 'count'; key: CounterKey } & Waiting<void>)
  | ({ kind: 'alone'; plan: (state: FleetState) => Change } & Waiting<Change>)

export class Engine implements Store {
  private state: FleetState
  private readonly driver: Driver
  private readonly planner: Planner
  private readonly settings: EngineSettings
  private readonly groupCommit: EngineOptions['groupCommit']
  private readonly storeTrafficCounters: boolean
  private readonly queue: Job[] = []
  /** The flush under way, if any. */
  private flushing: Promise<void> | undefined
  private scheduled = false
  /** The driver's sequence memory is at (shared drivers only). */
  private sequence = 0
  /** Serialises catching up with the writes to memory, for shared drivers. */
  private exclusive: Promise<unknown> = Promise.resolve()
  /** How many times the stored data has been opened (meta `epoch`). */
  private epoch = 0
  /** Who is told of each event once it is stored: watch() streams, and the Durable Object's sockets. */
  private readonly listeners = new Set<(events: readonly HistoryEvent[]) => void>()
  /** Who is told when a change makes the next wake (nextWake) earlier: a server's sweep timer. */
  private readonly wakeListeners = new Set<(at: number) => void>()

  /**
   * Open an engine over what the driver holds. Each opening stores a new epoch,
   * and the revision starts from it: so it never goes back across a restart,
   * though no commit stores it (a heartbeat writes its component's row only).
   */
  static async open(driver: Driver, settings: EngineSettings, options: EngineOptions = {}): Promise<Engine> {
    const engine = new Engine(driver, settings, options)
    if (driver.changesSince) engine.sequence = (await driver.changesSince(-1)).sequence
    await engine.reload()
    const epoch = engine.epoch + 1
    const stamp = emptyChange(0)
    stamp.meta.set('epoch', epoch)
    await engine.alone(() => stamp)
    engine.state.revision = Math.max(engine.state.revision, epoch * REVISIONS_PER_EPOCH)
    return engine
  }

  /** An engine over a driver known to be empty (a fresh memory driver): nothing to read. */
  constructor(driver: Driver, settings: EngineSettings, options: EngineOptions = {}) {
    this.driver = driver
    this.settings = settings
    this.planner = new Planner(settings)
    this.state = new FleetState(settings)
    this.groupCommit = options.groupCommit
    this.storeTrafficCounters = options.storeTrafficCounters ?? false
  }

  apply(batch: readonly Heartbeat[], now: number): Promise<ComponentRecord[]> {
    return this.enqueue<ComponentRecord[]>((waiting) => ({ kind: 'batch', batch, now, ...waiting }))
  }

  async declare(declaration: Declaration, now: number): Promise<Declared> {
    const change = await this.alone((state) => this.planner.declare(state, declaration, now))
    return { record: change.results[0]!, created: change.added.allComponents > 0 }
  }

  async removeComponent(agent: string, component: string, now: number): Promise<boolean> {
    const change = await this.alone((state) => this.planner.removeComponent(state, agent, component, now))
    return change.results.length > 0
  }

  async remove(agent: string, now: number): Promise<number> {
    const parts = await this.inParts((state, max) => this.planner.remove(state, agent, now, max))
    return parts.reduce((n, change) => n + change.results.length, 0)
  }

  async sweep(now: number): Promise<number> {
    await this.driver.verify?.()
    const parts = await this.inParts((state, max) => this.planner.sweep(state, now, max))
    await this.dropOldEvents(now)
    return parts.reduce((n, change) => n + (change.counts.get('expired') ?? 0), 0)
  }

  /** Events recorded before the history window, in the feed and under their agents, a commit's worth at a time. */
  private async dropOldEvents(now: number): Promise<void> {
    const end = seqKey(seqBefore(now - this.planner.settings.historyDays * DAY_MS) + 1)
    const max = this.driver.maxHeartbeatsPerCommit ?? 1000
    for (;;) {
      const old = await this.driver.list('feed', { end, limit: max })
      if (old.length === 0) return
      const change = emptyChange(now)
      for (const { value } of old) change.history.droppedEvents.push({ agent: (value as HistoryEvent).agent, seq: (value as HistoryEvent).seq })
      await this.alone(() => change)
      if (old.length < max) return
    }
  }

  /**
   * Events, newest first: one agent's (before `before`, a seq), or the fleet's
   * recorded after `after` (a seq), oldest first. `more`: the page was full.
   */
  async events(query: EventQuery): Promise<EventPage> {
    await this.catchUp()
    const limit = query.limit
    const entries =
      query.agent === undefined
        ? await this.driver.list('feed', { start: seqKey((query.after ?? 0) + 1), limit: limit + 1 })
        : await this.driver.list('event', {
            prefix: `${query.agent}\u0000`,
            ...(query.before === undefined ? {} : { end: `${query.agent}\u0000${seqKey(query.before)}` }),
            reverse: true,
            limit: limit + 1,
          })
    const events = entries.slice(0, limit).map((entry) => entry.value as HistoryEvent)
    return { events, more: entries.length > limit }
  }

  async count(counter: TrafficCounter, label: string): Promise<void> {
    const key: CounterKey = `${counter}:${label}`
    if (!this.storeTrafficCounters) {
      this.state.setCounter(key, this.state.counter(key) + 1)
      return
    }
    return this.enqueue<void>((waiting) => ({ kind: 'count', key, ...waiting }))
  }

  async snapshot(now: number): Promise<Snapshot> {
    await this.catchUp()
    return this.state.snapshot(now)
  }

  async agent(agent: string, now: number): Promise<AgentRead> {
    await this.catchUp()
    return { records: this.state.agentRecords(agent, now) }
  }

  async summary(now: number): Promise<FleetSummary> {
    await this.catchUp()
    return this.state.summary(now)
  }

  async *watch(after: number | undefined, signal: AbortSignal): AsyncIterable<HistoryEvent> {
    const inbox = new Inbox<HistoryEvent>()
    // Listen first, then read what was stored: nothing recorded in between is missed, and seq drops what came twice.
    const stop = this.onEvents((events) => inbox.push(...events))
    try {
      let last = after ?? this.state.lastEventSeq
      if (after !== undefined) {
        for await (const event of eventsAfter(this, after, signal)) {
          last = event.seq
          yield event
        }
      }
      for await (const event of inbox.read(signal)) {
        if (event.seq <= last) continue
        last = event.seq
        yield event
      }
    } finally {
      stop()
    }
  }

  /**
   * The next instant (ms) at which something changes with no request — a
   * deadline passes (to be recorded as it happens), a component expires — or
   * Infinity. A server sweeps then.
   */
  nextWake(now: number): number {
    let at = Infinity
    for (const record of this.state.records.values()) at = Math.min(at, wakeOf(record, now, this.planner.settings), remindOf(record))
    for (const entry of this.state.outbox.values()) at = Math.min(at, entry.due)
    for (const silence of this.state.silences.values()) at = Math.min(at, silence.until)
    return at
  }

  /** The alerts that are on at `now` (told, not quiet), for Alertmanager's re-sends. */
  async activeAlerts(now: number): Promise<ComponentRecord[]> {
    await this.catchUp()
    const out: ComponentRecord[] = []
    for (const record of this.state.records.values()) if (record.alert && !record.alert.quiet && record.alert.due <= now) out.push(record)
    return out
  }

  async silence(silence: Silence, now: number): Promise<void> {
    await this.alone((state) => this.planner.silence(state, silence, now))
  }

  async unsilence(agent: string, now: number): Promise<boolean> {
    const change = await this.alone((state) => this.planner.unsilence(state, agent, now))
    return change.silences.size > 0
  }

  async notificationStatus(now: number): Promise<NotificationStatus> {
    await this.catchUp()
    const { outbox, silences, sinks, mass } = this.state
    const names = new Set([...this.planner.notify.sinks, ...sinks.keys()])
    const status = new Map<string, SinkStatus>()
    for (const sink of names) {
      const record = sinks.get(sink)
      status.set(sink, { sink, pending: 0, oldestPending: null, lastDelivered: record?.lastDelivered ?? null, lastError: record?.lastError ?? null, lastErrorAt: record?.lastErrorAt ?? null })
    }
    for (const entry of outbox.values()) {
      const sink = status.get(entry.sink)
      if (!sink) continue
      sink.pending++
      sink.oldestPending = Math.min(sink.oldestPending ?? Infinity, entry.created)
    }
    return {
      sinks: [...status.values()].sort((a, b) => (a.sink < b.sink ? -1 : 1)),
      silences: [...silences.values()].filter((s) => s.until > now).sort((a, b) => (a.agent < b.agent ? -1 : 1)),
      mass: mass ?? null,
    }
  }

  /**
   * Notifications to deliver at `now`, at most `limit`: each sink's in the order
   * they happened, and none of a component whose earlier notification still waits
   * (a `down` retrying holds back the `up` after it).
   */
  async deliveries(now: number, limit: number): Promise<{ key: string; entry: OutboxEntry }[]> {
    await this.catchUp()
    const out: { key: string; entry: OutboxEntry }[] = []
    const waiting = new Set<string>()
    for (const key of [...this.state.outbox.keys()].sort()) {
      if (out.length >= limit) break
      const entry = this.state.outbox.get(key)!
      const { agent, component } = entry.notification
      const subject = `${entry.sink}\u0000${agent}\u0000${component}`
      if (waiting.has(subject)) continue
      if (entry.due > now) {
        if (agent !== '') waiting.add(subject)
        continue
      }
      if (agent !== '') waiting.add(subject)
      out.push({ key, entry })
    }
    return out
  }

  /** Store what the deliveries came to, in one write: taken ones leave the outbox, failed ones wait for their retry. */
  async settleDeliveries(results: readonly DeliveryResult[], now: number): Promise<void> {
    if (results.length === 0) return
    await this.alone((state) => {
      const change = emptyChange(now, state.lastEventSeq)
      const sinks = new Map<string, SinkRecord>()
      for (const result of results) {
        const entry = state.outbox.get(result.key)
        if (!entry) continue
        const sink = sinks.get(entry.sink) ?? { ...(state.sinks.get(entry.sink) ?? { lastDelivered: null, lastError: null, lastErrorAt: null }) }
        sinks.set(entry.sink, sink)
        addCount(change, `notifications:${result.outcome}:${entry.sink}`)
        if (result.outcome === 'delivered') {
          change.outbox.set(result.key, undefined)
          sink.lastDelivered = now
        } else {
          sink.lastError = result.error
          sink.lastErrorAt = now
          change.outbox.set(result.key, result.outcome === 'dropped' ? undefined : { ...entry, attempts: entry.attempts + 1, due: result.retryAt, lastError: result.error })
        }
      }
      for (const [name, sink] of sinks) change.meta.set(`sink:${name}`, sink)
      return change
    })
  }

  /** Be told when a stored change brings the next wake earlier than it was; returns the way to stop. */
  onWake(listener: (at: number) => void): () => void {
    this.wakeListeners.add(listener)
    return () => this.wakeListeners.delete(listener)
  }

  /** Be told of every event once it is stored (for those who relay them elsewhere); returns the way to stop. */
  onEvents(listener: (events: readonly HistoryEvent[]) => void): () => void {
    this.listeners.add(listener)
    return () => this.listeners.delete(listener)
  }

  private publish(events: readonly HistoryEvent[]): void {
    for (const listener of this.listeners) {
      try {
        listener(events)
      } catch (error) {
        console.error(error) // a listener's failure is its own: the change is stored, and every other listener is told
      }
    }
  }

  /** Finish what is queued, then close the driver. */
  async close(): Promise<void> {
    this.flush()
    await this.flushing
    await this.driver.close()
  }

  /**
   * A change that may touch any number of records, stored as commits of at most
   * the driver's limit, each planned on what is left, until one is short.
   * Resolves with the stored parts.
   */
  private async inParts(plan: (state: FleetState, max: number) => Change): Promise<Change[]> {
    const max = this.driver.maxHeartbeatsPerCommit ?? Infinity
    const parts: Change[] = []
    for (;;) {
      const change = await this.alone((state) => plan(state, max))
      parts.push(change)
      if (change.deletes.size + change.upserts.size < max) return parts
    }
  }

  /** A change that commits on its own, planned on the state it finds. */
  private alone(plan: (state: FleetState) => Change): Promise<Change> {
    return this.enqueue<Change>((waiting) => ({ kind: 'alone', plan, ...waiting }))
  }

  private enqueue<T>(job: (waiting: Waiting<T>) => Job): Promise<T> {
    return new Promise<T>((resolve, reject) => {
      this.queue.push(job({ resolve, reject, asked: activeContext() } as Waiting<T>))
      if (this.flushing || this.scheduled) return
      if (this.groupCommit) {
        this.scheduled = true
        this.groupCommit(() => {
          this.scheduled = false
          this.flush()
        })
      } else this.flush()
    })
  }

  private flush(): void {
    if (this.flushing || this.queue.length === 0) return
    this.flushing = (async () => {
      try {
        while (this.queue.length > 0) await this.run(this.takeGroup())
      } finally {
        this.flushing = undefined
      }
    })()
  }

  /** The jobs at the head of the queue that share one commit: batches and counts, or one job alone. */
  private takeGroup(): Job[] {
    const first = this.queue.shift()!
    if (first.kind === 'alone') return [first]
    const group: Job[] = [first]
    const max = this.driver.maxHeartbeatsPerCommit ?? Infinity
    let heartbeats = first.kind === 'batch' ? first.batch.length : 0
    for (let job = this.queue[0]; job && job.kind !== 'alone'; job = this.queue[0]) {
      if (job.kind === 'batch' && heartbeats + job.batch.length > max) break
      heartbeats += job.kind === 'batch' ? job.batch.length : 0
      group.push(this.queue.shift()!)
    }
    return group
  }

  /**
   * Plan a group on what is stored now, store it, then let memory follow; again
   * after a race. Never throws: a failure is every waiting request's answer.
   */
  private run(group: Job[]): Promise<void> {
    const heartbeats = group.reduce((n, job) => n + (job.kind === 'batch' ? job.batch.length : 0), 0)
    const links = group.slice(1).flatMap((job) => (job.asked ? [linkTo(job.asked)].filter((l) => l !== undefined) : []))
    const attributes = { 'pulsegate.commit.jobs': group.length, 'pulsegate.commit.heartbeats': heartbeats }
    return inSpan('store.commit', attributes, () => this.runNow(group), { parent: group[0]!.asked, links })
  }

  private async runNow(group: Job[]): Promise<void> {
    for (let attempt = 1; ; attempt++) {
      let planned
      try {
        planned = await this.inOrder(async () => {
          await this.catchUpNow()
          const { change, accepted } = inSpanSync('store.plan', {}, () => this.plan(group))
          if (isEmpty(change)) return { change, accepted, stored: true }
          const writes = this.writesOf(change)
          const sequence = await inSpan('store.write', { 'pulsegate.commit.writes': writes.length }, () => this.driver.commit(writes, this.sequence))
          if (sequence === false) return { change, accepted, stored: false }
          this.sequence = sequence
          this.applyChange(change)
          return { change, accepted, stored: true }
        })
      } catch (error) {
        // A job already answered (refused by a cap) ignores a second answer.
        for (const job of group) job.reject(error)
        return
      }
      const { change, accepted, stored } = planned
      if (stored) return this.answer(accepted, change)
      if (attempt === MAX_ATTEMPTS) {
        const error = new Error(`${MAX_ATTEMPTS} commits in a row met a concurrent change`)
        for (const job of accepted) job.reject(error)
        return
      }
      group = accepted // a batch refused by a cap stays refused
      // Jittered, growing: writers that collided do not collide again in step.
      await new Promise((resolve) => setTimeout(resolve, Math.random() * Math.min(100, 2 ** attempt)))
    }
  }

  /** Each job planned on top of those before it; one refused by a cap or the rate limit fails alone. */
  private plan(group: Job[]): { change: Change; accepted: Job[] } {
    let change: Change | undefined
    const accepted: Job[] = []
    for (const job of group) {
      try {
        if (job.kind === 'alone') change = job.plan(this.state)
        else if (job.kind === 'batch') change = this.planner.batch(this.state, job.batch, job.now, change)
        else addCount((change ??= emptyChange(0)), job.key)
        accepted.push(job)
      } catch (error) {
        job.reject(error)
      }
    }
    const planned = change ?? emptyChange(0)
    planNotifications(planned, this.state, this.planner.notify)
    if (planned.history.capped > 0) {
      addCount(planned, 'history_dropped', planned.history.capped)
      planned.history.capped = 0
    }
    return { change: planned, accepted }
  }

  private answer(accepted: Job[], change: Change): void {
    let offset = 0
    for (const job of accepted) {
      if (job.kind === 'batch') {
        job.resolve(change.results.slice(offset, offset + job.batch.length))
        offset += job.batch.length
      } else if (job.kind === 'count') job.resolve()
      else job.resolve(change)
    }
  }

  /** What the driver stores for a change: every record touched, counters at their new values, the engine's own entries. */
  private writesOf(change: Change): Write[] {
    const writes: Write[] = []
    for (const key of change.deletes) writes.push({ kind: 'component', key, value: undefined })
    for (const [key, record] of change.upserts) writes.push({ kind: 'component', key, value: record })
    for (const [key, n] of change.counts) writes.push({ kind: 'counter', key, value: this.state.counter(key) + n })
    for (const [key, value] of change.meta) writes.push({ kind: 'meta', key, value })
    for (const { agent, seq } of change.history.droppedEvents) {
      writes.push({ kind: 'event', key: `${agent}\u0000${seqKey(seq)}`, value: undefined })
      writes.push({ kind: 'feed', key: seqKey(seq), value: undefined })
    }
    for (const event of change.history.events) {
      writes.push({ kind: 'event', key: `${event.agent}\u0000${seqKey(event.seq)}`, value: event })
      writes.push({ kind: 'feed', key: seqKey(event.seq), value: event })
    }
    for (const [key, value] of change.outbox) writes.push({ kind: 'outbox', key, value })
    for (const [key, value] of change.silences) writes.push({ kind: 'silence', key, value })
    return writes
  }

  private applyChange(change: Change): void {
    for (const key of change.deletes) this.state.put(key, undefined)
    for (const [key, record] of change.upserts) this.state.put(key, record)
    for (const [key, n] of change.counts) this.state.setCounter(key, this.state.counter(key) + n)
    for (const [key, value] of change.meta) this.applyMeta(key, value)
    for (const [key, entry] of change.outbox) this.applyEntry(this.state, 'outbox', key, entry)
    for (const [agent, silence] of change.silences) this.applyEntry(this.state, 'silence', agent, silence)
    if (change.upserts.size > 0 || change.deletes.size > 0) this.state.revision++
    this.state.lastEventSeq = Math.max(this.state.lastEventSeq, change.history.lastSeq)
    this.planner.spend(change)
    if (change.history.events.length > 0) this.publish(change.history.events)
    if (this.wakeListeners.size > 0 && (change.upserts.size > 0 || change.outbox.size > 0)) {
      let at = Infinity
      for (const record of change.upserts.values()) at = Math.min(at, wakeOf(record, change.now, this.planner.settings), remindOf(record))
      for (const entry of change.outbox.values()) if (entry) at = Math.min(at, entry.due)
      for (const listener of this.wakeListeners) listener(at)
    }
  }

  /** Put an entry read from the driver into memory; a record another writer changed moves the revision. */
  private applyEntry(state: FleetState, kind: Kind, key: string, value: unknown): void {
    if (kind === 'component') {
      state.put(key, value === undefined ? undefined : completeRecord(value as StoredRecord))
      state.revision++
    } else if (kind === 'counter') state.setCounter(key, value as number | undefined)
    else if (kind === 'outbox') {
      if (value === undefined) state.outbox.delete(key)
      else state.outbox.set(key, value as OutboxEntry)
    } else if (kind === 'silence') {
      if (value === undefined) state.silences.delete(key)
      else state.silences.set(key, value as Silence)
    } else this.applyMeta(key, value, state)
  }

  private applyMeta(key: string, value: unknown, state = this.state): void {
    if (key === 'epoch') this.epoch = Math.max(this.epoch, Number(value ?? 0))
    else if (key === 'mass') state.mass = value as MassSilence | undefined
    else if (key.startsWith('sink:')) {
      if (value === undefined) state.sinks.delete(key.slice(5))
      else state.sinks.set(key.slice(5), value as SinkRecord)
    }
  }

  /** Read everything the driver holds into a fresh memory, whose revision is past the one before. */
  private async reload(): Promise<void> {
    const state = new FleetState(this.settings)
    const kinds: Kind[] = ['component', 'counter', 'meta', 'outbox', 'silence']
    const lists = await Promise.all(kinds.map((kind) => this.driver.list(kind)))
    kinds.forEach((kind, i) => {
      for (const { key, value } of lists[i]!) this.applyEntry(state, kind, key, value)
    })
    state.revision = this.state.revision + 1
    const [newest] = await this.driver.list('feed', { reverse: true, limit: 1 })
    state.lastEventSeq = Math.max(this.state.lastEventSeq, newest ? Number(newest.key) : 0)
    // Traffic counters a process keeps in memory outlive a reload of what is stored.
    if (!this.storeTrafficCounters) {
      for (const [key, value] of this.state.counters) if (key.includes(':')) state.setCounter(key, value)
    }
    this.state = state
  }

  /** Shared drivers: bring memory up to what is stored (exclusively, against changes in flight). */
  private async catchUp(): Promise<void> {
    if (this.driver.changesSince) await this.inOrder(() => this.catchUpNow())
  }

  private async catchUpNow(): Promise<void> {
    if (!this.driver.changesSince) return
    const changes = await this.driver.changesSince(this.sequence)
    if (changes.sequence === this.sequence) return
    if (!changes.changed) await this.reload()
    else {
      // Events are never held: a feed key says how far the sequence got, and nothing needs reading for it.
      const held = changes.changed.filter(({ kind, key }) => {
        if (kind === 'feed') this.state.lastEventSeq = Math.max(this.state.lastEventSeq, Number(key))
        return kind !== 'event' && kind !== 'feed'
      })
      const values = held.length > 0 ? await this.driver.get!(held) : []
      held.forEach(({ kind, key }, i) => this.applyEntry(this.state, kind, key, values[i]))
    }
    this.sequence = changes.sequence
  }

  /** Run `fn` once everything asked for before it has finished, for shared drivers; at once otherwise. */
  private inOrder<T>(fn: () => Promise<T>): Promise<T> {
    if (!this.driver.changesSince) return fn()
    const run = this.exclusive.then(fn, fn)
    this.exclusive = run.catch(() => {})
    return run
  }
}
