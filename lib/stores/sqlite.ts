// The Node store: a SQLite file through node:sqlite (Node ≥ 22.18). Only the binding is here.
import { DatabaseSync, type StatementSync } from 'node:sqlite'
import { openSqliteFile, type SqliteOptions } from './sqlite-file.ts'
import type { Engine, EngineSettings } from './engine.ts'
import type { SqlDatabase, SqlValue } from './sql.ts'

export { DATABASE_FILE, type SqliteOptions } from './sqlite-file.ts'

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

export function openSqliteStore(options: SqliteOptions, settings: EngineSettings): Promise<Engine> {
  return openSqliteFile(options, settings, (path) => adapt(new DatabaseSync(path)))
}
