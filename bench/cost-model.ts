// What a fleet costs a month on Cloudflare Workers: Cloudflare's published prices
// and limits, times the operations each request makes, which test/workers/cost.test.ts
// counts in the code (Durable Object requests, SQLite rows read and written) and
// holds this table to. `npm run cost` prints it for a fleet of your own.

/** Cloudflare's prices and limits, as published on these pages, read on the date given. */
export const PRICES = {
  read: '2026-12-01',
  pages: [
    'https://developers.cloudflare.com/workers/platform/pricing/',
    'https://developers.cloudflare.com/workers/platform/limits/',
    'https://developers.cloudflare.com/durable-objects/platform/pricing/',
  ],
  /** Workers Paid: $5 a month, with these included, then these per million. */
  paid: {
    base: 5,
    workerRequests: { included: 10_000_000, perMillion: 0.3 },
    workerCpuMs: { included: 30_000_000, perMillion: 0.02 },
    objectRequests: { included: 1_000_000, perMillion: 0.15 },
    objectGbSeconds: { included: 400_000, perMillion: 12.5 },
    rowsRead: { included: 25_000_000_000, perMillion: 0.001 },
    rowsWritten: { included: 50_000_000, perMillion: 1 },
  },
  /** Workers Free: daily limits (an operation past one fails), and CPU per request. */
  free: {
    workerRequests: 100_000,
    objectRequests: 100_000,
    objectGbSeconds: 13_000,
    rowsRead: 5_000_000,
    rowsWritten: 100_000,
    cpuMsPerRequest: 10,
  },
} as const

export interface Operations {
  workerRequests: number
  objectRequests: number
  rowsRead: number
  rowsWritten: number
}

/**
 * Per request, counted from the code by test/workers/cost.test.ts, with the
 * default PROBE_SOURCE=do. A heartbeat writes its component's row and nothing
 * else (the row keeps its own count of heartbeats); reads come from the
 * object's memory, so nothing reads a row but the object's start; a scrape and
 * a rejection write their counter.
 */
export const OPERATIONS = {
  heartbeat: { workerRequests: 1, objectRequests: 1, rowsRead: 0, rowsWritten: 1 },
  probe: { workerRequests: 1, objectRequests: 1, rowsRead: 0, rowsWritten: 0 },
  agentProbe: { workerRequests: 1, objectRequests: 1, rowsRead: 0, rowsWritten: 0 },
  scrape: { workerRequests: 1, objectRequests: 2, rowsRead: 0, rowsWritten: 1 },
  rejected: { workerRequests: 1, objectRequests: 1, rowsRead: 0, rowsWritten: 1 },
} as const satisfies Record<string, Operations>

/**
 * What is not counted but assumed, and why. An object is billed for the wall
 * time it is active (an idle one hibernates, unbilled): about 5 ms a request at
 * 128 MB is the assumption, an upper bound of the times seen in `wrangler dev`.
 * Worker CPU per request is measured on workerd (BENCHMARKS.md, section 6).
 */
export const ASSUMED = { objectMsPerRequest: 5, objectMemoryGb: 0.128, workerCpuMsPerRequest: 1 }

export interface Fleet {
  agents: number
  /** Seconds between an agent's heartbeats (one request each, all its components in one batch). */
  intervalSeconds: number
  /** Seconds between Prometheus scrapes of /metrics (0: not scraped). */
  scrapeSeconds: number
  /** Probes of /readyz or /readyz/<agent> a minute, from all monitors together. */
  probesPerMinute: number
}

const SECONDS_PER_MONTH = 30 * 86_400

/** Operations a month. */
export function monthly(fleet: Fleet): Operations & { objectGbSeconds: number; workerCpuMs: number } {
  const heartbeats = (fleet.agents * SECONDS_PER_MONTH) / fleet.intervalSeconds
  const scrapes = fleet.scrapeSeconds > 0 ? SECONDS_PER_MONTH / fleet.scrapeSeconds : 0
  const probes = fleet.probesPerMinute * (SECONDS_PER_MONTH / 60)
  const total = (what: keyof Operations) =>
    heartbeats * OPERATIONS.heartbeat[what] + scrapes * OPERATIONS.scrape[what] + probes * OPERATIONS.probe[what]
  const objectRequests = total('objectRequests')
  return {
    workerRequests: total('workerRequests'),
    objectRequests,
    rowsRead: total('rowsRead'),
    rowsWritten: total('rowsWritten'),
    objectGbSeconds: objectRequests * (ASSUMED.objectMsPerRequest / 1000) * ASSUMED.objectMemoryGb,
    workerCpuMs: total('workerRequests') * ASSUMED.workerCpuMsPerRequest,
  }
}

export interface Bill {
  usage: ReturnType<typeof monthly>
  /** Dollars a month on Workers Paid, line by line, and in all. */
  paid: Record<string, number> & { total: number }
  /** Whether the fleet stays within every daily limit of Workers Free, and the first it would pass. */
  free: { fits: boolean; over: string[] }
}

/** The most agents that stay within every daily limit of Workers Free, at this fleet's rates. */
export function freeAgents(fleet: Fleet): number {
  let low = 0
  let high = 1_000_000
  while (low < high) {
    const mid = Math.ceil((low + high) / 2)
    if (bill({ ...fleet, agents: mid }).free.fits) low = mid
    else high = mid - 1
  }
  return low
}

export function bill(fleet: Fleet): Bill {
  const usage = monthly(fleet)
  const over = (used: number, { included, perMillion }: { included: number; perMillion: number }) =>
    (Math.max(0, used - included) / 1_000_000) * perMillion
  const p = PRICES.paid
  const lines = {
    base: p.base,
    workerRequests: over(usage.workerRequests, p.workerRequests),
    workerCpu: over(usage.workerCpuMs, p.workerCpuMs),
    objectRequests: over(usage.objectRequests, p.objectRequests),
    objectDuration: over(usage.objectGbSeconds, p.objectGbSeconds),
    rowsRead: over(usage.rowsRead, p.rowsRead),
    rowsWritten: over(usage.rowsWritten, p.rowsWritten),
  }
  const total = Object.values(lines).reduce((a, b) => a + b, 0)
  const perDay = (monthlyValue: number) => monthlyValue / 30
  const limits: [string, number, number][] = [
    ['Worker requests a day', perDay(usage.workerRequests), PRICES.free.workerRequests],
    ['Durable Object requests a day', perDay(usage.objectRequests), PRICES.free.objectRequests],
    ['Durable Object GB-s a day', perDay(usage.objectGbSeconds), PRICES.free.objectGbSeconds],
    ['SQLite rows read a day', perDay(usage.rowsRead), PRICES.free.rowsRead],
    ['SQLite rows written a day', perDay(usage.rowsWritten), PRICES.free.rowsWritten],
  ]
  const exceeded = limits.filter(([, used, limit]) => used > limit).map(([name, used, limit]) => `${name}: ${Math.round(used).toLocaleString('en-US')} > ${limit.toLocaleString('en-US')}`)
  return { usage, paid: { ...lines, total }, free: { fits: exceeded.length === 0, over: exceeded } }
}
