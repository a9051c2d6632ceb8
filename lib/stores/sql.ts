// The SQL driver, for every SQLite pulsegate runs on: node:sqlite, bun:sqlite and
// a Durable Object's ctx.storage.sql. Each of those files only opens its database
// and adapts it to SqlDatabase; the one table, its statements and the atomic
// write are here. Every kind of entry lives in that table as JSON, so a new kind
// needs no schema change.
import type { Driver, Entry, Kind, KeyRange, Write } from './driver.ts'

export type SqlValue = string | number | null

/** The little of a synchronous SQLite binding the driver needs. */
export interface SqlDatabase {
  exec(sql: string): void
  run(sql: string, params: readonly SqlValue[]): void
  all(sql: string, params?: readonly SqlValue[]): Record<string, unknown>[]
  /** Run `fn` as one transaction: all of it is stored, or none of it. */
  transaction(fn: () => void): void
  close(): void
}

export const SCHEMA = `
CREATE TABLE IF NOT EXISTS entries (
  kind TEXT NOT NULL,
  key TEXT NOT NULL,
  value TEXT NOT NULL,
  PRIMARY KEY (kind, key)
) WITHOUT ROWID;
`

const PUT = 'INSERT OR REPLACE INTO entries (kind, key, value) VALUES (?, ?, ?)'
const DELETE = 'DELETE FROM entries WHERE kind = ? AND key = ?'
/** Above every character an id may hold: `${prefix}${AFTER}` ends the range of a prefix. */
const AFTER = '\uffff'

/** Write entries in one transaction: all of them are stored, or none. */
export function writeEntries(db: SqlDatabase, writes: readonly Write[]): void {
  db.transaction(() => {
    for (const { kind, key, value } of writes) {
      if (value === undefined) db.run(DELETE, [kind, key])
      else db.run(PUT, [kind, key, JSON.stringify(value)])
    }
  })
}

/** Who stores the writes, when not this connection: a writer that waits for the disk off the event loop. */
export interface SqlWriter {
  write(writes: readonly Write[]): Promise<void>
  close(): Promise<void>
}

export interface SqlDriverOptions {
  writer?: SqlWriter | undefined
  /** Throws when the database is no longer the one opened (see Driver.verify); checked before every commit too. */
  verify?: (() => void) | undefined
  /** Let go of what the database was opened with (the data directory's lock). */
  release?: (() => void) | undefined
}

export class SqlDriver implements Driver {
  private readonly db: SqlDatabase
  private readonly options: SqlDriverOptions

  constructor(db: SqlDatabase, options: SqlDriverOptions = {}) {
    this.db = db
    this.options = options
    db.exec(SCHEMA)
    migrateTables(db)
  }

  async verify(): Promise<void> {
    this.options.verify?.()
  }

  async list(kind: Kind, range: KeyRange = {}): Promise<Entry[]> {
    const start = range.start ?? range.prefix
    const end = range.end ?? (range.prefix === undefined ? undefined : `${range.prefix}${AFTER}`)
    const where = ['kind = ?']
    const params: SqlValue[] = [kind]
    if (start !== undefined) {
      where.push('key >= ?')
      params.push(start)
    }
    if (end !== undefined) {
      where.push('key < ?')
      params.push(end)
    }
    let sql = `SELECT key, value FROM entries WHERE ${where.join(' AND ')} ORDER BY key${range.reverse ? ' DESC' : ''}`
    if (range.limit !== undefined) {
      sql += ' LIMIT ?'
      params.push(range.limit)
    }
    return this.db.all(sql, params).map((row) => ({ key: String(row.key), value: JSON.parse(String(row.value)) }))
  }

  async commit(writes: readonly Write[]): Promise<number> {
    // A writer thread checks the file itself, where it writes.
    if (this.options.writer) await this.options.writer.write(writes)
    else {
      this.options.verify?.()
      writeEntries(this.db, writes)
    }
    return 0
  }

  async close(): Promise<void> {
    await this.options.writer?.close()
    this.db.close()
    this.options.release?.()
  }
}

/**
 * A database written by pulsegate 0.1 has a table per kind (components,
 * counters): move their rows into `entries`, in one transaction, once.
 */
function migrateTables(db: SqlDatabase): void {
  const tables = new Set(db.all("SELECT name FROM sqlite_master WHERE type = 'table'").map((row) => String(row.name)))
  if (!tables.has('components')) return
  db.transaction(() => {
    for (const row of db.all('SELECT * FROM components')) {
      const record = {
        agent: String(row.agent),
        component: String(row.component),
        state: String(row.state),
        recoveringSince: row.recovering_since === null ? null : Number(row.recovering_since),
        lastSeen: Number(row.last_seen),
        message: row.message ?? null,
        version: row.version ?? null,
        pid: row.pid === null ? null : Number(row.pid),
        labels: JSON.parse(String(row.labels)),
        intervalSeconds: row.interval_seconds === null ? null : Number(row.interval_seconds),
        graceSeconds: row.grace_seconds === null ? null : Number(row.grace_seconds),
        beats: 0, // 0.1 counted them in `received` only
      }
      db.run(PUT, ['component', `${record.agent}\u0000${record.component}`, JSON.stringify(record)])
    }
    // 0.1 stored fleet counters as "received" and traffic counters as "rejected:<reason>": the keys stay.
    if (tables.has('counters')) {
      for (const row of db.all('SELECT name, value FROM counters')) db.run(PUT, ['counter', String(row.name), String(Number(row.value))])
    }
    db.exec('DROP TABLE components')
    if (tables.has('counters')) db.exec('DROP TABLE counters')
  })
}
