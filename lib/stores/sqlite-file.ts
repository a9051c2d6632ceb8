// Opening a SQLite file pulsegate owns, shared by the node:sqlite and bun:sqlite drivers.
import { join } from 'node:path'
import { checkFile, lockDataDir, prepareDataDir, watchFile } from './data-dir.ts'
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
 * Open the data dir's database through a binding's `connect`: make and check
 * DATA_DIR, hold it against a second server (data-dir.ts), check the file is
 * pulsegate's, tune it, and serve it through the engine, with group commit.
 * With `writer`, commits go to a connection of its own (another thread) once
 * the file is checked, tuned and read.
 */
export function openSqliteFile(
  options: SqliteOptions,
  settings: EngineSettings,
  connect: (path: string) => SqlDatabase,
  runtime: string,
  writer?: (path: string, synchronous: Synchronous) => SqlWriter,
): Promise<Engine> {
  const synchronous = options.synchronous ?? 'FULL'
  if (options.dataDir === ':memory:') {
    // A :memory: database is its connection: only that one can write it, and nothing else can share it.
    const db = connect(':memory:')
    prepareFile(db, ':memory:', synchronous)
    return Engine.open(new SqlDriver(db), settings, { groupCommit: setImmediate })
  }
  prepareDataDir(options.dataDir)
  const release = lockDataDir(options.dataDir, connect, runtime)
  try {
    const path = join(options.dataDir, DATABASE_FILE)
    checkFile(path)
    const db = connect(path)
    prepareFile(db, path, synchronous)
    const verify = watchFile(path)
    const driver = new SqlDriver(db, { writer: writer?.(path, synchronous), verify, release })
    return Engine.open(driver, settings, { groupCommit: setImmediate })
  } catch (error) {
    release()
    throw error
  }
}
