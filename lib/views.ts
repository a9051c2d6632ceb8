// The fleet as readers see it, derived once per revision of the store. The view
// of a snapshot holds until its records change (a new revision), a deadline
// passes (the view's validUntil) or a record expires (the snapshot's): probes,
// listings and scrapes in between reuse it — on every backend, since the
// revision comes from the store, not from the identity of the records array.
import { type AgentView, type FleetView, viewAgentAt, viewFleetInSlices } from './fleet.ts'
import type { ReadinessSettings } from './readiness.ts'
import type { Snapshot, Store } from './stores/store.ts'

export class FleetViews {
  private readonly store: Store
  private readonly settings: ReadinessSettings
  private held: { revision: number; validUntil: number; view: FleetView } | undefined
  /** A view being built, for its revision: readers that ask meanwhile wait for it rather than build it again. */
  private building: { revision: number; view: Promise<FleetView> } | undefined

  constructor(store: Store, settings: ReadinessSettings) {
    this.store = store
    this.settings = settings
  }

  /** The whole fleet at `now`, and the snapshot it came from (for its counters). */
  async fleet(now: number): Promise<{ view: FleetView; snapshot: Snapshot }> {
    const snapshot = await this.store.snapshot(now)
    const held = this.held
    if (held && held.revision === snapshot.revision && now <= held.validUntil) return { view: held.view, snapshot }
    let view: FleetView | undefined
    if (this.building?.revision === snapshot.revision) {
      const joined = await this.building.view
      if (now <= joined.validUntil) view = joined // built a moment before `now`: still true unless a deadline came between
    }
    if (!view) {
      const building = { revision: snapshot.revision, view: viewFleetInSlices(snapshot.records, now, this.settings) }
      this.building = building
      view = await building.view
      if (this.building === building) this.building = undefined
    }
    this.held = { revision: snapshot.revision, validUntil: Math.min(view.validUntil, snapshot.validUntil), view }
    return { view, snapshot }
  }

  /** One agent from its own records, never the whole fleet; undefined for an agent the store does not know. */
  async agent(agent: string, now: number): Promise<AgentView | undefined> {
    const { records, copiedAt } = await this.store.agent(agent, now)
    const view = viewAgentAt(records, now, this.settings)
    if (view && copiedAt !== undefined) view.copiedAt = copiedAt
    return view
  }
}
