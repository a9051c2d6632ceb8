// Cron schedules: when a component that runs on a schedule is next due. croner
// parses the expression and walks time zones through Intl, with no runtime import,
// so this runs on Node, Bun, Deno and workerd alike (docs/schedules.md says why
// croner, what the semantics are, what DST does and what a call costs).
import { Cron } from 'croner'
import { z } from 'zod'

export interface Schedule {
  /** 5 fields, 6 with seconds first, or @hourly, @daily, @weekly, @monthly, @yearly. */
  expression: string
  /** An IANA time zone; DEFAULT_TZ when none is given. */
  tz: string
}

export type ScheduleProblem = { field: 'schedule' | 'tz'; message: string }

export const DEFAULT_TZ = 'UTC'
/** As healthchecks.io's schedule column; the longest IANA name has 32 characters. */
export const MAX_SCHEDULE_LENGTH = 100
export const MAX_TZ_LENGTH = 64
/** Checked (expression, tz) pairs and their recent answers kept at most: about 200 bytes each. */
export const SCHEDULE_CACHE_SIZE = 4096
/** Parsed croner patterns kept at most: each holds a 10,000-slot year table, about 83 KB. */
export const PATTERN_CACHE_SIZE = 64
/** Pulsegate's smallest grace (as for intervals) and healthchecks.io's default grace, in seconds. */
export const MIN_SCHEDULE_GRACE = 5
export const MAX_SCHEDULE_GRACE = 3600

const NAMES = ['@yearly', '@annually', '@monthly', '@weekly', '@daily', '@midnight', '@hourly']
// IANA names are letters, digits and _ - + / (Etc/GMT+2); this also keeps out the
// "+02:00" offsets that newer Intl implementations accept and croner does not.
const ZONE_NAME = /^[A-Za-z][A-Za-z0-9_+\-/]*$/
// Without a year field every expression repeats, so one that has no run after
// this instant (croner searches until the year 3000) never runs at all.
const PROBE_FROM = Date.UTC(2000, 0, 1)
// "no-wildcard": a job with no * or step in its seconds, minutes and hours (30 2 * * *,
// but also 0 1-5 * * *) runs once when its time repeats and right after the gap when
// it is skipped, as in Debian's cron and healthchecks.io's cronsim.
// sloppyRanges: 5/15 in a field means 5, 20, 35, 50, as cronsim reads it.
const CRON_OPTIONS = { mode: '5-or-6-parts', fixedTimeRule: 'no-wildcard', sloppyRanges: true, paused: true } as const
const WINDOWS = 4

/**
 * A bounded map that forgets what went unused longest, in two generations (as
 * quick-lru): a hit in the recent one costs one lookup, and a full generation is
 * dropped whole. (Moving each hit to the end of one Map costs µs once it is full.)
 */
class Lru<V> {
  private recent = new Map<string, V>()
  private older = new Map<string, V>()
  private readonly generation: number

  /** Holds at most `size` entries, and always the `size / 2` used last. */
  constructor(size: number) {
    this.generation = Math.max(1, Math.floor(size / 2))
  }

  get(key: string): V | undefined {
    const value = this.recent.get(key)
    if (value !== undefined) return value
    const old = this.older.get(key)
    if (old !== undefined) {
      this.older.delete(key)
      this.set(key, old)
    }
    return old
  }

  set(key: string, value: V): void {
    this.recent.set(key, value)
    if (this.recent.size >= this.generation) {
      this.older = this.recent
      this.recent = new Map()
    }
  }
}

/** A zone checked once: why it is refused, or whether it is UTC (croner's fixed offset is 5-10 times faster than Intl). */
type Zone = { problem: string } | { problem: null; utc: boolean }

/**
 * A schedule that passed its checks, and its last few answers: nextRun(a) = r means
 * no run in (a, r), so every `after` in [from, to) has the same answer. Components on
 * one schedule are mostly seen between the same two runs, so most reads end here;
 * several windows, because a grace looks one run further (defaultScheduleGrace).
 */
interface Checked {
  key: string
  expression: string
  where: { timezone: string } | { utcOffset: 0 }
  domAndDow: boolean
  windows: { from: number; to: number }[]
}

const zones = new Lru<Zone>(SCHEDULE_CACHE_SIZE)
const checked = new Lru<Checked | ScheduleProblem>(SCHEDULE_CACHE_SIZE)
const patterns = new Lru<Cron>(PATTERN_CACHE_SIZE)

function zoneOf(tz: string): Zone {
  let zone = zones.get(tz)
  if (zone) return zone
  if (!ZONE_NAME.test(tz)) zone = { problem: 'must be an IANA time zone name such as Europe/Berlin or UTC' }
  else {
    try {
      zone = { problem: null, utc: new Intl.DateTimeFormat('en-US', { timeZone: tz }).resolvedOptions().timeZone === 'UTC' }
    } catch {
      zone = { problem: 'is not a time zone this runtime knows (an IANA name such as Europe/Berlin or UTC)' }
    }
  }
  zones.set(tz, zone)
  return zone
}

