// pulsegate-agent (Node sidecar code, see agent/clock.ts): how it waits and what
// it keeps while pulsegate does not answer.

/** The first backoff ceiling: 1 s, doubling per failure. */
export const BACKOFF_BASE_MS = 1000
/** How long a one-shot report (--once, run's final report) keeps retrying: min(interval, this). */
export const ONE_SHOT_BUDGET_MS = 60_000

export interface BackoffPolicy {
  /** The ceiling of the first wait (ms). */
  baseMs: number
  /** No wait is longer than this (ms), Retry-After aside; the agent uses its interval. */
  capMs: number
  /** [0, 1); injected by tests. */
  random: () => number
}

/**
 * Exponential backoff with full jitter: a wait drawn uniformly from
 * [0, min(cap, base × 2^attempt)), attempt counting failures from 0. A server's
 * Retry-After is a floor: the agent never comes back sooner than asked.
 */
export function backoffDelay(attempt: number, policy: BackoffPolicy, retryAfterMs?: number): number {
  const ceiling = Math.min(policy.capMs, policy.baseMs * 2 ** Math.min(attempt, 40))
  const jittered = policy.random() * ceiling
  return retryAfterMs === undefined ? jittered : Math.max(jittered, retryAfterMs)
}

/** The agent's wait after its `attempt`-th failure in a row; `retryAfter` in seconds, as servers send it. */
export function retryDelay(attempt: number, capMs: number, random: () => number, retryAfter?: number): number {
  return backoffDelay(attempt, { baseMs: BACKOFF_BASE_MS, capMs, random }, retryAfter === undefined ? undefined : retryAfter * 1000)
}

/**
 * How long a one-shot report waits before its next try, or null when it must give up:
 * the budget is spent, or the server's Retry-After points past it. The last wait is
 * cut short so that the last try comes when the budget ends — giving up as soon as a
 * jittered wait would overshoot left up to a whole backoff ceiling of it unused.
 */
export function oneShotWait(delayMs: number, now: number, giveUpAt: number, retryAfter?: number): number | null {
  const left = giveUpAt - now
  if (left <= 0 || (retryAfter !== undefined && retryAfter * 1000 > left)) return null
  return Math.min(delayMs, left)
}

/**
 * What is waiting to be sent: the latest item per key (component), never more.
 * While pulsegate is unreachable a newer state replaces an older one, so the
 * backlog is bounded by the number of components, however long the outage.
 */
export class LatestQueue<T> {
  readonly #items = new Map<string, T>()

  put(key: string, item: T): void {
    this.#items.set(key, item)
  }

  get size(): number {
    return this.#items.size
  }

  /** What to send now, in the order the keys were first put. */
  pending(): Map<string, T> {
    return new Map(this.#items)
  }

  /** After `sent` was delivered: drop what was sent, keep what was put since. */
  delivered(sent: Map<string, T>): void {
    for (const [key, item] of sent) if (this.#items.get(key) === item) this.#items.delete(key)
  }
}
