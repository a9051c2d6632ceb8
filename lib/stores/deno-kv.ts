// The Deno KV driver: locally a SQLite file (DATA_DIR/pulsegate.kv); on Deno
// Deploy the managed KV that every isolate of the deployment shares. Many
// isolates write at once there, so this is a *shared* driver (see
// lib/stores/driver.ts): every commit checks and bumps one sequence key, and
// records which keys it wrote under ['log', sequence]; an isolate catches up by
// reading the keys logged since its own sequence, and a commit that raced
// another isolate's is refused and planned again by the engine. So changes are
// serialised across isolates exactly as they are within one: no update is lost
// and no two isolates squeeze under a cap together. A 200 is sent only after
// commit() resolves, that is once the write is durable.
//
// Deno KV's limits per atomic operation (Deno's ext/kv/config.rs, as on Deploy):
// 1000 mutations, 800 KiB of keys and values; a key ≤ 2 KiB, a value ≤ 64 KiB;
// getMany() reads ≤ 10 keys. A commit holds at most 100 heartbeats
// (maxHeartbeatsPerCommit): ≤ 100 records of a few KiB each, a few counters, the
// sequence and one log value of keys.
import { DataDirError, lockDataDir, prepareDataDir, watchFile } from './data-dir.ts'
import { Engine, type EngineSettings } from './engine.ts'
import type { Driver, Entry, Kind, KeyRange, Write } from './driver.ts'
import { openNodeSqlite } from './node-sqlite.ts'

export const KV_FILE = 'pulsegate.kv'

const ENTRY = 'entry'
const SEQUENCE: Deno.KvKey = ['sequence']
const LOG = 'log'
/** An isolate silent for longer than this reads everything again, once. */
const LOG_KEPT_MS = 10 * 60_000
const KEYS_PER_LOG_VALUE = 200
const MAX_GET_MANY = 10
/** Above every character an id may hold: `${prefix}${AFTER}` ends the range of a prefix. */
const AFTER = '\uffff'

function chunks<T>(items: readonly T[], size: number): T[][] {
  const out: T[][] = []
  for (let i = 0; i < items.length; i += size) out.push(items.slice(i, i + size))
  return out
}


export interface DenoKvOptions {
  /** Folder of the KV file; leave it out on Deno Deploy, whose KV has no path. */
  dataDir?: string | undefined
}

/**
 * Open DATA_DIR's KV file (held against a second server, as every runtime holds
 * its data directory: data-dir.ts), or, on Deno Deploy, the deployment's KV.
 */
export async function openDenoKvStore(options: DenoKvOptions, settings: EngineSettings): Promise<Engine> {
  if (options.dataDir === undefined) return openDenoKvEngine(await Deno.openKv(), settings)
  const path = `${options.dataDir}/${KV_FILE}`
  prepareDataDir(options.dataDir)
  const release = lockDataDir(options.dataDir, openNodeSqlite, 'deno')
  try {
    let kv: Deno.Kv
    try {
      kv = await Deno.openKv(path)
    } catch (error) {
      throw new DataDirError(`cannot open Deno KV at ${path}: ${(error as Error).message}`)
    }
    return await openDenoKvEngine(kv, settings, { verify: watchFile(path), release })
  } catch (error) {
    release()
    throw error
  }
}

export interface DenoKvDriverOptions {
  /** Throws when the KV file is no longer the one opened (see Driver.verify). */
  verify?: () => void
  /** Let go of the data directory's lock, once the KV is closed. */
  release?: () => void
}

/** An engine over an open Deno KV (several of them on one KV act as several isolates). */
export async function openDenoKvEngine(kv: Deno.Kv, settings: EngineSettings, options: DenoKvDriverOptions = {}): Promise<Engine> {
  await migrateKeys(kv)
  // Deno Deploy gives no turn-of-the-loop hook; a timer of 0 lets concurrent requests queue together.
  const driver = new DenoKvDriver(kv, options)
  return Engine.open(driver, settings, { storeTrafficCounters: true, groupCommit: (flush) => setTimeout(flush, 0) })
}

export class DenoKvDriver implements Driver {
  readonly maxHeartbeatsPerCommit = 100
  private readonly kv: Deno.Kv
  private readonly options: DenoKvDriverOptions
  /** The sequence last read or written, and the versionstamp it had then. */
  private known = { sequence: 0, versionstamp: null as string | null }

  constructor(kv: Deno.Kv, options: DenoKvDriverOptions = {}) {
    this.kv = kv
    this.options = options
  }

