// Cron schedules on Node: the shared cases (test/schedule.suite.ts), the zod fields
// the heartbeat schema reuses, and the cache and memo, which must never change an answer.
import { Cron } from 'croner'
import fc from 'fast-check'
import { describe, expect, it } from 'vitest'
import { z } from 'zod'
import { nextRun, SCHEDULE_CACHE_SIZE, scheduleField, tzField } from '../lib/schedule.ts'
import { REFUSED, scheduleSuite } from './schedule.suite.ts'

scheduleSuite('node')

describe('the zod fields', () => {
  const body = z.strictObject({ schedule: scheduleField.optional(), tz: tzField.optional() })

  it('take a valid schedule and zone as they are', () => {
    expect(body.parse({ schedule: '0 3 * * 1-5', tz: 'Europe/Berlin' })).toEqual({ schedule: '0 3 * * 1-5', tz: 'Europe/Berlin' })
    expect(body.parse({ schedule: '@daily' })).toEqual({ schedule: '@daily' })
  })

  it.each(REFUSED)('refuse %j in %j, naming the field and the problem', (expression, tz, field, message) => {
    // A field alone checks only itself: the expression in UTC, the zone with any expression.
    const input = field === 'schedule' ? { schedule: expression } : { schedule: '@daily', tz }
    const result = body.safeParse(input)
    expect(result.success).toBe(false)
    expect(result.error!.issues).toHaveLength(1)
    expect(result.error!.issues[0]).toMatchObject({ path: [field], message: expect.stringMatching(message) })
  })

  it('refuse what is not a string', () => {
    expect(body.safeParse({ schedule: 5 }).error!.issues[0]!.path).toEqual(['schedule'])
    expect(body.safeParse({ tz: null }).error!.issues[0]!.path).toEqual(['tz'])
  })
})

describe('the cache and the memo', () => {
  const schedules = [
    { expression: '*/7 * * * *', tz: 'UTC' },
    { expression: '0 3 * * 1-5', tz: 'Europe/Berlin' },
    { expression: '30 2 * * *', tz: 'Europe/Berlin' },
    { expression: '*/30 * * * *', tz: 'Europe/Berlin' },
    { expression: '*/20 * * * * *', tz: 'America/New_York' },
    { expression: '0 0 1 * *', tz: 'Australia/Lord_Howe' },
  ]
  const from = Date.parse('2026-01-01T00:00:00Z')
  const to = Date.parse('2027-01-01T00:00:00Z')

  it('answer as a fresh parse does, whatever order the questions come in', () => {
    const fresh = schedules.map((s) => new Cron(s.expression, { timezone: s.tz, mode: '5-or-6-parts', fixedTimeRule: 'no-wildcard', sloppyRanges: true, domAndDow: true, paused: true }))
    fc.assert(
      fc.property(fc.array(fc.tuple(fc.nat(schedules.length - 1), fc.integer({ min: from, max: to })), { maxLength: 60 }), (questions) => {
        for (const [i, after] of questions) {
          expect(nextRun(schedules[i]!, after)).toBe(fresh[i]!.nextRun(new Date(after))!.getTime())
          // Right on a run and just before it: the edges of a memo window.
          const run = nextRun(schedules[i]!, after)
          expect(nextRun(schedules[i]!, run - 1)).toBe(run)
          expect(nextRun(schedules[i]!, run)).toBe(fresh[i]!.nextRun(new Date(run))!.getTime())
        }
      }),
      { numRuns: 100 },
    )
  })

  it('stay right when more distinct schedules come than it holds', () => {
    const after = Date.parse('2026-03-27T10:00:00Z')
    // Minute m of hour h, over more (tz, expression) pairs than the cache keeps.
    const many = Array.from({ length: SCHEDULE_CACHE_SIZE + 500 }, (_, i) => ({
      expression: `${i % 60} ${Math.floor(i / 60) % 24} * * *`,
      tz: i < 1440 ? 'UTC' : i < 2880 ? 'Europe/Berlin' : i < 4320 ? 'Asia/Tokyo' : 'Europe/London',
    }))
    const first = many.map((s) => nextRun(s, after))
    expect(many.map((s) => nextRun(s, after))).toEqual(first)
    expect(new Date(first[0]!).toISOString()).toBe('2026-03-28T00:00:00.000Z')
    expect(new Date(first[1440 + 61]!).toISOString()).toBe('2026-03-28T00:01:00.000Z') // 01:01 CET
  })
})
