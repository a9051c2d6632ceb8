// Caps that keep a fleet bounded against clients that invent agents, components
// or versions as fast as they can, and a rate limit per component. They are
// checked while a batch is planned, inside the store's atomic section, so two
// concurrent batches cannot both squeeze under a cap.

export interface Limits {
  /** Distinct agents in the fleet (MAX_AGENTS); 0 = no cap. */
  maxAgents: number
  /** Components of one agent (MAX_COMPONENTS_PER_AGENT); 0 = no cap. */
  maxComponentsPerAgent: number
  /** Components of the whole fleet (MAX_COMPONENTS): what bounds memory, and the time a restart takes to read them; 0 = no cap. */
  maxComponents: number
  /** Distinct reported versions across the fleet (MAX_VERSIONS); 0 = no cap. */
  maxVersions: number
  /** Heartbeats per second per component, with as large a burst (RATE_LIMIT_PER_SECOND); 0 = off. */
  ratePerSecond: number
}

export const NO_LIMITS: Limits = { maxAgents: 0, maxComponentsPerAgent: 0, maxComponents: 0, maxVersions: 0, ratePerSecond: 0 }

export type LimitCode = 'too_many_agents' | 'too_many_components' | 'too_many_versions' | 'rate_limited'

/** A batch refused whole because it would break a cap or the rate limit; nothing was stored. */
export class LimitError extends Error {
  name = 'LimitError'
  readonly code: LimitCode
  /** 422 for a cap (retrying soon will not help), 429 for the rate limit. */
  readonly status: 422 | 429
  /** Seconds until a retry can succeed (rate limit only). */
  readonly retryAfter: number | undefined

  constructor(code: LimitCode, message: string, retryAfter?: number) {
    super(message)
    this.code = code
    this.status = code === 'rate_limited' ? 429 : 422
    this.retryAfter = retryAfter
  }
}

/**
 * A token bucket per key: `rate` tokens a second, holding at most `rate`.
 * Kept in memory: a restart forgets it, which only ever lets a client through.
 */
export class RateLimiter {
  private readonly rate: number
  private readonly buckets = new Map<string, { tokens: number; at: number }>()

  constructor(rate: number) {
    this.rate = rate
  }

  /** Milliseconds to wait before `key` may send again, or 0 if it may now. Does not take a token. */
  waitFor(key: string, now: number, tokens = 1): number {
    const available = this.available(key, now)
    return available >= tokens ? 0 : Math.ceil(((tokens - available) / this.rate) * 1000)
  }

  take(key: string, now: number, tokens = 1): void {
    this.buckets.set(key, { tokens: this.available(key, now) - tokens, at: now })
  }

  forget(key: string): void {
    this.buckets.delete(key)
  }

  private available(key: string, now: number): number {
    const bucket = this.buckets.get(key)
    if (!bucket) return this.rate
    return Math.min(this.rate, bucket.tokens + ((now - bucket.at) / 1000) * this.rate)
  }
}
