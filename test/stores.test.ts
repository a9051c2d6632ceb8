import { mkdtempSync } from 'node:fs'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import { DatabaseSync } from 'node:sqlite'
import { afterAll, describe, expect, it } from 'vitest'
import { MemoryDriver, MemoryStore, openMemoryStore } from '../lib/stores/memory.ts'
import { DATABASE_FILE, openSqliteStore } from '../lib/stores/sqlite.ts'
import type { Store } from '../lib/stores/store.ts'
import { storeSuite, suiteSettings } from './stores.suite.ts'

const opened: Store[] = []
afterAll(async () => {
  for (const store of opened) await store.close().catch(() => {})
})

storeSuite('memory', async (settings) => {
  const driver = new MemoryDriver()
  const store = new MemoryStore(settings, driver)
  return { store, reopen: async () => openMemoryStore(settings, driver) }
})

storeSuite('node:sqlite', async (settings) => {
  const dataDir = mkdtempSync(join(tmpdir(), 'pulsegate-store-'))
  const store = await openSqliteStore({ dataDir }, settings)
  opened.push(store)
  return {
    store,
    reopen: async () => {
      await store.close()
      const again = await openSqliteStore({ dataDir }, settings)
      opened.push(again)
      return again
    },
  }
})

describe('node:sqlite when a write fails', () => {
  it('refuses every batch of the failed commit, stores none of them, and recovers by itself', async () => {
    const dataDir = mkdtempSync(join(tmpdir(), 'pulsegate-store-'))
    const store = await openSqliteStore({ dataDir }, suiteSettings)
    opened.push(store)
    await store.apply([{ agent: 'a', status: 'ok' }], 1000)
    // Another connection makes every write of a record fail, as a full disk would.
    const saboteur = new DatabaseSync(join(dataDir, DATABASE_FILE))
    saboteur.exec(
      "CREATE TRIGGER full BEFORE INSERT ON entries WHEN NEW.kind = 'component' BEGIN SELECT RAISE(ABORT, 'database or disk is full'); END",
    )
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
    const reopened = await openSqliteStore({ dataDir }, suiteSettings)
    expect((await reopened.snapshot(3000)).records.map((r) => r.state)).toEqual(['degraded'])
    await reopened.close()
  })
})

describe('node:sqlite on a database pulsegate 0.1 wrote', () => {
  it('moves its records and counters into the entries table, once, and serves them', async () => {
    const dataDir = mkdtempSync(join(tmpdir(), 'pulsegate-store-'))
    // The 0.1 file format: a table per kind, as 0.1's SqlStore created it.
    const old = new DatabaseSync(join(dataDir, DATABASE_FILE))
    old.exec(`PRAGMA application_id = 1885823348;
      CREATE TABLE components (agent TEXT NOT NULL, component TEXT NOT NULL, state TEXT NOT NULL, recovering_since INTEGER,
        last_seen INTEGER NOT NULL, message TEXT, version TEXT, pid INTEGER, labels TEXT NOT NULL, interval_seconds REAL,
        grace_seconds REAL, PRIMARY KEY (agent, component)) WITHOUT ROWID;
      CREATE TABLE counters (name TEXT PRIMARY KEY, value INTEGER NOT NULL) WITHOUT ROWID;
      INSERT INTO components VALUES ('web-1', 'main', 'recovering', 2000, 2000, 'back', '2.0', 42, '{"region":"eu"}', 30, NULL);
      INSERT INTO counters VALUES ('received', 7), ('missed', 2), ('rejected:invalid_heartbeat', 3);`)
    old.close()
    for (let open = 0; open < 2; open++) {
      const store = await openSqliteStore({ dataDir }, suiteSettings)
      const { records, counters } = await store.snapshot(3000)
      expect(records).toEqual([{
        agent: 'web-1', component: 'main', state: 'recovering', recoveringSince: 2000, lastSeen: 2000, message: 'back',
        version: '2.0', pid: 42, labels: { region: 'eu' }, intervalSeconds: 30, graceSeconds: null, beats: 0,
        // What 0.1 had no column for reads as its default.
        schedule: null, tz: null, maxRunSeconds: null, expireSeconds: null, declared: false, runs: [],
        lastDurationSeconds: null, lastExitCode: null, lastSuccessAt: null, history: [], alert: null,
      }])
      expect(counters).toMatchObject({ received: 7, missed: 2, expired: 0 })
      await store.close()
    }
  })
})
