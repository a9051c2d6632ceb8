import { mkdtempSync } from 'node:fs'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import { DatabaseSync } from 'node:sqlite'
import { afterAll, describe, expect, it } from 'vitest'
import { MemoryStore } from '../lib/stores/memory.ts'
import { DATABASE_FILE, openSqliteStore } from '../lib/stores/sqlite.ts'
import type { Store } from '../lib/stores/store.ts'
import { storeSuite, suiteSettings } from './stores.suite.ts'

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

describe('node:sqlite when a write fails', () => {
  it('refuses every batch of the failed commit, stores none of them, and recovers by itself', async () => {
    const dataDir = mkdtempSync(join(tmpdir(), 'pulsegate-store-'))
    const store = openSqliteStore({ dataDir }, suiteSettings)
    opened.push(store)
    await store.apply([{ agent: 'a', status: 'ok' }], 1000)
    // Another connection makes every write to the components table fail, as a full disk would.
    const saboteur = new DatabaseSync(join(dataDir, DATABASE_FILE))
    saboteur.exec("CREATE TRIGGER full BEFORE INSERT ON components BEGIN SELECT RAISE(ABORT, 'database or disk is full'); END")
    const answers = await Promise.allSettled([
      store.apply([{ agent: 'a', status: 'degraded' }], 2000),
      store.apply([{ agent: 'a', status: 'degraded', message: 'again' }], 2000),
    ])
    expect(answers.map((a) => a.status)).toEqual(['rejected', 'rejected'])
    expect((answers[0] as PromiseRejectedResult).reason.message).toMatch(/disk is full/)
    const snapshot = await store.snapshot(2000)
    expect(snapshot.records.map((r) => r.state)).toEqual(['ok'])
    expect(snapshot.counters.received).toBe(1)
    saboteur.exec('DROP TRIGGER full')
    saboteur.close()
    expect((await store.apply([{ agent: 'a', status: 'degraded' }], 3000))[0]!.state).toBe('degraded')
    await store.close()
    const reopened = openSqliteStore({ dataDir }, suiteSettings)
    expect((await reopened.snapshot(3000)).records.map((r) => r.state)).toEqual(['degraded'])
    await reopened.close()
  })
})
