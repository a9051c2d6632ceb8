// The one suite every Store driver must pass (as unstorage does for its drivers).
// A driver's test file calls storeSuite() with a factory; durable drivers also
// give `reopen`, which closes the store and opens it again on the same data.
import { describe, expect, it } from 'vitest'
import type { Heartbeat } from '../lib/heartbeat.ts'
import { summarize } from '../lib/fleet.ts'
import { type HistoryEvent, type HistorySettings, agentHistory } from '../lib/history.ts'
import { type Limits, NO_LIMITS } from '../lib/limits.ts'
import type { ReadinessSettings } from '../lib/readiness.ts'
import type { NotifySettings } from '../lib/stores/plan-notify.ts'
import type { Store } from '../lib/stores/store.ts'

export interface StoreHarness {
  store: Store
  /** Close this store and open a new one over the same data. */
  reopen: () => Promise<Store>
  /** The driver stores traffic counters too, so they survive a reopen (the Durable Object, Deno KV). */
  storesTrafficCounters?: boolean
}

export const suiteSettings: ReadinessSettings = { recoverySeconds: 10, defaultIntervalSeconds: 60, expireSeconds: 3600 }
const T0 = 1_800_000_000_000
const at = (seconds: number) => T0 + seconds * 1000
const hb = (agent: string, status: Heartbeat['status'], extra: Partial<Heartbeat> = {}): Heartbeat => ({
  agent,
  status,
  ...extra,
})

