import { describe, expect, it } from 'vitest'
import {
  type ComponentRecord,
  type HeartbeatEvent,
  type ReadinessSettings,
  type ReportedStatus,
  type State,
  MAX_OPEN_RUNS,
  MISSED_HEARTBEAT,
  RAN_TOO_LONG,
  STATES,
  STATE_VALUE,
  aggregate,
  completeRecord,
  declare,
  deadlineOf,
  isExpired,
  next,
  observe,
} from '../lib/readiness.ts'

const settings: ReadinessSettings = { recoverySeconds: 10, defaultIntervalSeconds: 60, expireSeconds: 3600 }
const T0 = 1_800_000_000_000
const s = (seconds: number) => T0 + seconds * 1000

function beat(status: ReportedStatus, extra: Partial<HeartbeatEvent> = {}): HeartbeatEvent {
  return { agent: 'node-17', status, ...extra }
}

/** Drive a record through heartbeats at the given times (seconds after T0). */
function run(steps: [number, ReportedStatus, Partial<HeartbeatEvent>?][], cfg = settings): ComponentRecord {
  let record: ComponentRecord | undefined
  for (const [at, status, extra] of steps) record = next(record, beat(status, extra), s(at), cfg).record
  return record!
}

function stored(state: State, extra: Partial<ComponentRecord> = {}): ComponentRecord {
  return completeRecord({
    agent: 'node-17', component: 'main', state, recoveringSince: state === 'recovering' ? T0 : null,
    lastSeen: T0, message: null, version: null, pid: null, labels: {}, intervalSeconds: 5, graceSeconds: 5, beats: 1,
    ...extra,
  })
}

describe('process_state values', () => {
  it("are Teleport's", () => {
    expect(STATE_VALUE).toEqual({ ok: 0, recovering: 1, degraded: 2, starting: 3 })
    expect(STATES).toHaveLength(4)
  })
})

describe('next(): every transition', () => {
  // Prior state (as a reader sees it at the time of the heartbeat) × reported status.
  const table: [State | 'new', ReportedStatus, State][] = [
    ['new', 'ok', 'ok'],
    ['new', 'degraded', 'degraded'],
    ['new', 'starting', 'starting'],
    ['starting', 'ok', 'ok'],
    ['starting', 'degraded', 'degraded'],
    ['starting', 'starting', 'starting'],
    ['ok', 'ok', 'ok'],
    ['ok', 'degraded', 'degraded'],
    ['ok', 'starting', 'starting'],
    ['degraded', 'ok', 'recovering'],
    ['degraded', 'degraded', 'degraded'],
    ['degraded', 'starting', 'starting'],
    ['recovering', 'ok', 'recovering'], // within the window (1 s after it began)
    ['recovering', 'degraded', 'degraded'],
    ['recovering', 'starting', 'starting'],
  ]
  it.each(table)('%s + %s heartbeat → %s', (prior, status, expected) => {
    const record = prior === 'new' ? undefined : stored(prior)
    const { record: after, missed, expired } = next(record, beat(status), s(1), settings)
    expect(after.state).toBe(expected)
    expect(missed).toBe(false)
    expect(expired).toBe(false)
    expect(after.lastSeen).toBe(s(1))
    expect(after.recoveringSince).toBe(expected === 'recovering' ? T0 + (prior === 'degraded' ? 1000 : 0) : null)
  })

  it('a single ok never jumps from degraded to ok, however long after', () => {
    const record = stored('degraded', { intervalSeconds: 86_400 })
    expect(next(record, beat('ok'), s(3000), settings).record.state).toBe('recovering')
  })

  it('recovering becomes ok exactly when the window has passed: 9.999 s stays, 10 s is ok', () => {
    const degradedThenOk = run([[0, 'degraded'], [1, 'ok']])
    expect(degradedThenOk.state).toBe('recovering')
    expect(degradedThenOk.recoveringSince).toBe(s(1))
    expect(next(degradedThenOk, beat('ok'), s(1) + 9_999, settings).record.state).toBe('recovering')
    expect(next(degradedThenOk, beat('ok'), s(1) + 10_000, settings).record.state).toBe('ok')
  })

  it('recovering keeps the time it began across ok heartbeats inside the window', () => {
    const record = run([[0, 'degraded'], [1, 'ok'], [4, 'ok'], [8, 'ok']])
    expect(record.state).toBe('recovering')
    expect(record.recoveringSince).toBe(s(1))
    expect(next(record, beat('ok'), s(11), settings).record.state).toBe('ok')
  })

  it('a degraded heartbeat while recovering starts recovery over', () => {
    const record = run([[0, 'degraded'], [1, 'ok'], [9, 'degraded'], [10, 'ok'], [15, 'ok']])
    expect(record.state).toBe('recovering')
    expect(record.recoveringSince).toBe(s(10))
    expect(run([[0, 'degraded'], [1, 'ok'], [9, 'degraded'], [10, 'ok'], [20, 'ok']]).state).toBe('ok')
  })

  it('the recovery window is a setting', () => {
    const quick = { ...settings, recoverySeconds: 2 }
    expect(run([[0, 'degraded'], [1, 'ok'], [3, 'ok']], quick).state).toBe('ok')
    const none = { ...settings, recoverySeconds: 0 }
    expect(run([[0, 'degraded'], [1, 'ok'], [1, 'ok']], none).state).toBe('ok')
  })

  it('a restarted process starts over', () => {
    expect(run([[0, 'ok'], [1, 'starting']]).state).toBe('starting')
    expect(run([[0, 'degraded'], [1, 'ok'], [2, 'starting'], [3, 'ok']]).state).toBe('ok')
  })
})

