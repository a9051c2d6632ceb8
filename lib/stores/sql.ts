// One SQL store for every SQLite pulsegate runs on: node:sqlite, bun:sqlite and a
// Durable Object's ctx.storage.sql. Each driver file only opens its database and
// adapts it to SqlDatabase; the schema, the statements and the atomic section are here.
//
// Records are kept in memory too (FleetTable), loaded once at open: probes and
// scrapes never touch the disk, and SQLite only ever sees writes.
import type { FleetSummary } from '../agent-states.ts'
import type { Heartbeat } from '../heartbeat.ts'
import type { ComponentRecord, State } from '../readiness.ts'
import type { Counters, FleetCounters, Snapshot, Store, TrafficCounter } from './store.ts'
import { type Change, FleetTable, type TableSettings } from './table.ts'

export type SqlValue = string | number | null

/** The little of a synchronous SQLite binding the store needs. */
export interface SqlDatabase {
  exec(sql: string): void
  run(sql: string, params: readonly SqlValue[]): void
  all(sql: string, params?: readonly SqlValue[]): Record<string, unknown>[]
  /** Run `fn` as one transaction: all of it is stored, or none of it. */
  transaction(fn: () => void): void
  close(): void
}

export const SCHEMA = `
CREATE TABLE IF NOT EXISTS components (
  agent TEXT NOT NULL,
  component TEXT NOT NULL,
  state TEXT NOT NULL,
  recovering_since INTEGER,
  last_seen INTEGER NOT NULL,
  message TEXT,
  version TEXT,
  pid INTEGER,
  labels TEXT NOT NULL,
  interval_seconds REAL,
  grace_seconds REAL,
  PRIMARY KEY (agent, component)
) WITHOUT ROWID;
CREATE TABLE IF NOT EXISTS counters (
  name TEXT PRIMARY KEY,
  value INTEGER NOT NULL
) WITHOUT ROWID;
`

const UPSERT = `INSERT OR REPLACE INTO components
  (agent, component, state, recovering_since, last_seen, message, version, pid, labels, interval_seconds, grace_seconds)
  VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?)`
const DELETE = 'DELETE FROM components WHERE agent = ? AND component = ?'
const ADD_TO_COUNTER = `INSERT INTO counters (name, value) VALUES (?, ?)
  ON CONFLICT (name) DO UPDATE SET value = value + excluded.value`

function toRow(r: ComponentRecord): SqlValue[] {
  return [
    r.agent, r.component, r.state, r.recoveringSince, r.lastSeen, r.message,
    r.version, r.pid, JSON.stringify(r.labels), r.intervalSeconds, r.graceSeconds,
  ]
}

function fromRow(row: Record<string, unknown>): ComponentRecord {
  const nullableNumber = (value: unknown) => (value === null ? null : Number(value))
  return {
    agent: String(row.agent),
    component: String(row.component),
    state: row.state as State,
    recoveringSince: nullableNumber(row.recovering_since),
    lastSeen: Number(row.last_seen),
    message: row.message as string | null,
    version: row.version as string | null,
    pid: nullableNumber(row.pid),
    labels: JSON.parse(String(row.labels)) as Record<string, string>,
    intervalSeconds: nullableNumber(row.interval_seconds),
    graceSeconds: nullableNumber(row.grace_seconds),
  }
}

export interface SqlStoreOptions {
  /**
   * Store the traffic counters (rejections, scrapes) too. A Durable Object must:
   * its memory is lost on eviction. A long-running process keeps them in memory,
   * so that a flood of bad requests does not become a flood of disk writes.
   */
  storeTrafficCounters?: boolean
  /**
   * Group commit: heartbeats that arrive together are stored in one transaction
   * (one fsync), each request answered once it has committed. Given the runtime's
   * way to run something after the pending I/O callbacks (setImmediate).
   */
  groupCommit?: (flush: () => void) => void
}

interface Waiting {
  batch: readonly Heartbeat[]
  now: number
  resolve: (records: ComponentRecord[]) => void
  reject: (error: unknown) => void
}

