// Cron schedules, the same cases on every runtime (Node, workerd, Bun, Deno): each
// expected instant is worked out by hand from the calendar and the zone's rules,
// not taken from the library. The clock is the argument: nothing here reads time.
import { describe, expect, it } from 'vitest'
import { checkSchedule, defaultScheduleGrace, nextRun, type Schedule, scheduleDeadline } from '../lib/schedule.ts'

const at = (iso: string) => Date.parse(iso)
const iso = (ms: number) => new Date(ms).toISOString()
const utc = (expression: string): Schedule => ({ expression, tz: 'UTC' })
const berlin = (expression: string): Schedule => ({ expression, tz: 'Europe/Berlin' })

/** [what, schedule, after, the next runs that follow, one after the other] */
export const RUNS: [string, Schedule, string, string[]][] = [
  // 2026-03-27 is a Friday.
  ['weekdays at 03:00 skip the weekend', utc('0 3 * * 1-5'), '2026-03-26T12:00:00Z', ['2026-03-27T03:00:00.000Z', '2026-03-30T03:00:00.000Z']],
  ['weekday names', utc('0 3 * * MON-FRI'), '2026-03-27T03:00:00Z', ['2026-03-30T03:00:00.000Z']],
  ['seconds first: every 15 s', utc('*/15 * * * * *'), '2026-03-27T10:00:07.500Z', ['2026-03-27T10:00:15.000Z', '2026-03-27T10:00:30.000Z']],
  ['seconds first: 12:00:30 daily', utc('30 0 12 * * *'), '2026-03-27T12:00:30Z', ['2026-03-28T12:00:30.000Z']],
  ['@daily is midnight, strictly after', utc('@daily'), '2026-03-27T23:59:59.999Z', ['2026-03-28T00:00:00.000Z', '2026-03-29T00:00:00.000Z']],
  ['@hourly', utc('@hourly'), '2026-03-27T10:59:59Z', ['2026-03-27T11:00:00.000Z']],
  ['@weekly is Sunday midnight', utc('@weekly'), '2026-03-27T10:00:00Z', ['2026-03-29T00:00:00.000Z', '2026-04-05T00:00:00.000Z']],
  ['@monthly', utc('@monthly'), '2026-03-27T10:00:00Z', ['2026-04-01T00:00:00.000Z']],
  ['@yearly', utc('@yearly'), '2026-03-27T10:00:00Z', ['2027-01-01T00:00:00.000Z']],
  // Day fields as Debian's cron and healthchecks.io's cronsim read them.
  ['either day field starting with * means both must match: odd days that are Mondays', utc('0 0 */2 * MON'), '2026-03-27T10:00:00Z', ['2026-04-13T00:00:00.000Z', '2026-04-27T00:00:00.000Z']],
  ['two restricted day fields mean either: the 13th or a Friday', utc('0 0 13 * FRI'), '2026-03-27T10:00:00Z', ['2026-04-03T00:00:00.000Z', '2026-04-10T00:00:00.000Z', '2026-04-13T00:00:00.000Z', '2026-04-17T00:00:00.000Z']],
  ['a step from a start value, 5/15: minutes 5, 20, 35, 50', utc('5/15 * * * *'), '2026-03-27T10:06:00Z', ['2026-03-27T10:20:00.000Z', '2026-03-27T10:35:00.000Z', '2026-03-27T10:50:00.000Z', '2026-03-27T11:05:00.000Z']],
  ["cronsim's 5L, the last Friday (27 March is one)", utc('0 0 * * 5L'), '2026-03-27T10:00:00Z', ['2026-04-24T00:00:00.000Z']],
  ["cronsim's LW, the last weekday of the month", utc('0 0 LW * *'), '2026-03-27T10:00:00Z', ['2026-03-31T00:00:00.000Z', '2026-04-30T00:00:00.000Z']],
  ['a zone west of UTC, on summer time (UTC-4) since 8 March', { expression: '0 9 * * *', tz: 'America/New_York' }, '2026-03-27T12:00:00Z', ['2026-03-27T13:00:00.000Z', '2026-03-28T13:00:00.000Z']],
  // Berlin springs forward on 2026-03-29: 02:00 CET (01:00Z) becomes 03:00 CEST, so 02:30 does not exist.
  ['Berlin 02:30 the day before the change (CET)', berlin('30 2 * * *'), '2026-03-27T12:00:00Z', ['2026-03-28T01:30:00.000Z']],
  ['Berlin spring forward: 02:30 runs at 03:00 CEST, then 02:30 CEST', berlin('30 2 * * *'), '2026-03-28T12:00:00Z', ['2026-03-29T01:00:00.000Z', '2026-03-30T00:30:00.000Z']],
  ['Berlin spring forward: an every-30-minutes job skips the missing hour', berlin('*/30 2 * * *'), '2026-03-28T12:00:00Z', ['2026-03-30T00:00:00.000Z']],
  // Berlin falls back on 2026-10-25: 03:00 CEST (01:00Z) becomes 02:00 CET, so 02:30 happens twice.
  ['Berlin fall back: 02:30 runs once, at the first (CEST) one', berlin('30 2 * * *'), '2026-10-24T12:00:00Z', ['2026-10-25T00:30:00.000Z', '2026-10-26T01:30:00.000Z']],
  ['Berlin fall back: between the two 02:30s, the next is the next day', berlin('30 2 * * *'), '2026-10-25T00:45:00Z', ['2026-10-26T01:30:00.000Z']],
  ['Berlin fall back: an every-30-minutes job runs through both passes', berlin('*/30 * * * *'), '2026-10-25T00:15:00Z', ['2026-10-25T00:30:00.000Z', '2026-10-25T01:00:00.000Z', '2026-10-25T01:30:00.000Z']],
]