export function storeSuite(
  name: string,
  open: (settings: ReadinessSettings & Partial<HistorySettings> & { limits?: Limits; notify?: NotifySettings }) => Promise<StoreHarness>,
): void {
  describe(`store: ${name}`, () => {
    const fresh = async () => (await open(suiteSettings)).store
    const states = async (store: Store, now: number) =>
      Object.fromEntries((await store.snapshot(now)).records.map((r) => [`${r.agent}/${r.component}`, r.state]))

    it('starts empty', async () => {
      const snapshot = await (await fresh()).snapshot(at(0))
      expect(snapshot.records).toEqual([])
      expect(snapshot.counters).toEqual({ received: 0, missed: 0, expired: 0, historyDropped: 0, rejected: {}, scrapes: {}, notifications: {}, oldestPending: null })
    })

    it('applies a heartbeat and returns the resulting record', async () => {
      const store = await fresh()
      const [record] = await store.apply([hb('node-17', 'ok', { component: 'proxy', version: '19.1.2', pid: 4242 })], at(0))
      expect(record).toMatchObject({ agent: 'node-17', component: 'proxy', state: 'ok', lastSeen: at(0), pid: 4242 })
      expect((await store.snapshot(at(1))).records).toEqual([record])
    })

    it('walks degraded → recovering → ok through next()', async () => {
      const store = await fresh()
      await store.apply([hb('a', 'ok')], at(0))
      await store.apply([hb('a', 'degraded', { message: 'disk full' })], at(1))
      expect(await states(store, at(1))).toEqual({ 'a/main': 'degraded' })
      const [recovering] = await store.apply([hb('a', 'ok')], at(2))
      expect(recovering).toMatchObject({ state: 'recovering', recoveringSince: at(2) })
      expect((await store.apply([hb('a', 'ok')], at(11.999)))[0]!.state).toBe('recovering')
      expect((await store.apply([hb('a', 'ok')], at(12)))[0]!.state).toBe('ok')
    })

    it('applies a batch in order, each heartbeat seeing the one before', async () => {
      const store = await fresh()
      const results = await store.apply(
        [hb('a', 'degraded'), hb('a', 'ok'), hb('b', 'starting'), hb('a', 'ok', { component: 'ssh' })],
        at(0),
      )
      expect(results.map((r) => r.state)).toEqual(['degraded', 'recovering', 'starting', 'ok'])
      expect(await states(store, at(0))).toEqual({ 'a/main': 'recovering', 'b/main': 'starting', 'a/ssh': 'ok' })
      expect((await store.snapshot(at(0))).counters.received).toBe(4)
    })

    it('keeps sticky fields and clears the message', async () => {
      const store = await fresh()
      await store.apply([hb('a', 'ok', {
        message: 'joined', version: '2.0', pid: 7, labels: { region: 'eu-west', 'zone': 'b' },
        interval_seconds: 5, grace_seconds: 1.5,
      })], at(0))
      await store.apply([hb('a', 'ok')], at(1))
      const [record] = (await store.snapshot(at(1))).records
      expect(record).toEqual({
        agent: 'a', component: 'main', state: 'ok', recoveringSince: null, lastSeen: at(1), message: null,
        version: '2.0', pid: 7, labels: { region: 'eu-west', zone: 'b' }, intervalSeconds: 5, graceSeconds: 1.5, beats: 2,
        schedule: null, tz: null, maxRunSeconds: null, expireSeconds: null, declared: false, runs: [],
        lastDurationSeconds: null, lastExitCode: null, lastSuccessAt: null,
        // Its timeline: ok from its first heartbeat on (the second changed nothing a reader sees).
        history: [{ at: at(0), state: 'ok', seq: at(0) * 1000 }], alert: null,
      })
    })

    it("stores a job's schedule and runs, and reads them back after a reopen", async () => {
      const harness = await open(suiteSettings)
      const job = { component: 'backup', schedule: '0 3 * * *', tz: 'Europe/Berlin', max_run_seconds: 7200, expire_seconds: 0 }
      await harness.store.apply([hb('db-1', 'ok', job)], at(0))
      await harness.store.apply([{ agent: 'db-1', component: 'backup', run: 'start', run_id: 'r1' }], at(10))
      await harness.store.apply([{ agent: 'db-1', component: 'backup', run: 'start', run_id: 'r2' }], at(20))
      const [finished] = await harness.store.apply([{ agent: 'db-1', component: 'backup', exit_code: 2, run_id: 'r1' }], at(40))
      expect(finished).toMatchObject({
        state: 'degraded', schedule: '0 3 * * *', tz: 'Europe/Berlin', maxRunSeconds: 7200, expireSeconds: 0,
        runs: [{ id: 'r2', since: at(20) }], lastDurationSeconds: 30, lastExitCode: 2, lastSuccessAt: null, beats: 4,
      })
      const reopened = await harness.reopen()
      expect((await reopened.agent('db-1', at(41))).records).toEqual([finished])
      await reopened.close()
    })

    it('declares a component: listed from then on as starting, kept across a reopen, never swept', async () => {
      const harness = await open(suiteSettings)
      const { record: declared, created } = await harness.store.declare({ agent: 'db-1', component: 'backup', schedule: '*/2 * * * * *' }, at(0))
      expect(created).toBe(true)
      expect(declared).toMatchObject({ agent: 'db-1', component: 'backup', state: 'starting', declared: true, beats: 0, lastSeen: at(0) })
      expect(await states(harness.store, at(0))).toEqual({ 'db-1/backup': 'starting' })
      // Due at 2 s + the default grace (5 s): then missed, and still there a year on.
      expect((await harness.store.summary(at(7))).state).toBe('starting')
      expect((await harness.store.summary(at(7.001))).state).toBe('degraded')
      expect(await harness.store.sweep(at(365 * 86_400))).toBe(0)
      const reopened = await harness.reopen()
      expect(await reopened.summary(at(365 * 86_400))).toMatchObject({ state: 'degraded', agents: 1 })
      const [beat] = await reopened.apply([hb('db-1', 'ok', { component: 'backup' })], at(365 * 86_400))
      expect(beat).toMatchObject({ state: 'recovering', declared: true, schedule: '*/2 * * * * *', beats: 1 })
      expect((await reopened.snapshot(at(365 * 86_400))).counters).toMatchObject({ missed: 1, expired: 0, received: 1 })
      await reopened.close()
    })

    it('declaring again replaces what is expected and keeps what was reported', async () => {
      const store = await fresh()
      await store.apply([hb('a', 'degraded', { interval_seconds: 30, version: '3', message: 'disk full' })], at(0))
      const { record, created } = await store.declare({ agent: 'a', component: 'main', schedule: '@daily', expire_seconds: 600 }, at(1))
      expect(created).toBe(false)
      expect(record).toMatchObject({ state: 'degraded', message: 'disk full', version: '3', intervalSeconds: null, schedule: '@daily', expireSeconds: 600 })
      expect((await store.snapshot(at(1))).records).toEqual([record])
    })

    it('removes one component, keeps the others, and knows an unknown one', async () => {
      const store = await fresh()
      await store.apply([hb('a', 'ok'), hb('a', 'ok', { component: 'ssh', interval_seconds: 1, grace_seconds: 0 })], at(0))
      const r0 = (await store.snapshot(at(0))).revision
      expect(await store.removeComponent('a', 'ssh', at(2))).toBe(true)
      expect(await store.removeComponent('a', 'ssh', at(2))).toBe(false)
      expect(await store.removeComponent('nobody', 'main', at(2))).toBe(false)
      const snapshot = await store.snapshot(at(2))
      expect(snapshot.revision).not.toBe(r0)
      expect(await states(store, at(2))).toEqual({ 'a/main': 'ok' })
      // It was overdue when removed: its miss is counted, its heartbeats stay counted.
      expect(snapshot.counters).toMatchObject({ missed: 1, received: 2 })
    })

    it('counts a missed deadline once, when the late heartbeat arrives', async () => {
      const store = await fresh()
      await store.apply([hb('a', 'ok', { interval_seconds: 5, grace_seconds: 5 })], at(0))
      expect((await store.snapshot(at(11))).counters.missed).toBe(0) // overdue, not yet counted
      const [late] = await store.apply([hb('a', 'ok')], at(11))
      expect(late!.state).toBe('recovering')
      await store.apply([hb('a', 'ok')], at(12))
      expect((await store.snapshot(at(12))).counters.missed).toBe(1)
    })

    it('removes an agent with all its components, and knows an unknown one', async () => {
      const store = await fresh()
      await store.apply([hb('a', 'ok'), hb('a', 'ok', { component: 'ssh' }), hb('b', 'ok')], at(0))
      expect(await store.remove('a', at(1))).toBe(2)
      expect(await store.remove('a', at(1))).toBe(0)
      expect(await store.remove('nobody', at(1))).toBe(0)
      expect(await states(store, at(1))).toEqual({ 'b/main': 'ok' })
    })

    it('counts a component deleted while overdue as missed', async () => {
      const store = await fresh()
      await store.apply([hb('a', 'ok', { interval_seconds: 1, grace_seconds: 0 }), hb('b', 'ok')], at(0))
      await store.remove('a', at(2))
      await store.remove('b', at(2))
      expect((await store.snapshot(at(2))).counters.missed).toBe(1)
    })

    it('hides expired components at once and drops and counts them on sweep', async () => {
      const store = await fresh()
      await store.apply([hb('old', 'ok', { interval_seconds: 5 }), hb('new', 'ok', { interval_seconds: 86_400 })], at(0))
      await store.apply([hb('new', 'ok')], at(3000))
      expect(Object.keys(await states(store, at(3600.001)))).toEqual(['new/main'])
      expect(await store.sweep(at(3600))).toBe(0)
      expect(await store.sweep(at(3601))).toBe(1)
      expect(await store.sweep(at(3602))).toBe(0)
      const { counters } = await store.snapshot(at(3602))
      expect(counters).toMatchObject({ expired: 1, missed: 1 })
      expect(await store.remove('old', at(3602))).toBe(0)
    })

    it('a heartbeat after expiry registers the component anew', async () => {
      const store = await fresh()
      await store.apply([hb('a', 'degraded', { version: '1' })], at(0))
      const [record] = await store.apply([hb('a', 'ok')], at(4000))
      expect(record).toMatchObject({ state: 'ok', version: null })
      expect((await store.snapshot(at(4000))).counters).toMatchObject({ expired: 1, missed: 1, received: 2 })
    })

    it('counts traffic by label', async () => {
      const store = await fresh()
      await store.count('rejected', 'invalid_heartbeat')
      await store.count('rejected', 'invalid_heartbeat')
      await store.count('scrapes', '200')
      const { counters } = await store.snapshot(at(0))
      expect(counters.rejected).toEqual({ invalid_heartbeat: 2 })
      expect(counters.scrapes).toEqual({ '200': 1 })
    })

    it('changes the revision on every write and never on a read', async () => {
      const store = await fresh()
      const r0 = (await store.snapshot(at(0))).revision
      expect((await store.snapshot(at(0))).revision).toBe(r0)
      await store.apply([hb('a', 'ok')], at(0))
      const r1 = (await store.snapshot(at(0))).revision
      expect(r1).not.toBe(r0)
      await store.count('scrapes', '200')
      expect((await store.snapshot(at(0))).revision).toBe(r1)
      await store.remove('a', at(0))
      expect((await store.snapshot(at(0))).revision).not.toBe(r1)
    })

    it('never moves the revision back, across a reopen too, and holds a snapshot until the next expiry', async () => {
      const harness = await open(suiteSettings)
      await harness.store.apply([hb('a', 'ok'), hb('b', 'ok', { interval_seconds: 86_400 })], at(0))
      await harness.store.apply([hb('b', 'ok')], at(100))
      const before = await harness.store.snapshot(at(100))
      expect(before.validUntil).toBe(at(3600)) // a expires first
      const reopened = await harness.reopen()
      const after = await reopened.snapshot(at(100))
      expect(after.revision).toBeGreaterThanOrEqual(before.revision)
      await reopened.apply([hb('c', 'ok')], at(101))
      expect((await reopened.snapshot(at(101))).revision).toBeGreaterThan(after.revision)
      await reopened.close()
    })

    it('hands out snapshots that later writes do not change', async () => {
      const store = await fresh()
      await store.apply([hb('a', 'ok')], at(0))
      const before = await store.snapshot(at(0))
      await store.apply([hb('a', 'degraded')], at(1))
      await store.count('scrapes', '200')
      expect(before.records[0]!.state).toBe('ok')
      expect(before.counters.scrapes).toEqual({})
    })

    it('answers concurrent batches each with its own records, in order, all stored', async () => {
      const store = await fresh()
      const answers = await Promise.all(
        Array.from({ length: 20 }, (_, i) => store.apply([hb('a', 'ok', { message: `beat ${i}` }), hb(`b${i}`, 'degraded')], at(0))),
      )
      answers.forEach((records, i) => {
        expect(records.map((r) => [r.agent, r.message ?? r.state])).toEqual([['a', `beat ${i}`], [`b${i}`, 'degraded']])
      })
      const snapshot = await store.snapshot(at(0))
      expect(snapshot.records).toHaveLength(21)
      expect(snapshot.records.find((r) => r.agent === 'a')!.message).toBe('beat 19')
      expect(snapshot.counters.received).toBe(40)
    })

    it('answers one agent and the fleet summary as a full read would, deadlines included', async () => {
      const store = await fresh()
      await store.apply([
        hb('a', 'ok', { interval_seconds: 5, grace_seconds: 5 }), hb('a', 'degraded', { component: 'ssh' }),
        hb('b', 'ok', { interval_seconds: 100 }), hb('c', 'starting'),
      ], at(0))
      expect((await store.summary(at(0))).byState).toEqual({ ok: 1, recovering: 0, degraded: 1, starting: 1 })
      expect(await store.agent('nobody', at(0))).toEqual({ records: [] })
      const agrees = async (now: number) => {
        const { records } = await store.snapshot(now)
        expect(await store.summary(now)).toMatchObject(summarize(records, now, suiteSettings))
        expect([...(await store.agent('a', now)).records].sort((x, y) => x.component.localeCompare(y.component))).toEqual(
          records.filter((r) => r.agent === 'a').sort((x, y) => x.component.localeCompare(y.component)),
        )
      }
      for (const now of [at(0), at(10), at(10.001)]) await agrees(now)
      await store.apply([hb('a', 'ok'), hb('a', 'ok', { component: 'ssh' }), hb('c', 'ok')], at(11))
      expect(await store.summary(at(11))).toMatchObject({ state: 'recovering', agents: 3 })
      await agrees(at(11))
      await agrees(at(3700)) // all expired
      expect((await store.summary(at(3700))).agents).toBe(0)
    })

    it('keeps many agents apart', async () => {
      const store = await fresh()
      const batch = Array.from({ length: 100 }, (_, i) => hb(`agent-${i}`, i % 2 ? 'ok' : 'degraded'))
      await store.apply(batch, at(0))
      const snapshot = await store.snapshot(at(0))
      expect(snapshot.records).toHaveLength(100)
      expect(snapshot.records.filter((r) => r.state === 'degraded')).toHaveLength(50)
    })

    it('keeps records and fleet counters across a reopen', async () => {
      const harness = await open(suiteSettings)
      await harness.store.apply([hb('a', 'degraded', { labels: { region: 'zürich ✓' } })], at(0))
      await harness.store.apply([hb('a', 'ok', { message: 'ünïcode "quoted" ✓' }), hb('b', 'ok', { interval_seconds: 1, grace_seconds: 0 })], at(1))
      await harness.store.apply([hb('b', 'ok')], at(5))
      await harness.store.count('rejected', 'invalid_heartbeat')
      await harness.store.count('scrapes', '200')
      const before = await harness.store.snapshot(at(5))
      const reopened = await harness.reopen()
      const after = await reopened.snapshot(at(5))
      expect(after.records).toEqual(expect.arrayContaining([...before.records]))
      expect(after.records).toHaveLength(before.records.length)
      expect(after.counters).toMatchObject({ received: 4, missed: 1, expired: 0 })
      const traffic = harness.storesTrafficCounters ? before.counters : { rejected: {}, scrapes: {} }
      expect(after.counters).toMatchObject({ rejected: traffic.rejected, scrapes: traffic.scrapes })
      await reopened.close()
    })

    describe('notifications', () => {
      const SINKS = ['webhook:http://hooks.test/a', 'alertmanager:http://am.test']
      const notify = (extra: Partial<NotifySettings> = {}): NotifySettings => ({
        sinks: SINKS, notifyAfterSeconds: 30, notifyRepeatSeconds: 0, massShare: 0, massMinAgents: 10, ...extra,
      })
      const withNotify = async (extra: Partial<NotifySettings> = {}, limits?: Limits) => open({ ...suiteSettings, notify: notify(extra), ...(limits ? { limits } : {}) })
      /** What is due at `now`, as [sink kind, kind, agent/component, from, to, seconds after T0]. */
      const due = async (store: Store, now: number) =>
        (await store.deliveries(now, 100)).map(({ entry: { sink, notification: n } }) => [
          sink.slice(0, sink.indexOf(':')), n.kind, `${n.agent}/${n.component}`, n.from, n.to, (n.at - T0) / 1000,
        ])
      const deliverAll = async (store: Store, now: number) => {
        const items = await store.deliveries(now, 100)
        await store.settleDeliveries(items.map(({ key }) => ({ key, outcome: 'delivered' as const })), now)
        return items.length
      }

      it('writes a down per sink with the transition, due after NOTIFY_AFTER_SECONDS, and keeps it across a reopen', async () => {
        const harness = await withNotify()
        await harness.store.apply([hb('web-1', 'ok')], at(0))
        await harness.store.apply([hb('web-1', 'degraded', { message: 'disk full', labels: { team: 'db' } })], at(5))
        expect(await due(harness.store, at(34.999))).toEqual([])
        const reopened = await harness.reopen()
        expect(await due(reopened, at(35))).toEqual([
          ['alertmanager', 'down', 'web-1/main', 'ok', 'degraded', 5],
          ['webhook', 'down', 'web-1/main', 'ok', 'degraded', 5],
        ])
        const [first] = await reopened.deliveries(at(35), 1)
        expect(first!.entry.notification).toMatchObject({ reason: 'disk full', labels: { team: 'db' }, since: at(5) })
        expect((await reopened.notificationStatus(at(35))).sinks.map((s) => [s.sink, s.pending, s.oldestPending])).toEqual([
          ['alertmanager:http://am.test', 1, at(5)],
          ['webhook:http://hooks.test/a', 1, at(5)],
        ])
        await reopened.close()
      })

      it('takes a down back when the component recovers within NOTIFY_AFTER_SECONDS, and tells up after it', async () => {
        const store = (await withNotify()).store
        await store.apply([hb('a', 'degraded'), hb('b', 'degraded')], at(0))
        await store.apply([hb('a', 'ok')], at(10)) // within 30 s: nothing is ever told of a
        expect(await due(store, at(31))).toEqual([
          ['alertmanager', 'down', 'b/main', null, 'degraded', 0],
          ['webhook', 'down', 'b/main', null, 'degraded', 0],
        ])
        expect(await deliverAll(store, at(31))).toBe(2)
        await store.apply([hb('b', 'ok')], at(40))
        expect(await due(store, at(40))).toEqual([
          ['alertmanager', 'up', 'b/main', 'degraded', 'recovering', 40],
          ['webhook', 'up', 'b/main', 'degraded', 'recovering', 40],
        ])
        await deliverAll(store, at(40))
        expect(await due(store, at(100))).toEqual([])
        expect((await store.snapshot(at(100))).counters.notifications).toEqual({
          'delivered:alertmanager:http://am.test': 2,
          'delivered:webhook:http://hooks.test/a': 2,
        })
      })

      it("retries a failed delivery when it is due again, holding back what follows for that component", async () => {
        const harness = await withNotify({ sinks: [SINKS[0]!] })
        const { store } = harness
        await store.apply([hb('a', 'degraded')], at(0))
        const [down] = await store.deliveries(at(30), 10)
        await store.settleDeliveries([{ key: down!.key, outcome: 'failed', error: 'hooks.test answered 503', retryAt: at(35) }], at(30))
        await store.apply([hb('a', 'ok')], at(31))
        expect(await store.deliveries(at(34), 10)).toEqual([]) // the up waits for the down before it
        const reopened = await harness.reopen()
        const retry = await reopened.deliveries(at(35), 10)
        expect(retry.map(({ entry }) => [entry.notification.kind, entry.attempts, entry.lastError])).toEqual([['down', 1, 'hooks.test answered 503']])
        expect((await reopened.notificationStatus(at(35))).sinks[0]).toMatchObject({ pending: 2, lastError: 'hooks.test answered 503', lastErrorAt: at(30) })
        await reopened.settleDeliveries(retry.map(({ key }) => ({ key, outcome: 'delivered' as const })), at(35))
        expect((await reopened.deliveries(at(35), 10)).map(({ entry }) => entry.notification.kind)).toEqual(['up'])
        await reopened.close()
      })

      it('tells nothing of a silenced agent, and what is still down once the silence is lifted', async () => {
        const store = (await withNotify({ sinks: [SINKS[0]!] })).store
        await store.silence({ agent: 'a', until: at(3600), reason: 'maintenance', at: at(0) }, at(0))
        await store.apply([hb('a', 'degraded'), hb('b', 'degraded')], at(1))
        expect((await due(store, at(60))).map((d) => d[2])).toEqual(['b/main'])
        expect((await store.notificationStatus(at(60))).silences).toEqual([{ agent: 'a', until: at(3600), reason: 'maintenance', at: at(0) }])
        await deliverAll(store, at(60))
        expect(await store.unsilence('a', at(100))).toBe(true)
        expect(await store.unsilence('a', at(100))).toBe(false)
        expect(await due(store, at(100))).toEqual([['webhook', 'down', 'a/main', 'ok', 'degraded', 1]])
      })

      it('reminds every NOTIFY_REPEAT_SECONDS while still down, from the sweep', async () => {
        const store = (await withNotify({ sinks: [SINKS[0]!], notifyRepeatSeconds: 600 })).store
        await store.apply([hb('a', 'degraded', { interval_seconds: 3600 })], at(0))
        await deliverAll(store, at(30))
        await store.sweep(at(629))
        expect(await due(store, at(629))).toEqual([])
        await store.sweep(at(630))
        expect(await due(store, at(630))).toEqual([['webhook', 'reminder', 'a/main', 'degraded', 'degraded', 630]])
      })

      it('tells one fleet-wide silence, not a down per agent, when most of the fleet misses its deadline at once', async () => {
        const store = (await withNotify({ sinks: [SINKS[0]!], massShare: 0.5, massMinAgents: 3 }, NO_LIMITS)).store
        const agents = Array.from({ length: 6 }, (_, i) => `host-${i}`)
        await store.apply(agents.map((agent) => hb(agent, 'ok', { interval_seconds: 10, grace_seconds: 0 })), at(0))
        await store.apply([hb('host-5', 'ok')], at(9)) // host-5 keeps beating
        await store.sweep(at(11)) // host-0 … host-4 missed at 10 s
        const told = await store.deliveries(at(60), 100)
        expect(told.map(({ entry }) => entry.notification.kind)).toEqual(['fleet'])
        expect(told[0]!.entry.notification.missed).toEqual({ agents: 5, of: 6, sample: agents.slice(0, 5) })
        expect((await store.notificationStatus(at(60))).mass).toMatchObject({ since: at(10), agents: 5 })
      })
    })

    describe('history', () => {
      /** One agent's events, oldest first, as [seconds after T0, component, from, to, reason]. */
      const story = async (store: Store, agent: string) =>
        (await store.events({ agent, limit: 100 })).events
          .reverse()
          .map((e) => [(e.at - T0) / 1000, e.component, e.from, e.to, e.reason])

      it('records every kind of transition, at the time it happened, with its reason', async () => {
        const store = await fresh()
        await store.apply([hb('a', 'ok', { interval_seconds: 10, grace_seconds: 5 })], at(0))
        await store.apply([hb('a', 'ok')], at(5)) // nothing a reader sees changes: no event
        await store.apply([hb('a', 'degraded', { message: 'disk full' })], at(6))
        await store.apply([hb('a', 'ok')], at(7))
        await store.apply([hb('a', 'ok')], at(17)) // recovering → ok, 10 s later
        expect(await store.sweep(at(32.5))).toBe(0) // due at 32 s: the sweep records the miss, at the deadline
        await store.apply([hb('a', 'ok')], at(40)) // late: degraded → recovering
        await store.declare({ agent: 'a', component: 'backup', schedule: '@daily' }, at(41))
        await store.removeComponent('a', 'backup', at(42))
        expect(await story(store, 'a')).toEqual([
          [0, 'main', null, 'ok', null],
          [6, 'main', 'ok', 'degraded', 'disk full'],
          [7, 'main', 'degraded', 'recovering', null],
          [17, 'main', 'recovering', 'ok', null],
          [32, 'main', 'ok', 'degraded', 'missed heartbeat'],
          [40, 'main', 'degraded', 'recovering', null],
          [41, 'backup', null, 'starting', 'declared'],
          [42, 'backup', 'starting', null, 'deregistered'],
        ])
        // A miss the sweep did not see first is recorded by the next heartbeat, at the deadline all the same.
        await store.apply([hb('b', 'ok', { interval_seconds: 1, grace_seconds: 0 })], at(0))
        await store.apply([hb('b', 'ok')], at(3))
        expect(await story(store, 'b')).toEqual([[0, 'main', null, 'ok', null], [1, 'main', 'ok', 'degraded', 'missed heartbeat'], [3, 'main', 'degraded', 'recovering', null]])
      })

      it('records an expiry at the moment it expired, and a deregistration', async () => {
        const store = await fresh()
        await store.apply([hb('gone', 'ok', { interval_seconds: 60, grace_seconds: 0 }), hb('left', 'degraded', { component: 'db' })], at(0))
        await store.remove('left', at(1))
        expect(await store.sweep(at(4000))).toBe(1) // expiry at max(0 + 3600, 60 + 60) = 3600 s
        expect(await story(store, 'gone')).toEqual([
          [0, 'main', null, 'ok', null],
          [60, 'main', 'ok', 'degraded', 'missed heartbeat'],
          [3600, 'main', 'degraded', null, 'expired'],
        ])
        expect(await story(store, 'left')).toEqual([[0, 'db', null, 'degraded', null], [1, 'db', 'degraded', null, 'deregistered']])
        const [again] = await store.apply([hb('gone', 'ok')], at(4001))
        expect(again!.history.map((p) => p.state)).toEqual(['ok'])
        expect((await story(store, 'gone')).at(-1)).toEqual([4001, 'main', null, 'ok', null])
      })

      it("lists one agent's events newest first, and the fleet's oldest first, a page at a time, across a reopen", async () => {
        const harness = await open(suiteSettings)
        for (let i = 0; i < 5; i++) {
          await harness.store.apply([hb('x', i % 2 ? 'ok' : 'degraded'), hb('y', i % 2 ? 'degraded' : 'ok')], at(i))
        }
        const store = await harness.reopen()
        const first = await store.events({ agent: 'x', limit: 2 })
        expect(first.more).toBe(true)
        const second = await store.events({ agent: 'x', limit: 10, before: first.events.at(-1)!.seq })
        const x = [...first.events, ...second.events]
        expect(x.map((e) => (e.at - T0) / 1000)).toEqual([4, 3, 2, 1, 0])
        expect(x.every((e) => e.agent === 'x')).toBe(true)
        const feed: HistoryEvent[] = []
        for (let after: number | undefined, more = true; more; ) {
          const page = await store.events({ after, limit: 3 })
          feed.push(...page.events)
          after = page.events.at(-1)?.seq
          more = page.more
        }
        expect(feed).toHaveLength(10)
        expect(feed.map((e) => e.seq)).toEqual([...feed.map((e) => e.seq)].sort((a, b) => a - b))
        expect(new Set(feed.map((e) => e.seq)).size).toBe(10)
        // Events recorded after a reopen come after those before it.
        await store.apply([hb('x', 'ok')], at(5))
        expect((await store.events({ after: feed.at(-1)!.seq, limit: 10 })).events.map((e) => e.agent)).toEqual(['x'])
        await store.close()
      })

      it('keeps HISTORY_PER_COMPONENT events a component, dropping the oldest and counting them', async () => {
        const store = (await open({ ...suiteSettings, historyPerComponent: 3 })).store
        for (let i = 0; i < 6; i++) await store.apply([hb('flap', i % 2 ? 'ok' : 'degraded'), hb('calm', 'ok')], at(i))
        const { events } = await store.events({ agent: 'flap', limit: 100 })
        expect(events.map((e) => (e.at - T0) / 1000)).toEqual([5, 4, 3])
        expect((await store.agent('flap', at(6))).records[0]!.history.map((p) => (p.at - T0) / 1000)).toEqual([3, 4, 5])
        expect((await store.snapshot(at(6))).counters.historyDropped).toBe(3)
        expect((await store.events({ agent: 'calm', limit: 100 })).events).toHaveLength(1)
        expect((await store.events({ limit: 100 })).events).toHaveLength(4)
      })

      it('drops events past HISTORY_DAYS at a sweep, keeping the state the window begins in', async () => {
        const store = (await open({ ...suiteSettings, historyDays: 1, expireSeconds: 0 })).store
        await store.apply([hb('a', 'degraded', { interval_seconds: 86_400 })], at(0))
        await store.apply([hb('a', 'ok')], at(10))
        await store.apply([hb('a', 'ok')], at(20))
        await store.apply([hb('a', 'degraded')], at(30))
        await store.sweep(at(86_400 + 15))
        // Recorded before the window: the two oldest events go; the timeline keeps the point the window begins in.
        expect((await store.events({ agent: 'a', limit: 10 })).events.map((e) => (e.at - T0) / 1000)).toEqual([30, 20])
        expect((await store.agent('a', at(86_415))).records[0]!.history.map((p) => [(p.at - T0) / 1000, p.state])).toEqual([[10, 'recovering'], [20, 'ok'], [30, 'degraded']])
        expect((await store.snapshot(at(86_415))).counters.historyDropped).toBe(0)
      })

      it('works uptime out at the window edges: ok and recovering up, degraded down, starting not counted', async () => {
        const store = await fresh()
        const day = 86_400
        await store.apply([hb('u', 'starting', { interval_seconds: 86_400 })], at(0))
        await store.apply([hb('u', 'ok')], at(1000)) // starting for 1000 s: counts for nothing
        await store.apply([hb('u', 'degraded')], at(1000 + day - 3600)) // ok for a day less an hour
        await store.apply([hb('u', 'ok')], at(1000 + day)) // degraded for an hour, then recovering
        const now = at(1000 + day + 1800)
        const { records } = await store.agent('u', now)
        const history = agentHistory(records, now, suiteSettings)
        // The last 24 h: 1800 s recovering and (86400 − 3600 − 1800) s ok are up; 3600 s degraded is down.
        expect(history.uptime['24h']).toBeCloseTo(1 - 3600 / day, 12)
        // 7 d and 30 d: everything since the start, the starting stretch not counted.
        expect(history.uptime['7d']).toBeCloseTo(1 - 3600 / (day + 1800), 12)
        expect(history.uptime['30d']).toBe(history.uptime['7d'])
        expect(history.components.get('main')).toEqual(history.uptime)
        expect(history.bars).toHaveLength(30)
        expect(history.bars.filter((b) => b.worst !== null).map((b) => b.worst)).toContain('degraded')
      })

      it('tells a watcher every event as it is stored, and resumes after a seq', async () => {
        const store = await fresh()
        await store.apply([hb('w', 'ok')], at(0))
        const [first] = (await store.events({ agent: 'w', limit: 1 })).events
        const abort = new AbortController()
        const seen: HistoryEvent[] = []
        const watching = (async () => {
          for await (const event of store.watch(first!.seq - 1, abort.signal)) {
            seen.push(event)
            if (seen.length === 3) abort.abort()
          }
        })()
        await store.apply([hb('w', 'degraded')], at(1))
        await store.apply([hb('w', 'ok')], at(2))
        await watching
        expect(seen.map((e) => [e.from, e.to])).toEqual([[null, 'ok'], ['ok', 'degraded'], ['degraded', 'recovering']])
      })
    })

    describe('caps and the rate limit (checked inside the atomic section)', () => {
      const capped = async (limits: Partial<Limits>) =>
        (await open({ ...suiteSettings, limits: { maxAgents: 0, maxComponentsPerAgent: 0, maxComponents: 0, maxVersions: 0, ratePerSecond: 0, ...limits } })).store
      const unchanged = async (store: Store, before: Awaited<ReturnType<Store['snapshot']>>, now: number) => {
        const after = await store.snapshot(now)
        expect(after.records).toEqual(before.records)
        expect(after.counters.received).toBe(before.counters.received)
      }

      it('refuses a new agent past MAX_AGENTS, whole batch and all, while known agents carry on', async () => {
        const store = await capped({ maxAgents: 3 })
        await store.apply([hb('a', 'ok'), hb('b', 'ok'), hb('c', 'ok')], at(0))
        const before = await store.snapshot(at(1))
        await expect(store.apply([hb('a', 'degraded'), hb('d', 'ok')], at(1))).rejects.toMatchObject({
          name: 'LimitError', code: 'too_many_agents', status: 422, message: expect.stringContaining('MAX_AGENTS'),
        })
        await unchanged(store, before, at(1))
        expect((await store.apply([hb('a', 'degraded'), hb('b', 'ok', { component: 'ssh' })], at(1))).length).toBe(2)
        expect(await store.remove('c', at(2))).toBe(1)
        expect((await store.apply([hb('d', 'ok')], at(2)))[0]!.agent).toBe('d')
      })

      it('does not count expired agents against MAX_AGENTS', async () => {
        const store = await capped({ maxAgents: 2 })
        await store.apply([hb('a', 'ok'), hb('b', 'ok', { interval_seconds: 86_400 })], at(0))
        await store.apply([hb('b', 'ok')], at(3000))
        await expect(store.apply([hb('c', 'ok')], at(3000))).rejects.toMatchObject({ code: 'too_many_agents' })
        expect((await store.apply([hb('c', 'ok')], at(3601)))[0]!.agent).toBe('c') // a expired at 3600 s
      })

      it('refuses one of several concurrent batches alone', async () => {
        const store = await capped({ maxAgents: 2 })
        const answers = await Promise.allSettled([
          store.apply([hb('a', 'ok')], at(0)),
          store.apply([hb('b', 'ok')], at(0)),
          store.apply([hb('c', 'ok')], at(0)),
          store.apply([hb('a', 'degraded')], at(0)),
        ])
        expect(answers.map((a) => a.status)).toEqual(['fulfilled', 'fulfilled', 'rejected', 'fulfilled'])
        expect(await states(store, at(0))).toEqual({ 'a/main': 'degraded', 'b/main': 'ok' })
      })

      it('counts new agents within one batch', async () => {
        const store = await capped({ maxAgents: 2 })
        await expect(store.apply([hb('a', 'ok'), hb('b', 'ok'), hb('c', 'ok')], at(0))).rejects.toMatchObject({ code: 'too_many_agents' })
        expect((await store.snapshot(at(0))).records).toEqual([])
      })

      it('refuses a component past MAX_COMPONENTS_PER_AGENT', async () => {
        const store = await capped({ maxComponentsPerAgent: 2 })
        await store.apply([hb('a', 'ok', { component: 'one' }), hb('a', 'ok', { component: 'two' }), hb('b', 'ok')], at(0))
        await expect(store.apply([hb('a', 'ok', { component: 'three' })], at(1))).rejects.toMatchObject({
          code: 'too_many_components', message: expect.stringContaining('MAX_COMPONENTS_PER_AGENT'),
        })
        await expect(store.apply([hb('b', 'ok', { component: 'x' }), hb('b', 'ok', { component: 'y' })], at(1))).rejects.toMatchObject({
          code: 'too_many_components',
        })
        expect((await store.apply([hb('a', 'degraded', { component: 'two' })], at(1)))[0]!.state).toBe('degraded')
      })

      it('refuses a component past MAX_COMPONENTS, the whole fleet\'s, and not one that expired', async () => {
        const store = await capped({ maxComponents: 3 })
        await store.apply([hb('a', 'ok'), hb('a', 'ok', { component: 'x' }), hb('b', 'ok', { interval_seconds: 86_400 })], at(0))
        await expect(store.apply([hb('c', 'ok'), hb('c', 'ok', { component: 'y' })], at(1))).rejects.toThrow(
          'the fleet has 3 components and this batch adds 2; MAX_COMPONENTS is 3',
        )
        await expect(store.apply([hb('c', 'ok')], at(1))).rejects.toMatchObject({ code: 'too_many_components', status: 422 })
        expect((await store.apply([hb('a', 'degraded', { component: 'x' })], at(1)))[0]!.state).toBe('degraded') // known: never refused
        await store.apply([hb('b', 'ok')], at(3000))
        expect((await store.apply([hb('c', 'ok')], at(3601)))[0]!.agent).toBe('c') // a's two expired at 3601 s
      })

      it('says in a refusal how many there are, how many the batch adds, and the cap', async () => {
        const store = await capped({ maxAgents: 3, maxComponentsPerAgent: 2, maxVersions: 1 })
        await store.apply([hb('a', 'ok', { version: '1.0' })], at(0))
        await expect(store.apply([hb('a', 'ok', { component: 'x' }), hb('a', 'ok', { component: 'y' })], at(1))).rejects.toThrow(
          'agent a has 1 component and this batch adds 2; MAX_COMPONENTS_PER_AGENT is 2',
        )
        await expect(store.apply([hb('b', 'ok', { version: '2.0' })], at(1))).rejects.toThrow(
          'the fleet reports 1 version and this batch adds 1; MAX_VERSIONS is 1',
        )
        await expect(store.apply([hb('b', 'ok'), hb('c', 'ok'), hb('d', 'ok'), hb('d', 'ok', { component: 'x' })], at(1))).rejects.toThrow(
          'the fleet has 1 agent and this batch adds 3; MAX_AGENTS is 3',
        )
      })

      it('holds a declaration to the caps, and stores nothing when it is refused', async () => {
        const store = await capped({ maxAgents: 1, maxComponentsPerAgent: 2 })
        await store.declare({ agent: 'a', component: 'main' }, at(0))
        await store.declare({ agent: 'a', component: 'cron' }, at(0))
        const before = await store.snapshot(at(0))
        await expect(store.declare({ agent: 'a', component: 'third' }, at(0))).rejects.toMatchObject({ name: 'LimitError', code: 'too_many_components' })
        await expect(store.declare({ agent: 'b', component: 'main' }, at(0))).rejects.toMatchObject({ name: 'LimitError', code: 'too_many_agents' })
        await unchanged(store, before, at(0))
        // Declaring a known component again adds nothing.
        await expect(store.declare({ agent: 'a', component: 'cron', interval_seconds: 5 }, at(0))).resolves.toMatchObject({
          record: { intervalSeconds: 5 }, created: false,
        })
      })

      it('refuses a version past MAX_VERSIONS, but not one already reported', async () => {
        const store = await capped({ maxVersions: 2 })
        await store.apply([hb('a', 'ok', { version: '1.0' }), hb('b', 'ok', { version: '2.0' })], at(0))
        await expect(store.apply([hb('c', 'ok', { version: '3.0' })], at(1))).rejects.toMatchObject({
          code: 'too_many_versions', message: expect.stringContaining('MAX_VERSIONS'),
        })
        await store.apply([hb('c', 'ok', { version: '2.0' }), hb('a', 'ok', { version: '2.0' })], at(1))
        expect((await store.apply([hb('d', 'ok', { version: '3.0' })], at(2)))[0]!.version).toBe('3.0') // 1.0 is gone
      })

      it('limits each component to RATE_LIMIT_PER_SECOND, saying when to retry', async () => {
        const store = await capped({ ratePerSecond: 2 })
        await store.apply([hb('a', 'ok')], at(0))
        await store.apply([hb('a', 'ok'), hb('b', 'ok')], at(0))
        const before = await store.snapshot(at(0))
        await expect(store.apply([hb('a', 'degraded')], at(0))).rejects.toMatchObject({
          name: 'LimitError', code: 'rate_limited', status: 429, retryAfter: 1,
        })
        await unchanged(store, before, at(0))
        await store.apply([hb('a', 'ok', { component: 'ssh' })], at(0)) // another component has its own budget
        expect((await store.apply([hb('a', 'degraded')], at(0.5)))[0]!.state).toBe('degraded') // one token back
        await expect(store.apply([hb('b', 'ok'), hb('b', 'ok'), hb('b', 'ok')], at(0.5))).rejects.toMatchObject({ code: 'rate_limited' })
      })
    })
  })
}