const FLEET_COUNTERS: ReadonlySet<string> = new Set(['received', 'missed', 'expired'])
const TRAFFIC_COUNTERS: ReadonlySet<string> = new Set(['rejected', 'scrapes'])

export class SqlStore implements Store {
  private readonly table: FleetTable
  private readonly db: SqlDatabase
  private readonly storeTrafficCounters: boolean
  private readonly groupCommit: SqlStoreOptions['groupCommit']
  private waiting: Waiting[] = []

  constructor(db: SqlDatabase, settings: TableSettings, options: SqlStoreOptions = {}) {
    this.db = db
    this.table = new FleetTable(settings)
    this.storeTrafficCounters = options.storeTrafficCounters ?? false
    this.groupCommit = options.groupCommit
    db.exec(SCHEMA)
    const counters: Partial<Counters> = { rejected: {}, scrapes: {} }
    for (const row of db.all('SELECT name, value FROM counters')) {
      // Fleet counters are stored as "received"; traffic counters as "rejected:<reason>".
      const [name = '', label] = String(row.name).split(/:(.*)/s)
      const value = Number(row.value)
      if (FLEET_COUNTERS.has(name)) counters[name as keyof FleetCounters] = value
      else if (TRAFFIC_COUNTERS.has(name) && label !== undefined) counters[name as TrafficCounter]![label] = value
    }
    this.table.load(db.all('SELECT * FROM components').map(fromRow), counters)
  }

  async apply(batch: readonly Heartbeat[], now: number): Promise<ComponentRecord[]> {
    if (!this.groupCommit) return this.write(this.table.planBatch(batch, now)).results
    return new Promise((resolve, reject) => {
      this.waiting.push({ batch, now, resolve, reject })
      if (this.waiting.length === 1) this.groupCommit!(() => this.flush())
    })
  }

  /**
   * Plan every waiting batch in arrival order, each on top of those before it;
   * a batch refused by a cap or the rate limit fails alone. Then one transaction
   * for all: either every accepted batch is stored, or none is.
   */
  private flush(): void {
    const waiting = this.waiting
    this.waiting = []
    let change: Change | undefined
    const accepted: { request: Waiting; from: number; to: number }[] = []
    for (const request of waiting) {
      try {
        const from = change?.results.length ?? 0
        change = this.table.planBatch(request.batch, request.now, change)
        accepted.push({ request, from, to: change.results.length })
      } catch (error) {
        request.reject(error)
      }
    }
    if (!change) return
    try {
      this.write(change)
    } catch (error) {
      for (const { request } of accepted) request.reject(error)
      return
    }
    for (const { request, from, to } of accepted) request.resolve(change.results.slice(from, to))
  }

  async remove(agent: string, now: number): Promise<number> {
    return this.write(this.table.planRemove(agent, now)).results.length
  }

  async sweep(now: number): Promise<number> {
    return this.write(this.table.planSweep(now)).counts.expired
  }

  async snapshot(now: number): Promise<Snapshot> {
    return this.table.snapshot(now)
  }

  async agent(agent: string, now: number): Promise<ComponentRecord[]> {
    return this.table.agentRecords(agent, now)
  }

  async summary(now: number): Promise<FleetSummary> {
    return this.table.summary(now)
  }

  async count(counter: TrafficCounter, label: string): Promise<void> {
    if (this.storeTrafficCounters) this.db.run(ADD_TO_COUNTER, [`${counter}:${label}`, 1])
    this.table.count(counter, label)
  }

  async close(): Promise<void> {
    this.db.close()
  }

  /** Store the change in one transaction, then let memory follow. */
  private write(change: Change): Change {
    if (change.upserts.size === 0 && change.deletes.size === 0) return change
    this.db.transaction(() => {
      for (const key of change.deletes) {
        const [agent, component] = key.split('\u0000')
        this.db.run(DELETE, [agent!, component!])
      }
      for (const record of change.upserts.values()) this.db.run(UPSERT, toRow(record))
      for (const [name, value] of Object.entries(change.counts)) {
        if (value > 0) this.db.run(ADD_TO_COUNTER, [name, value])
      }
    })
    this.table.commit(change)
    return change
  }
}