/**
 * healthchecks.io's own DST cases (cronsim, tests/test_cronsim.py, TestDstTransitions):
 * Europe/Riga in 2021, which springs from 03:00 EET to 04:00 EEST on 28 March and
 * falls from 04:00 EEST back to 03:00 EET on 31 October. [cronsim test, expression, now, next runs]
 */
export const CRONSIM: [string, string, string, string[]][] = [
  ['test_002_every_30_minutes_oct', '*/30 * * * *', '2021-10-31T02:10:00+03:00',
    ['2021-10-31T02:30:00+03:00', '2021-10-31T03:00:00+03:00', '2021-10-31T03:30:00+03:00', '2021-10-31T03:00:00+02:00', '2021-10-31T03:30:00+02:00', '2021-10-31T04:00:00+02:00']],
  ['test_011_at_3_mar', '0 3 * * *', '2021-03-27T01:30:00+02:00', ['2021-03-27T03:00:00+02:00', '2021-03-28T04:00:00+03:00', '2021-03-29T03:00:00+03:00']],
  ['test_011_at_3_oct', '0 3 * * *', '2021-10-31T01:30:00+03:00', ['2021-10-31T03:00:00+03:00', '2021-11-01T03:00:00+02:00']],
  ['test_016_at_1_to_5_oct', '0 1-5 * * *', '2021-10-31T01:30:00+03:00', ['2021-10-31T02:00:00+03:00', '2021-10-31T03:00:00+03:00', '2021-10-31T04:00:00+02:00']],
  ['test_009_30_past_1_2_3_4_5_mar', '30 1,2,3,4,5 * * *', '2021-03-28T01:30:00+02:00', ['2021-03-28T02:30:00+02:00', '2021-03-28T04:00:00+03:00', '2021-03-28T04:30:00+03:00']],
  ['test_015_every_other_hour_enumerated_mar', '0 1,3,5,7,9,11,13,15,17,19,21,23 * * *', '2021-03-28T00:30:00+02:00',
    ['2021-03-28T01:00:00+02:00', '2021-03-28T04:00:00+03:00', '2021-03-28T05:00:00+03:00']],
  ['test_004_every_2_hours_oct', '0 */2 * * *', '2021-10-31T01:30:00+03:00', ['2021-10-31T02:00:00+03:00', '2021-10-31T04:00:00+02:00', '2021-10-31T06:00:00+02:00']],
]