/** Why `expression` cannot be a schedule before croner reads it, or null. */
function shapeProblem(expression: string): string | null {
  const text = expression.trim()
  // croner also takes an ISO date (run once) and 7 fields (a year): neither is a cron schedule.
  if (text.startsWith('@') ? !NAMES.includes(text.toLowerCase()) : ![5, 6].includes(text.split(/\s+/).length)) {
    return 'must have 5 fields (minute hour day-of-month month day-of-week), 6 with seconds first, or be @hourly, @daily, @weekly, @monthly or @yearly'
  }
  return null
}

// Debian's cron (and cronsim) runs on days matching both day fields when either
// starts with *, and on days matching either otherwise: "0 0 */2 * MON" is odd
// Mondays there, where croner alone would take odd days and Mondays.
function daysAnded(expression: string): boolean {
  const fields = expression.trim().split(/\s+/)
  if (fields.length < 5) return false
  const [day, , weekday] = fields.slice(-3)
  return day!.startsWith('*') || weekday!.startsWith('*')
}

function patternOf(entry: Checked): Cron {
  let cron = patterns.get(entry.key)
  if (!cron) patterns.set(entry.key, (cron = new Cron(entry.expression, { ...CRON_OPTIONS, ...entry.where, domAndDow: entry.domAndDow })))
  return cron
}

function check(expression: string, tz: string): Checked | ScheduleProblem {
  // Checked before anything is cached or echoed.
  if (expression.length > MAX_SCHEDULE_LENGTH) return { field: 'schedule', message: `schedule must be at most ${MAX_SCHEDULE_LENGTH} characters` }
  if (tz.length > MAX_TZ_LENGTH) return { field: 'tz', message: `tz must be at most ${MAX_TZ_LENGTH} characters` }
  const key = `${tz} ${expression}`
  let result = checked.get(key)
  if (result) return result
  const schedule = (problem: string): ScheduleProblem => ({ field: 'schedule', message: `schedule ${JSON.stringify(expression)} ${problem}` })
  const zone = zoneOf(tz)
  const shape = shapeProblem(expression)
  if (shape) result = schedule(shape)
  else {
    // A wrong zone is reported only once the expression is known to be right.
    const where = zone.problem === null && !zone.utc ? { timezone: tz } : { utcOffset: 0 as const }
    const entry: Checked = { key, expression: expression.trim(), where, domAndDow: daysAnded(expression), windows: [] }
    try {
      if (!patternOf(entry).nextRun(new Date(PROBE_FROM))) result = schedule('never runs')
      else if (zone.problem !== null) result = { field: 'tz', message: `tz ${JSON.stringify(tz)} ${zone.problem}` }
      else result = entry
    } catch (error) {
      result = schedule(`is not a cron expression: ${(error as Error).message.replace(/^Cron\w*: /, '')}`)
    }
  }
  checked.set(key, result)
  return result
}

/** What is wrong with a schedule (the expression first, then the zone), or null. */
export function checkSchedule(expression: string, tz: string = DEFAULT_TZ): ScheduleProblem | null {
  const result = check(expression, tz)
  return 'windows' in result ? null : result
}

/** The first scheduled instant strictly after `after` (ms), or Infinity if none. Throws on a schedule checkSchedule refuses. */
export function nextRun(schedule: Schedule, after: number): number {
  const entry = check(schedule.expression, schedule.tz)
  if (!('windows' in entry)) throw new TypeError(entry.message)
  if (after === Infinity) return Infinity // the run after "never"
  const known = entry.windows.find((w) => after >= w.from && after < w.to)
  if (known) return known.to
  const next = patternOf(entry).nextRun(new Date(after))?.getTime() ?? Infinity
  const same = entry.windows.find((w) => w.to === next)
  if (same) same.from = Math.min(same.from, after)
  else {
    if (entry.windows.length === WINDOWS) entry.windows.shift()
    entry.windows.push({ from: after, to: next })
  }
  return next
}

/**
 * The grace (seconds, like grace_seconds) of a scheduled component that states none:
 * half the gap between the next two runs after `after`, within [5 s, 1 h].
 * docs/schedules.md compares it with healthchecks.io's fixed 1 h.
 */
export function defaultScheduleGrace(schedule: Schedule, after: number): number {
  const first = nextRun(schedule, after)
  const gapSeconds = (nextRun(schedule, first) - first) / 1000
  if (!Number.isFinite(gapSeconds)) return MAX_SCHEDULE_GRACE
  return Math.min(MAX_SCHEDULE_GRACE, Math.max(MIN_SCHEDULE_GRACE, gapSeconds / 2))
}

/**
 * The instant (ms) after which a scheduled component counts as missed: it is due at
 * the first run after its last ping, and missed once now > due + grace.
 */
export function scheduleDeadline(schedule: Schedule, lastSeen: number, graceSeconds?: number | null): number {
  const grace = graceSeconds ?? defaultScheduleGrace(schedule, lastSeen)
  return nextRun(schedule, lastSeen) + grace * 1000
}

/** A cron expression (checked in UTC; checkSchedule checks it in its own zone). */
export const scheduleField = z.string().superRefine((expression, ctx) => {
  const problem = checkSchedule(expression, DEFAULT_TZ)
  if (problem) ctx.addIssue({ code: 'custom', message: problem.message })
})

/** An IANA time zone name. */
export const tzField = z.string().superRefine((tz, ctx) => {
  const problem = checkSchedule('@daily', tz)
  if (problem) ctx.addIssue({ code: 'custom', message: problem.message })
})
