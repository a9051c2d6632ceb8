// Copies of the Durable Object's answers, kept where the Worker runs
// (PROBE_SOURCE=cache). A copy of the records is not the records: it knows
// nothing of the heartbeats that came after it was made. So a copy says when
// it was made, and holds only until the first instant at which a reader could
// see something it cannot prove — a deadline of one of its components passing
// (was the heartbeat on time? only the object knows), an expiry — and never
// longer than COPY_MAX_AGE_SECONDS. Past that, the object is asked again.
import { type ComponentRecord, type ReadinessSettings, deadlineOf, expiryOf, isOverdue } from '../readiness.ts'

export interface Copy<T> {
  /** When the object answered (ms). */
  madeAt: number
  /** The last instant the copy still proves its answer (ms). */
  validUntil: number
  data: T
}

export interface Copies {
  get<T>(key: string): Promise<Copy<T> | undefined>
  /** Keep a copy until its validUntil, or forget it sooner; a copy that holds for no time is not kept. */
  put<T>(key: string, copy: Copy<T>): Promise<void>
}

/**
 * Until when a copy of one agent's records made at `now` proves what a reader
 * sees: the first deadline still ahead of a component, its first expiry, and
 * the age bound, whichever comes first. A component already overdue at `now`
 * stays overdue in the copy, as it was in the object when the copy was made.
 */
export function copyUntil(records: readonly ComponentRecord[], now: number, settings: ReadinessSettings & { copyMaxAgeSeconds: number }): number {
  let until = now + settings.copyMaxAgeSeconds * 1000
  for (const record of records) {
    if (!isOverdue(record, now, settings)) until = Math.min(until, deadlineOf(record, settings))
    until = Math.min(until, expiryOf(record, settings))
  }
  return until
}

/**
 * Copies in the Cache API of the data center the Worker runs in: free, and local.
 * It is empty on a *.workers.dev host (Cloudflare only caches on custom domains):
 * there every read asks the object, which is right, only not cheaper.
 */
export class CacheCopies implements Copies {
  private readonly cache: Promise<Cache>
  private readonly origin: string

  constructor(cacheStorage: CacheStorage, fleet: string) {
    this.cache = cacheStorage.open('pulsegate-copies')
    // Not a real host: the key only has to be a URL no request of a user could ask for.
    this.origin = `https://copies.pulsegate.invalid/${encodeURIComponent(fleet)}/`
  }

  async get<T>(key: string): Promise<Copy<T> | undefined> {
    const answer = await (await this.cache).match(this.origin + key)
    return answer ? ((await answer.json()) as Copy<T>) : undefined
  }

  async put<T>(key: string, copy: Copy<T>): Promise<void> {
    // The cache counts whole seconds; the copy's own validUntil is checked to the millisecond on every read.
    const seconds = Math.floor((copy.validUntil - copy.madeAt) / 1000)
    if (seconds < 1) return
    const body = JSON.stringify(copy)
    const headers = { 'Content-Type': 'application/json', 'Cache-Control': `max-age=${seconds}` }
    await (await this.cache).put(this.origin + key, new Response(body, { headers }))
  }
}