describe('sticky fields and message', () => {
  it('keeps version, pid, labels, interval and grace when a heartbeat omits them', () => {
    const first = next(undefined, beat('ok', {
      component: 'proxy', message: 'joined', version: '19.1.2', pid: 42, labels: { region: 'eu' },
      interval_seconds: 5, grace_seconds: 2,
    }), s(0), settings).record
    const second = next(first, beat('ok', { component: 'proxy' }), s(1), settings).record
    expect(second).toMatchObject({
      component: 'proxy', version: '19.1.2', pid: 42, labels: { region: 'eu' }, intervalSeconds: 5, graceSeconds: 2,
      message: null,
    })
  })

  it('replaces them when a heartbeat states them', () => {
    const record = run([[0, 'ok', { version: '1', pid: 1, labels: { a: 'x' } }], [1, 'ok', { version: '2', pid: 2, labels: {} }]])
    expect(record).toMatchObject({ version: '2', pid: 2, labels: {} })
  })

  it('defaults the component to main', () => {
    expect(next(undefined, beat('ok'), s(0), settings).record.component).toBe('main')
  })
})

describe('missed heartbeat (read time)', () => {
  // interval 5 + grace 5: the deadline is 10 s after the last heartbeat.
  const record = stored('ok')

  it('is degraded strictly after last_seen + interval + grace, not at it', () => {
    expect(deadlineOf(record, settings)).toBe(s(10))
    expect(observe(record, s(10), settings)).toEqual({ state: 'ok', reason: null, overdue: false })
    expect(observe(record, s(10) + 1, settings)).toEqual({ state: 'degraded', reason: MISSED_HEARTBEAT, overdue: true })
  })

  it('uses DEFAULT_INTERVAL_SECONDS and grace max(5, interval / 2) when a heartbeat states none', () => {
    const plain = stored('ok', { intervalSeconds: null, graceSeconds: null })
    expect(deadlineOf(plain, settings)).toBe(s(90)) // 60 + 30
    const short = stored('ok', { intervalSeconds: 4, graceSeconds: null })
    expect(deadlineOf(short, settings)).toBe(s(9)) // 4 + max(5, 2)
    expect(deadlineOf(stored('ok', { intervalSeconds: 1, graceSeconds: 0 }), settings)).toBe(s(1))
  })

  it('applies to every stored state, starting and recovering too', () => {
    for (const state of STATES) expect(observe(stored(state), s(11), settings).state).toBe('degraded')
  })

  it('a late ok goes degraded → recovering, and the miss is counted once', () => {
    const late = next(record, beat('ok'), s(11), settings)
    expect(late.missed).toBe(true)
    expect(late.record.state).toBe('recovering')
    const onTime = next(late.record, beat('ok'), s(12), settings)
    expect(onTime.missed).toBe(false)
  })

  it('a late heartbeat of any status counts the miss', () => {
    for (const status of ['ok', 'degraded', 'starting'] as const) {
      expect(next(record, beat(status), s(11), settings).missed).toBe(true)
    }
  })

  it('the reason of a reported problem is its message', () => {
    expect(observe(stored('degraded', { message: 'disk full' }), s(1), settings).reason).toBe('disk full')
    expect(observe(stored('ok', { message: 'fine' }), s(1), settings).reason).toBe(null)
  })
})

