// node:sqlite as the SQL driver sees it: the one adapter, for the Node store, its
// writer thread, and the data directory's lock (Deno has node:sqlite too).
import { DatabaseSync, type StatementSync } from 'node:sqlite'
import type { SqlDatabase, SqlValue } from './sql.ts'

export function adapt(db: DatabaseSync): SqlDatabase {
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

export function openNodeSqlite(path: string): SqlDatabase {
  return adapt(new DatabaseSync(path))
}