/** [expression, tz, the field, what the message says] */
export const REFUSED: [string, string, 'schedule' | 'tz', RegExp][] = [
  ['61 * * * *', 'UTC', 'schedule', /^schedule "61 \* \* \* \*" is not a cron expression: Invalid value for minute: 61/],
  ['0 3 * * 8', 'UTC', 'schedule', /dayOfWeek: 8/],
  ['* * * *', 'UTC', 'schedule', /must have 5 fields .*6 with seconds first/],
  ['0 0 0 1 1 * 2030', 'UTC', 'schedule', /must have 5 fields/],
  ['2030-01-23T00:00:00', 'UTC', 'schedule', /must have 5 fields/],
  ['', 'UTC', 'schedule', /must have 5 fields/],
  ['@reboot', 'UTC', 'schedule', /or be @hourly, @daily, @weekly, @monthly or @yearly/],
  ['@often', 'UTC', 'schedule', /or be @hourly/],
  ['0 0 30 2 *', 'UTC', 'schedule', /^schedule "0 0 30 2 \*" never runs$/],
  ['*'.repeat(101), 'UTC', 'schedule', /^schedule must be at most 100 characters$/],
  ['0 3 * * *', 'Mars/Olympus_Mons', 'tz', /^tz "Mars\/Olympus_Mons" is not a time zone this runtime knows/],
  ['0 3 * * *', '+02:00', 'tz', /^tz "\+02:00" must be an IANA time zone name such as Europe\/Berlin or UTC$/],
  ['0 3 * * *', 'Europe/Berlin; rm', 'tz', /must be an IANA time zone name/],
  ['0 3 * * *', '', 'tz', /must be an IANA time zone name/],
  ['0 3 * * *', `Europe/${'x'.repeat(64)}`, 'tz', /^tz must be at most 64 characters$/],
  // The expression is reported first when both are wrong.
  ['61 * * * *', 'Mars/Olympus_Mons', 'schedule', /minute/],
]