describe('expiry', () => {
  const record = stored('ok')

  it('drops a component silent strictly longer than EXPIRE_SECONDS', () => {
    expect(isExpired(record, s(3600), settings)).toBe(false)
    expect(isExpired(record, s(3600) + 1, settings)).toBe(true)
  })

  it('never expires with EXPIRE_SECONDS = 0', () => {
    expect(isExpired(record, s(10 ** 7), { ...settings, expireSeconds: 0 })).toBe(false)
  })

  it('a heartbeat after expiry registers the component anew, forgetting sticky fields', () => {
    const old = stored('degraded', { version: '1', labels: { a: 'b' } })
    const t = next(old, beat('ok'), s(3601), settings)
    expect(t).toMatchObject({ expired: true, missed: true })
    expect(t.record).toMatchObject({ state: 'ok', version: null, labels: {} })
  })
})

describe('expiry never hides a failure', () => {
  it('waits until the component has been missed for a whole interval past its deadline', () => {
    // interval 600 s, grace 300 s: due at 900 s, missed from then, expirable after 1500 s
    const record = stored('ok', { intervalSeconds: 600, graceSeconds: 300 })
    const short = { ...settings, expireSeconds: 60 }
    expect(observe(record, s(901), short).state).toBe('degraded')
    expect(isExpired(record, s(1500), short)).toBe(false)
    expect(isExpired(record, s(1500) + 1, short)).toBe(true)
  })

  it('expire_seconds per component: 0 never, a number its own', () => {
    expect(isExpired(stored('ok', { expireSeconds: 0 }), s(10 ** 8), settings)).toBe(false)
    expect(isExpired(stored('ok', { expireSeconds: 100 }), s(101), settings)).toBe(true)
    expect(isExpired(stored('ok', { expireSeconds: 100 }), s(100), settings)).toBe(false)
  })

  it('a declared component never expires unless it says so', () => {
    expect(isExpired(stored('ok', { declared: true }), s(10 ** 8), settings)).toBe(false)
    expect(isExpired(stored('ok', { declared: true, expireSeconds: 100 }), s(101), settings)).toBe(true)
  })

  it('a heartbeat sets expire_seconds, sticky', () => {
    const record = run([[0, 'ok', { expire_seconds: 0 }], [1, 'ok']])
    expect(record.expireSeconds).toBe(0)
  })
})

describe('schedules', () => {
  // 2027-01-15 is a Friday.
  const FRI_0200 = Date.UTC(2027, 0, 15, 2, 0, 0)
  const daily = stored('ok', { intervalSeconds: null, graceSeconds: 600, schedule: '0 3 * * *', tz: null, lastSeen: FRI_0200 })

  it('is due at the next scheduled run + grace, and missed strictly after it', () => {
    const due = Date.UTC(2027, 0, 15, 3, 10, 0)
    expect(deadlineOf(daily, settings)).toBe(due)
    expect(observe(daily, due, settings).state).toBe('ok')
    expect(observe(daily, due + 1, settings)).toEqual({ state: 'degraded', reason: MISSED_HEARTBEAT, overdue: true })
  })

  it('a schedule in a heartbeat replaces the interval, and an interval replaces the schedule', () => {
    const scheduled = run([[0, 'ok', { interval_seconds: 30 }], [1, 'ok', { schedule: '*/5 * * * *', tz: 'Europe/Berlin' }]])
    expect(scheduled).toMatchObject({ intervalSeconds: null, schedule: '*/5 * * * *', tz: 'Europe/Berlin' })
    const back = next(scheduled, beat('ok', { interval_seconds: 20 }), s(2), settings).record
    expect(back).toMatchObject({ intervalSeconds: 20, schedule: null, tz: null })
  })

  it('keeps the time zone when a later heartbeat repeats only the interval-free fields', () => {
    const record = run([[0, 'ok', { schedule: '0 3 * * *', tz: 'Europe/Berlin' }], [1, 'ok', { version: '2' }]])
    expect(record).toMatchObject({ schedule: '0 3 * * *', tz: 'Europe/Berlin', version: '2' })
  })
})

