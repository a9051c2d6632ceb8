// The live index of agent states must always agree with a full pass over the
// records: checked against random sequences of heartbeats, removals, sweeps and
// time passing (deadlines and expiries included), with fast-check.
import fc from 'fast-check'
import { describe, expect, it } from 'vitest'
import { mergeSummaries, summaryOf } from '../lib/agent-states.ts'
import { summarize } from '../lib/fleet.ts'
import type { ReadinessSettings } from '../lib/readiness.ts'
import { MemoryStore } from '../lib/stores/memory.ts'

const settings: ReadinessSettings = { recoverySeconds: 2, defaultIntervalSeconds: 5, expireSeconds: 30 }

const op = fc.oneof(
  fc.record({
    kind: fc.constant('beat' as const),
    agent: fc.constantFrom('a', 'b', 'c', 'd'),
    component: fc.constantFrom('main', 'ssh', 'proxy'),
    status: fc.constantFrom('ok', 'degraded', 'starting') as fc.Arbitrary<'ok' | 'degraded' | 'starting'>,
    interval: fc.option(fc.constantFrom(0.5, 1, 3, 20), { nil: undefined }),
  }),
  fc.record({ kind: fc.constant('remove' as const), agent: fc.constantFrom('a', 'b', 'c', 'd') }),
  fc.record({ kind: fc.constant('sweep' as const) }),
  fc.record({ kind: fc.constant('wait' as const), ms: fc.integer({ min: 0, max: 40_000 }) }),
  fc.record({ kind: fc.constant('look' as const) }),
)

describe('the live agent index', () => {
  it('agrees with a full pass over the records after any sequence of changes', async () => {
    await fc.assert(
      fc.asyncProperty(fc.array(op, { maxLength: 60 }), async (ops) => {
        const store = new MemoryStore(settings)
        let now = 1_800_000_000_000
        for (const o of ops) {
          if (o.kind === 'beat') {
            const beat = { agent: o.agent, component: o.component, status: o.status, interval_seconds: o.interval, grace_seconds: 0 }
            await store.apply([beat], now)
          } else if (o.kind === 'remove') await store.remove(o.agent, now)
          else if (o.kind === 'sweep') await store.sweep(now)
          else if (o.kind === 'wait') now += o.ms
          // Read often, so that the index is exercised between changes and not only at the end.
          const { records } = await store.snapshot(now)
          expect(await store.summary(now)).toMatchObject(summarize(records, now, settings))
          for (const agent of ['a', 'b', 'c', 'd']) {
            expect((await store.agent(agent, now)).records).toEqual(records.filter((r) => r.agent === agent))
          }
        }
      }),
      { numRuns: 300, seed: 20261122 },
    )
  })

  it('sees a deadline pass at exactly the instant the design says', async () => {
    const store = new MemoryStore(settings)
    const t0 = 1_800_000_000_000
    await store.apply([{ agent: 'a', status: 'ok', interval_seconds: 1, grace_seconds: 0 }], t0)
    expect((await store.summary(t0 + 1000)).state).toBe('ok')
    expect((await store.summary(t0 + 1001)).state).toBe('degraded')
    expect((await store.summary(t0 + 30_000)).byState.degraded).toBe(1)
    expect(await store.summary(t0 + 31_001)).toMatchObject({ state: 'starting', agents: 0, byState: { ok: 0, recovering: 0, degraded: 0, starting: 0 } })
  })

  it('merges shard summaries as if they were one fleet', () => {
    const one = summaryOf(['ok', 'ok'])
    const two = summaryOf(['recovering'])
    expect(mergeSummaries([one, two])).toEqual(summaryOf(['ok', 'ok', 'recovering']))
    expect(mergeSummaries([])).toEqual(summaryOf([]))
  })
})