  async verify(): Promise<void> {
    this.options.verify?.()
  }

  async list(kind: Kind, range: KeyRange = {}): Promise<Entry[]> {
    const base: Deno.KvKey = [ENTRY, kind]
    const start = range.start ?? range.prefix
    const end = range.end ?? (range.prefix === undefined ? undefined : `${range.prefix}${AFTER}`)
    const selector: Deno.KvListSelector =
      start !== undefined && end !== undefined ? { start: [...base, start], end: [...base, end] }
      : start !== undefined ? { prefix: base, start: [...base, start] }
      : end !== undefined ? { prefix: base, end: [...base, end] }
      : { prefix: base }
    const options: Deno.KvListOptions = { reverse: range.reverse ?? false }
    if (range.limit !== undefined) options.limit = range.limit
    const entries: Entry[] = []
    for await (const { key, value } of this.kv.list(selector, options)) entries.push({ key: String(key[2]), value })
    return entries
  }

  async commit(writes: readonly Write[], sequence: number): Promise<number | false> {
    this.options.verify?.()
    const next = sequence + 1
    const versionstamp = this.known.sequence === sequence ? this.known.versionstamp : undefined
    if (versionstamp === undefined) return false // not caught up: the engine catches up and plans again
    const op = this.kv.atomic().check({ key: SEQUENCE, versionstamp })
    for (const { kind, key, value } of writes) {
      if (value === undefined) op.delete([ENTRY, kind, key])
      else op.set([ENTRY, kind, key], value)
    }
    op.set(SEQUENCE, next)
    const changed = writes.map(({ kind, key }) => ({ kind, key }))
    chunks(changed, KEYS_PER_LOG_VALUE).forEach((part, i) => op.set([LOG, next, i], part, { expireIn: LOG_KEPT_MS }))
    const result = await op.commit()
    if (!result.ok) return false
    this.known = { sequence: next, versionstamp: result.versionstamp }
    return next
  }

  async changesSince(sequence: number): Promise<{ sequence: number; changed?: { kind: Kind; key: string }[] }> {
    const entry = await this.kv.get<number>(SEQUENCE)
    const current = entry.value ?? 0
    this.known = { sequence: current, versionstamp: entry.versionstamp }
    if (current === sequence) return { sequence: current, changed: [] }
    if (sequence < 0 || sequence > current) return { sequence: current }
    const changed: { kind: Kind; key: string }[] = []
    const logged = new Set<number>()
    for await (const { key, value } of this.kv.list<{ kind: Kind; key: string }[]>({ start: [LOG, sequence + 1], end: [LOG, current + 1] })) {
      logged.add(Number(key[1]))
      changed.push(...value)
    }
    // A log that no longer reaches back (it expires): read everything.
    if (logged.size !== current - sequence) return { sequence: current }
    return { sequence: current, changed }
  }

  async get(keys: readonly { kind: Kind; key: string }[]): Promise<(unknown | undefined)[]> {
    const parts = await Promise.all(
      chunks(keys, MAX_GET_MANY).map((part) => this.kv.getMany(part.map(({ kind, key }) => [ENTRY, kind, key]))),
    )
    return parts.flat().map((entry) => entry.value ?? undefined)
  }

  async close(): Promise<void> {
    this.kv.close()
    this.options.release?.()
  }
}

/**
 * pulsegate 0.1 kept ['component', agent, component], ['counter', name(, label)]
 * and ['revision'] at the top level: move them under ['entry', kind, key], in
 * atomic chunks. Moving an entry twice writes the same value: isolates that
 * start together may all do it.
 */
async function migrateKeys(kv: Deno.Kv): Promise<void> {
  const old: Deno.KvEntry<unknown>[] = []
  for (const prefix of ['component', 'counter']) old.push(...(await Array.fromAsync(kv.list({ prefix: [prefix] }))))
  if (old.length === 0) return
  for (const part of chunks(old, 100)) {
    const op = kv.atomic()
    for (const { key, value } of part) {
      op.delete(key)
      // 0.1 counted a record's heartbeats in `received` only.
      if (key[0] === 'component') op.set([ENTRY, 'component', `${String(key[1])}\u0000${String(key[2])}`], { ...(value as object), beats: 0 })
      else op.set([ENTRY, 'counter', key.length === 3 ? `${String(key[1])}:${String(key[2])}` : String(key[1])], Number((value as Deno.KvU64).value))
    }
    await op.commit()
  }
  await kv.atomic().delete(['revision']).delete(['shape']).commit()
}
