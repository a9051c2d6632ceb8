import { mkdtempSync } from 'node:fs'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import { afterAll } from 'vitest'
import { MemoryStore } from '../lib/stores/memory.ts'
import { openSqliteStore } from '../lib/stores/sqlite.ts'
import type { Store } from '../lib/stores/store.ts'
import { storeSuite } from './stores.suite.ts'

const opened: Store[] = []
afterAll(async () => {
  for (const store of opened) await store.close().catch(() => {})
})

storeSuite('memory', async (settings) => ({ store: new MemoryStore(settings) }))

storeSuite('node:sqlite', async (settings) => {
  const dataDir = mkdtempSync(join(tmpdir(), 'pulsegate-store-'))
  const store = openSqliteStore({ dataDir }, settings)
  opened.push(store)
  return {
    store,
    reopen: async () => {
      await store.close()
      return openSqliteStore({ dataDir }, settings)
    },
  }
})
