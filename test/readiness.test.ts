import { describe, expect, it } from 'vitest'
import {
  type ComponentRecord,
  type HeartbeatEvent,
  type ReadinessSettings,
  type ReportedStatus,
  type State,
  MISSED_HEARTBEAT,
  STATES,
  STATE_VALUE,
  aggregate,
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
  return {
    agent: 'node-17', component: 'main', state, recoveringSince: state === 'recovering' ? T0 : null,
    lastSeen: T0, message: null, version: null, pid: null, labels: {}, intervalSeconds: 5, graceSeconds: 5, beats: 1,
    ...extra,
  }
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
