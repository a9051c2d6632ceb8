// The Bun store: the same SQLite file as Node (DATA_DIR/pulsegate.sqlite, same
// schema, pragmas and application_id), through bun:sqlite. Only the binding is here.
import { Database } from 'bun:sqlite'
import type { Engine, EngineSettings } from './engine.ts'
import type { SqlDatabase, SqlValue } from './sql.ts'
import { openSqliteFile, type SqliteOptions } from './sqlite-file.ts'

function adapt(db: Database): SqlDatabase {
  // BEGIN IMMEDIATE, as on Node: take the write lock first, so a transaction never fails halfway on a busy file.
  const immediate = db.transaction((fn: () => void) => fn()).immediate
  return {
    exec: (sql) => void db.run(sql),
    // db.query() caches the prepared statement by its SQL text.
    run: (sql, params) => void db.query<unknown, SqlValue[]>(sql).run(...params),
    all: (sql, params: readonly SqlValue[] = []) => db.query<Record<string, unknown>, SqlValue[]>(sql).all(...params),
    transaction: (fn) => immediate(fn),
    close: () => db.close(),
  }
}

export function openBunSqliteStore(options: SqliteOptions, settings: EngineSettings): Promise<Engine> {
  return openSqliteFile(options, settings, (path) => adapt(new Database(path, { create: true })), 'bun')
}
