// Opening a SQLite file pulsegate owns, shared by the node:sqlite and bun:sqlite drivers.
import { mkdirSync } from 'node:fs'
import { join } from 'node:path'
import { Engine, type EngineSettings } from './engine.ts'
import { type SqlDatabase, SqlDriver, type SqlWriter } from './sql.ts'
import { StartError } from '../settings.ts'

export const DATABASE_FILE = 'pulsegate.sqlite'

export interface SqliteOptions {
  /** Folder of the database file; ':memory:' for a throwaway database. */
  dataDir: string
  synchronous?: Synchronous
}

/**
 * FULL: a heartbeat is acknowledged only after its commit is fsynced — it
 * survives kill -9 and power loss. NORMAL: it survives kill -9 (the WAL is in
 * the OS cache) but the last commits may be lost on power loss.
 */
export type Synchronous = 'FULL' | 'NORMAL'

/** "pgat" — marks a file as pulsegate's, so a foreign database is never taken over. */
export const APPLICATION_ID = 0x70676174

export class DatabaseFileError extends StartError {
  name = 'DatabaseFileError'
}

export function prepareFile(db: SqlDatabase, path: string, synchronous: Synchronous): void {
  let applicationId: number
  let tables: number
  try {
    applicationId = Number(db.all('PRAGMA application_id')[0]?.application_id)
    tables = Number(db.all("SELECT count(*) AS n FROM sqlite_schema WHERE type = 'table'")[0]?.n)
  } catch (error) {
    db.close()
    throw new DatabaseFileError(`${path} is not a readable SQLite database (${(error as Error).message}); move it away or point DATA_DIR elsewhere`)
  }
  if (applicationId !== APPLICATION_ID && (applicationId !== 0 || tables > 0)) {
    db.close()
    throw new DatabaseFileError(`${path} is not a pulsegate database; move it away or point DATA_DIR elsewhere`)
  }
  db.exec('PRAGMA journal_mode = WAL')
  db.exec(`PRAGMA synchronous = ${synchronous}`)
  db.exec('PRAGMA busy_timeout = 5000')
  db.exec(`PRAGMA application_id = ${APPLICATION_ID}`)
}

/**
 * Open the data dir's database through a binding's `connect`, check it is
 * pulsegate's, tune it, and serve it through the engine, with group commit.
 * With `writer`, commits go to a connection of its own (another thread) once
 * the file is checked, tuned and read.
 */
export function openSqliteFile(
  options: SqliteOptions,
  settings: EngineSettings,
  connect: (path: string) => SqlDatabase,
  writer?: (path: string, synchronous: Synchronous) => SqlWriter,
): Promise<Engine> {
  let path = ':memory:'
  if (options.dataDir !== ':memory:') {
    mkdirSync(options.dataDir, { recursive: true })
    path = join(options.dataDir, DATABASE_FILE)
  }
  const synchronous = options.synchronous ?? 'FULL'
  const db = connect(path)
  prepareFile(db, path, synchronous)
  // A :memory: database is its connection: only that one can write it.
  const driver = new SqlDriver(db, writer && path !== ':memory:' ? writer(path, synchronous) : undefined)
  return Engine.open(driver, settings, { groupCommit: setImmediate })
}
