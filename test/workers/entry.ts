// The Worker under test: the real entry (functions/worker.ts), plus a Fleet the
// shared store suite can give its own settings. The suite varies the caps per
// test, while a real Fleet takes its settings from the Worker's vars; SuiteFleet
// keeps the suite's settings in its own storage, so they survive eviction too.
import type { Settings } from '../../lib/settings.ts'
import { Fleet, objectDatabase } from '../../lib/stores/durable-object.ts'
import type { SqlDatabase } from '../../lib/stores/sql.ts'

export { default, Fleet } from '../../functions/worker.ts'

const SETTINGS_KEY = 'suite-settings'

export class SuiteFleet extends Fleet {
  protected override async loadSettings(): Promise<Settings> {
    const suite = await this.ctx.storage.get<Partial<Settings>>(SETTINGS_KEY)
    return { ...(await super.loadSettings()), ...suite }
  }

  /** Use these settings from now on: the first call a suite test makes. */
  async configure(settings: Partial<Settings>): Promise<void> {
    await this.ctx.storage.put(SETTINGS_KEY, settings)
    await this.open(await this.loadSettings())
  }
}

/** SQLite rows read and written, as Cloudflare bills them: the cursors' own counts. */
export interface Usage {
  rowsRead: number
  rowsWritten: number
}

/** A Fleet that counts the rows its SQLite reads and writes, for the cost model (test/workers/cost.test.ts). */
export class MeteredFleet extends Fleet {
  private readonly usage: Usage = { rowsRead: 0, rowsWritten: 0 }

  protected override database(): SqlDatabase {
    return objectDatabase(this.ctx.storage, (cursor) => {
      this.usage.rowsRead += cursor.rowsRead
      this.usage.rowsWritten += cursor.rowsWritten
    })
  }

  /** The rows counted since the last call. */
  async takeUsage(): Promise<Usage> {
    const usage = { ...this.usage }
    Object.assign(this.usage, { rowsRead: 0, rowsWritten: 0 })
    return usage
  }
}
