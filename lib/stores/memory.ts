// The memory driver: entries in Maps, for tests and for trying pulsegate out.
// Nothing survives the process, but an engine can be opened again on the same
// driver, which is how the shared store suite proves the engine's reopen path.
import { type Driver, type Entry, type Kind, type KeyRange, type Write, inRange } from './driver.ts'
import { Engine, type EngineSettings } from './engine.ts'

export class MemoryDriver implements Driver {
  private readonly kinds = new Map<Kind, Map<string, unknown>>()

  async list(kind: Kind, range: KeyRange = {}): Promise<Entry[]> {
    const entries = [...(this.kinds.get(kind) ?? [])]
      .filter(([key]) => inRange(key, range))
      .sort(([a], [b]) => (a < b ? -1 : a > b ? 1 : 0))
      .map(([key, value]) => ({ key, value: structuredClone(value) }))
    if (range.reverse) entries.reverse()
    return range.limit === undefined ? entries : entries.slice(0, range.limit)
  }

  async commit(writes: readonly Write[]): Promise<number> {
    for (const { kind, key, value } of writes) {
      let entries = this.kinds.get(kind)
      if (!entries) this.kinds.set(kind, (entries = new Map()))
      // Copies, as a real backend would keep: nothing the engine holds is shared with what is "stored".
      if (value === undefined) entries.delete(key)
      else entries.set(key, structuredClone(value))
    }
    return 0
  }

  async close(): Promise<void> {}
}

/** An engine over a fresh memory driver: the store tests and `createApp` examples use. */
export class MemoryStore extends Engine {
  constructor(settings: EngineSettings, driver = new MemoryDriver()) {
    super(driver, settings)
  }
}

/** Open an engine again over what a memory driver holds. */
export function openMemoryStore(settings: EngineSettings, driver: MemoryDriver): Promise<Engine> {
  return Engine.open(driver, settings)
}