export function scheduleSuite(runtime: string): void {
  describe(`schedules (${runtime})`, () => {
    // Loops rather than it.each: Deno's runner has only it() (test/deno/vitest-shim.ts).
    for (const [what, schedule, after, runs] of RUNS) {
      it(what, () => {
        expect(checkSchedule(schedule.expression, schedule.tz)).toBeNull()
        const seen: string[] = []
        let from = at(after)
        for (let i = 0; i < runs.length; i++) seen.push(iso((from = nextRun(schedule, from))))
        expect(seen).toEqual(runs)
      })
    }

    for (const [test, expression, now, runs] of CRONSIM) {
      it(`runs as healthchecks.io's cronsim does: ${test} (${expression})`, () => {
        const schedule = { expression, tz: 'Europe/Riga' }
        let from = at(now)
        for (const run of runs) expect(iso((from = nextRun(schedule, from)))).toBe(iso(at(run)))
      })
    }

    for (const [expression, tz, field, message] of REFUSED) {
      it(`refuses ${JSON.stringify(expression)} in ${JSON.stringify(tz)}`, () => {
        const problem = checkSchedule(expression, tz)
        expect(problem?.field).toBe(field)
        expect(problem?.message).toMatch(message)
        expect(() => nextRun({ expression, tz }, at('2026-03-27T00:00:00Z'))).toThrow(message)
      })
    }

    it('accepts the zones Intl knows, in any case, and UTC by default', () => {
      for (const tz of ['UTC', 'Europe/Berlin', 'europe/berlin', 'Etc/GMT+2', 'America/Argentina/ComodRivadavia']) {
        expect(checkSchedule('0 3 * * *', tz)).toBeNull()
      }
      expect(checkSchedule('  0 3 * * *  ')).toBeNull()
      expect(nextRun({ expression: '0 3 * * *', tz: 'europe/berlin' }, at('2026-03-27T12:00:00Z'))).toBe(at('2026-03-28T02:00:00Z'))
    })

    it('answers Infinity when croner finds no run before the year 3000', () => {
      expect(iso(nextRun(utc('@yearly'), Date.UTC(2998, 5, 1)))).toBe('2999-01-01T00:00:00.000Z')
      expect(nextRun(utc('@yearly'), Date.UTC(2999, 5, 1))).toBe(Infinity)
      expect(nextRun(berlin('@yearly'), Date.UTC(2999, 5, 1))).toBe(Infinity)
      expect(defaultScheduleGrace(utc('@yearly'), Date.UTC(2998, 5, 1))).toBe(3600)
      expect(scheduleDeadline(utc('@yearly'), Date.UTC(2999, 5, 1))).toBe(Infinity)
    })

    it('defaults the grace to half the gap between the next two runs, within [5 s, 1 h]', () => {
      const after = at('2026-03-27T10:00:10Z')
      expect(defaultScheduleGrace(utc('* * * * *'), after)).toBe(30)
      expect(defaultScheduleGrace(utc('*/10 * * * *'), after)).toBe(300)
      expect(defaultScheduleGrace(utc('0 * * * *'), after)).toBe(1800)
      expect(defaultScheduleGrace(utc('*/2 * * * * *'), after)).toBe(5)
      expect(defaultScheduleGrace(utc('@daily'), after)).toBe(3600)
      expect(defaultScheduleGrace(utc('0 3 * * 1-5'), after)).toBe(3600)
      // 09:00 and 09:20: the gap that counts is the one after the run that is due.
      expect(defaultScheduleGrace(utc('0,20 9 * * *'), at('2026-03-27T08:00:00Z'))).toBe(600)
      expect(defaultScheduleGrace(utc('0,20 9 * * *'), at('2026-03-27T09:10:00Z'))).toBe(3600)
    })

    it('a grace that spans the next runs: missed only once the due run plus the grace has passed', () => {
      const everyMinute = utc('* * * * *')
      let lastSeen = at('2026-03-27T10:00:10Z')
      const missed = (now: number) => now > scheduleDeadline(everyMinute, lastSeen, 150)
      expect(iso(scheduleDeadline(everyMinute, lastSeen, 150))).toBe('2026-03-27T10:03:30.000Z')
      // The 10:02 and 10:03 runs come and go without a ping: still within the grace of the 10:01 one.
      expect(missed(at('2026-03-27T10:02:00Z'))).toBe(false)
      expect(missed(at('2026-03-27T10:03:30Z'))).toBe(false)
      expect(missed(at('2026-03-27T10:03:30.001Z'))).toBe(true)
      // A late ping makes the next run after it the one that is due.
      lastSeen = at('2026-03-27T10:04:05Z')
      expect(missed(at('2026-03-27T10:07:30Z'))).toBe(false)
      expect(missed(at('2026-03-27T10:07:30.001Z'))).toBe(true)
      // With no grace stated: half the minute.
      expect(iso(scheduleDeadline(everyMinute, lastSeen))).toBe('2026-03-27T10:05:30.000Z')
    })

    it('a daily Berlin job through the spring change: due at 03:00 local, missed an hour later', () => {
      const nightly = berlin('0 3 * * *')
      // It pinged at 03:00:42 CET on Friday; Saturday's run is due 03:00 CET = 02:00Z.
      let lastSeen = at('2026-03-27T02:00:42Z')
      expect(iso(scheduleDeadline(nightly, lastSeen))).toBe('2026-03-28T03:00:00.000Z')
      // Saturday's ping; Sunday's 03:00 is CEST, an hour earlier in UTC.
      lastSeen = at('2026-03-28T02:00:42Z')
      expect(iso(nextRun(nightly, lastSeen))).toBe('2026-03-29T01:00:00.000Z')
      expect(iso(scheduleDeadline(nightly, lastSeen))).toBe('2026-03-29T02:00:00.000Z')
    })
  })
}
