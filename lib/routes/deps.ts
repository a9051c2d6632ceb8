// What every route module is built from: the store, the settings, the clock and
// the shared views; one small OpenAPIHono app per module, composed by lib/app.ts.
import type { Settings } from '../settings.ts'
import type { Store, TrafficCounter } from '../stores/store.ts'
import type { FleetViews } from '../views.ts'

export type AppEnv = { Variables: { errorCode: string } }

export interface RouteDeps {
  store: Store
  settings: Settings
  /** The clock, in ms since the epoch; tests inject their own. */
  clock: () => number
  views: FleetViews
  /**
   * Count a rejection or a scrape once it is answered, before the response
   * leaves (so the next scrape sees it). Bookkeeping: it never rejects, so a
   * failure to count never turns the answer into an error.
   */
  count: (counter: TrafficCounter, label: string) => Promise<void>
}