describe('runs', () => {
  const job: Partial<HeartbeatEvent> = { interval_seconds: 3600, grace_seconds: 60 }

  it('a start changes no state, opens a run, and a finish closes it with its duration', () => {
    const started = run([[0, 'ok', job], [100, 'ok', {}]])
    const t = next(started, { agent: 'node-17', run: 'start', run_id: 'a' }, s(200), settings)
    expect(t.record).toMatchObject({ state: 'ok', runs: [{ id: 'a', since: s(200) }] })
    const done = next(t.record, { agent: 'node-17', run: 'finish', status: 'ok' }, s(230.5), settings).record
    expect(done).toMatchObject({ state: 'ok', runs: [], lastDurationSeconds: 30.5, lastExitCode: null, lastSuccessAt: s(230.5) })
  })

  it('a run open past its max run time (default: the grace) is degraded, ran too long', () => {
    const started = next(run([[0, 'ok', job]]), { agent: 'node-17', run: 'start' }, s(10), settings).record
    expect(deadlineOf(started, settings)).toBe(s(70))
    expect(observe(started, s(70), settings).state).toBe('ok')
    expect(observe(started, s(70) + 1, settings)).toEqual({ state: 'degraded', reason: RAN_TOO_LONG, overdue: true })
    const limited = next(run([[0, 'ok', { ...job, max_run_seconds: 5 }]]), { agent: 'node-17', run: 'start' }, s(10), settings).record
    expect(deadlineOf(limited, settings)).toBe(s(15))
  })

  it('an exit code finishes a run: 0 is ok, anything else degraded, and is kept', () => {
    const started = next(run([[0, 'ok', job]]), { agent: 'node-17', run: 'start' }, s(10), settings).record
    const failed = next(started, { agent: 'node-17', exit_code: 3 }, s(12), settings).record
    expect(failed).toMatchObject({ state: 'degraded', runs: [], lastExitCode: 3, lastDurationSeconds: 2, lastSuccessAt: null })
    const again = next(failed, { agent: 'node-17', run: 'start' }, s(20), settings).record
    expect(again.state).toBe('degraded')
    // A successful run is its own proof: ok at once, no recovery window.
    const fixed = next(again, { agent: 'node-17', exit_code: 0 }, s(21), settings).record
    expect(fixed).toMatchObject({ state: 'ok', recoveringSince: null, lastExitCode: 0, lastSuccessAt: s(21) })
  })

  it('overlapping runs pair by run id; an unpaired finish counts from the latest start', () => {
    let record = run([[0, 'ok', job]])
    record = next(record, { agent: 'node-17', run: 'start', run_id: 'one' }, s(10), settings).record
    record = next(record, { agent: 'node-17', run: 'start', run_id: 'two' }, s(20), settings).record
    record = next(record, { agent: 'node-17', run: 'finish', run_id: 'one', status: 'ok' }, s(40), settings).record
    expect(record).toMatchObject({ runs: [{ id: 'two', since: s(20) }], lastDurationSeconds: 30 })
    record = next(record, { agent: 'node-17', run: 'start', run_id: 'three' }, s(50), settings).record
    record = next(record, { agent: 'node-17', run: 'finish', status: 'ok' }, s(55), settings).record
    expect(record).toMatchObject({ runs: [{ id: 'two', since: s(20) }], lastDurationSeconds: 5 })
  })

  it('keeps at most MAX_OPEN_RUNS open, forgetting the oldest', () => {
    let record = run([[0, 'ok', job]])
    for (let i = 0; i < MAX_OPEN_RUNS + 3; i++) record = next(record, { agent: 'node-17', run: 'start', run_id: `r${i}` }, s(i + 1), settings).record
    expect(record.runs).toHaveLength(MAX_OPEN_RUNS)
    expect(record.runs[0]!.id).toBe('r3')
  })

  it("a component's first start, new or declared and not heard from, is ok: a running job is not starting", () => {
    expect(next(undefined, { agent: 'node-17', run: 'start' }, s(0), settings).record.state).toBe('ok')
    const declared = declare(undefined, { agent: 'node-17', component: 'main', interval_seconds: 60 }, s(0), settings)
    expect(next(declared, { agent: 'node-17', run: 'start' }, s(1), settings).record.state).toBe('ok')
    const registered = run([[0, 'starting']])
    expect(next(registered, { agent: 'node-17', run: 'start' }, s(1), settings).record.state).toBe('starting')
    expect(next(undefined, { agent: 'node-17', log: true, message: 'hello' }, s(0), settings).record.state).toBe('starting')
  })

  it('a start after a missed deadline keeps it degraded, saying so, and counts the miss', () => {
    const t = next(run([[0, 'ok', { interval_seconds: 10, grace_seconds: 5 }]]), { agent: 'node-17', run: 'start' }, s(16), settings)
    expect(t.missed).toBe(true)
    expect(t.record).toMatchObject({ state: 'degraded', message: MISSED_HEARTBEAT })
    expect(observe(t.record, s(17), settings)).toMatchObject({ state: 'degraded', reason: MISSED_HEARTBEAT })
  })
})

