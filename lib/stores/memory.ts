// The in-memory store: for tests and for trying pulsegate out. Nothing survives a restart.
import type { FleetSummary } from '../agent-states.ts'
import type { Heartbeat } from '../heartbeat.ts'
import type { ComponentRecord } from '../readiness.ts'
import type { Snapshot, Store, TrafficCounter } from './store.ts'
import { FleetTable, type TableSettings } from './table.ts'

export class MemoryStore implements Store {
  private readonly table: FleetTable

  constructor(settings: TableSettings) {
    this.table = new FleetTable(settings)
  }

  async apply(batch: readonly Heartbeat[], now: number): Promise<ComponentRecord[]> {
    const change = this.table.planBatch(batch, now)
    this.table.commit(change)
    return change.results
  }

  async remove(agent: string, now: number): Promise<number> {
    const change = this.table.planRemove(agent, now)
    this.table.commit(change)
    return change.results.length
  }

  async sweep(now: number): Promise<number> {
    const change = this.table.planSweep(now)
    this.table.commit(change)
    return change.counts.expired
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
    this.table.count(counter, label)
  }

  async close(): Promise<void> {}
}
