// The shared store suite against bun:sqlite, on Bun's test runner (npm run test:bun):
// under `bun test`, the suite's 'vitest' imports are Bun's own bun:test.
import { mkdtempSync, rmSync } from 'node:fs'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import { afterAll } from 'vitest'
import { openBunSqliteStore } from '../../lib/stores/bun-sqlite.ts'
import type { Store } from '../../lib/stores/store.ts'
import { storeSuite } from '../stores.suite.ts'

const opened: Store[] = []
const dirs: string[] = []
afterAll(async () => {
  for (const store of opened) await store.close().catch(() => {})
  for (const dir of dirs) rmSync(dir, { recursive: true, force: true })
})

storeSuite('bun:sqlite', async (settings) => {
  const dataDir = mkdtempSync(join(tmpdir(), 'pulsegate-store-'))
  dirs.push(dataDir)
  const store = await openBunSqliteStore({ dataDir }, settings)
  opened.push(store)
  return {
    store,
    reopen: async () => {
      await store.close()
      const again = await openBunSqliteStore({ dataDir }, settings)
      opened.push(again)
      return again
    },
  }
})