describe('a log line', () => {
  it('changes nothing but the message, and leaves the deadline where it was', () => {
    const record = run([[0, 'degraded', { interval_seconds: 10, grace_seconds: 5, message: 'disk full' }]])
    const logged = next(record, { agent: 'node-17', log: true, message: 'still copying' }, s(14), settings)
    expect(logged.record).toMatchObject({ state: 'degraded', lastSeen: s(0), message: 'still copying', beats: 2 })
    expect(deadlineOf(logged.record, settings)).toBe(s(15))
  })
})

describe('declare()', () => {
  const decl = { agent: 'node-17', component: 'backup', schedule: '0 3 * * *', tz: 'Europe/Berlin', grace_seconds: 600 }

  it('lists a component not heard from as starting, due from the declaration', () => {
    const record = declare(undefined, decl, s(0), settings)
    expect(record).toMatchObject({ state: 'starting', declared: true, lastSeen: s(0), schedule: '0 3 * * *', tz: 'Europe/Berlin', beats: 0 })
    expect(isExpired(record, s(10 ** 9), settings)).toBe(false)
  })

  it('replaces what was expected and keeps what was reported', () => {
    const reported = run([[0, 'ok', { interval_seconds: 30, version: '7', labels: { team: 'db' } }]])
    const record = declare(reported, { agent: 'node-17', component: 'main', interval_seconds: 60 }, s(1), settings)
    expect(record).toMatchObject({ state: 'ok', version: '7', labels: { team: 'db' }, intervalSeconds: 60, graceSeconds: null, declared: true, lastSeen: s(0) })
  })
})

describe('aggregate()', () => {
  it('zero members is starting', () => {
    expect(aggregate([])).toBe('starting')
  })

  it('follows Teleport: degraded > recovering > starting > ok', () => {
    expect(aggregate(['ok', 'ok'])).toBe('ok')
    expect(aggregate(['ok', 'starting'])).toBe('starting')
    expect(aggregate(['ok', 'recovering', 'starting'])).toBe('recovering')
    expect(aggregate(['ok', 'recovering', 'degraded', 'starting'])).toBe('degraded')
  })

  it('agrees with the rule for every combination of up to three members', () => {
    const rule = (states: State[]): State =>
      states.includes('degraded') ? 'degraded'
        : states.includes('recovering') ? 'recovering'
          : states.length > 0 && states.every((x) => x === 'ok') ? 'ok'
            : 'starting'
    const combos: State[][] = [[]]
    for (let n = 0; n < 3; n++) {
      for (const prefix of combos.filter((c) => c.length === n)) for (const s of STATES) combos.push([...prefix, s])
    }
    expect(combos).toHaveLength(1 + 4 + 16 + 64)
    for (const states of combos) expect(aggregate(states)).toBe(rule(states))
  })

  it('reads any iterable once', () => {
    expect(aggregate(new Set<State>(['ok', 'degraded']).values())).toBe('degraded')
  })
})
