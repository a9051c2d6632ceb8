// The persistence contract: the little a storage backend has to do so that the
// store engine (lib/stores/engine.ts) can run on it. In the spirit of unstorage,
// a driver knows nothing about heartbeats, caps or states: it keeps entries — a
// kind, a string key and a JSON value — lists them in key order, and writes a
// planned change atomically. Everything else is the engine's, written once.
//
// A new kind of stored record is a new `Kind` here and code in the engine: no
// driver changes, since every driver stores every kind the same way.

/** What is stored. Every kind is kept by every driver in the same way. */
export type Kind =
  /** One record per (agent, component): lib/readiness.ts's ComponentRecord. */
  | 'component'
  /** One number per counter: `received`, `missed`, `expired`, `rejected:<code>`, `scrapes:<code>`. */
  | 'counter'
  /** The engine's own bookkeeping, such as how many times the data was opened (the epoch of the revision). */
  | 'meta'
  /** One history event (lib/history.ts) under its agent: `${agent}\0${seq}`, so an agent's read newest first is one range. */
  | 'event'
  /** The same event in the fleet's order, `${seq}`: the feed /v1/events reads, and what HISTORY_DAYS trims. */
  | 'feed'
  /** A notification waiting for a sink, `${sink}\0${id}` (lib/notify/notification.ts's OutboxEntry). */
  | 'outbox'
  /** A silenced agent, by agent id. */
  | 'silence'

export const KINDS: readonly Kind[] = ['component', 'counter', 'meta', 'event', 'feed', 'outbox', 'silence']

export interface Entry {
  key: string
  value: unknown
}

/** One entry to write; `value: undefined` deletes it. Values are plain JSON. */
export interface Write {
  kind: Kind
  key: string
  value: unknown
}

/** Keys in [start, end), or all keys beginning with `prefix`; in key order, or reversed. */
export interface KeyRange {
  prefix?: string
  start?: string
  end?: string
  reverse?: boolean
  limit?: number
}

/** Keys compare as strings of UTF-16 code units; every key the engine makes is ASCII, so every backend agrees. */
export function inRange(key: string, range: KeyRange): boolean {
  if (range.prefix !== undefined && !key.startsWith(range.prefix)) return false
  if (range.start !== undefined && key < range.start) return false
  if (range.end !== undefined && key >= range.end) return false
  return true
}

export interface Driver {
  /** Entries of one kind in key order (reversed if asked), within a range. */
  list(kind: Kind, range?: KeyRange): Promise<Entry[]>
  /**
   * Write every entry of `writes`, or none of them, and resolve once they are
   * durable. A shared driver writes only if nobody else wrote since `sequence`
   * (the value its last `changesSince` or `commit` answered) and resolves with
   * the new sequence, or with `false` when someone did: the engine then catches
   * up and plans again. A driver that is the only writer resolves with 0.
   */
  commit(writes: readonly Write[], sequence: number): Promise<number | false>
  /**
   * Present on a shared driver, whose data other processes write too (Deno
   * Deploy's isolates): the current sequence and what changed since `sequence`,
   * as the keys to read again — or no `changed` at all when it cannot tell
   * (asked with -1, or the record of changes no longer reaches back): then
   * everything must be read again.
   */
  changesSince?(sequence: number): Promise<{ sequence: number; changed?: { kind: Kind; key: string }[] }>
  /** Read some entries again (after changesSince); a missing one reads as undefined. */
  get?(keys: readonly { kind: Kind; key: string }[]): Promise<(unknown | undefined)[]>
  /**
   * Check that the backend is still the one opened (a file not deleted or
   * replaced); throws, saying why, when it is not. Called by every sweep.
   */
  verify?(): Promise<void>
  /**
   * How many heartbeats one commit may hold at most, when the backend limits the
   * size of an atomic write (Deno KV); the engine then splits its groups.
   */
  readonly maxHeartbeatsPerCommit?: number
  close(): Promise<void>
}
