// The Node store: a SQLite file through node:sqlite (Node ≥ 22.13).
import { mkdirSync } from 'node:fs'
import { join } from 'node:path'
import { DatabaseSync, type StatementSync } from 'node:sqlite'
import type { ReadinessSettings } from '../readiness.ts'
import { prepareFile, type Synchronous } from './sqlite-file.ts'
import { type SqlDatabase, SqlStore, type SqlValue } from './sql.ts'

export const DATABASE_FILE = 'pulsegate.sqlite'

export interface SqliteOptions {
  /** Folder of the database file; ':memory:' for a throwaway database. */
  dataDir: string
  synchronous?: Synchronous
}

function adapt(db: DatabaseSync): SqlDatabase {
  const statements = new Map<string, StatementSync>()
  const prepared = (sql: string) => {
    let statement = statements.get(sql)
    if (!statement) statements.set(sql, (statement = db.prepare(sql)))
    return statement
  }
  return {
    exec: (sql) => db.exec(sql),
    run: (sql, params) => void prepared(sql).run(...params),
    all: (sql, params: readonly SqlValue[] = []) => prepared(sql).all(...params),
    transaction(fn) {
      db.exec('BEGIN IMMEDIATE')
      try {
        fn()
        db.exec('COMMIT')
      } catch (error) {
        if (db.isTransaction) db.exec('ROLLBACK')
        throw error
      }
    },
    close: () => db.close(),
  }
}

export function openSqliteStore(options: SqliteOptions, settings: ReadinessSettings): SqlStore {
  let path = ':memory:'
  if (options.dataDir !== ':memory:') {
    mkdirSync(options.dataDir, { recursive: true })
    path = join(options.dataDir, DATABASE_FILE)
  }
  const db = adapt(new DatabaseSync(path))
  prepareFile(db, path, options.synchronous ?? 'FULL')
  return new SqlStore(db, settings)
}
