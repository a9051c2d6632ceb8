// Hostile input, generated: bodies, headers, paths and methods that anyone on
// the network could send. Properties: never a 5xx, never a crash, and a
// rejected request changes nothing stored or exported.
//
// `npm test` runs a bounded number of cases with a fixed seed; `npm run fuzz`
// runs many more (FUZZ_RUNS, FUZZ_SEED).
import fc from 'fast-check'
import { describe, expect, it } from 'vitest'
import { createApp } from '../lib/app.ts'
import { loadSettings } from '../lib/settings.ts'
import { MemoryStore } from '../lib/stores/memory.ts'

const RUNS = Number(process.env.FUZZ_RUNS ?? 200)
const SEED = Number(process.env.FUZZ_SEED ?? 20261122)
const T0 = 1_800_000_000_000
const params = { numRuns: RUNS, seed: SEED, endOnFailure: true }

function setup() {
  const settings = loadSettings({ HEARTBEAT_TOKEN: 'secret-token' })
  const store = new MemoryStore(settings)
  let now = T0
  const app = createApp({ store, settings, runtime: 'fuzz', clock: () => (now += 1) })
  return { app, store }
}

/** What a reader can see: the records and the fleet counters, and /metrics without the traffic counters. */
async function visible({ app, store }: ReturnType<typeof setup>) {
  const snapshot = await store.snapshot(T0)
  const metrics = (await (await app.request('/metrics')).text())
    .split('\n')
    .filter((line) => !/^(promhttp_|pulsegate_heartbeats_rejected_total|#)/.test(line))
    .join('\n')
  return { records: snapshot.records, received: snapshot.counters.received, metrics }
}

const AUTH = { Authorization: 'Bearer secret-token' }
const post = (app: ReturnType<typeof setup>['app'], body: BodyInit, headers: Record<string, string> = {}) =>
  app.request('/v1/heartbeat', { method: 'POST', headers: { 'Content-Type': 'application/json', ...AUTH, ...headers }, body })

/** Values that break naive code: odd numbers, odd strings, prototype keys. */
const nasty = fc.oneof(
  fc.constantFrom(
    0, -0, -1, 1.5, 1e308, -1e308, 2 ** 53 + 1, Number.MAX_SAFE_INTEGER, 86_400, 86_400.000001, 1e-320,
    'NaN', 'Infinity', '-Infinity', '1e999', '', ' ', '\u0000', '\u202e', '\ud800', 'ok', 'degraded', 'starting',
    '__proto__', 'constructor', 'prototype', 'toString', null, true, false, [], {},
  ),
  fc.string({ maxLength: 200 }),
  fc.string({ unit: 'binary', maxLength: 40 }),
  fc.integer(),
  fc.double(),
)
const key = fc.oneof(
  fc.constantFrom('agent', 'component', 'status', 'message', 'version', 'pid', 'interval_seconds', 'grace_seconds', 'labels', '__proto__', 'constructor'),
  fc.string({ maxLength: 20 }),
)
const hostileObject = fc.dictionary(key, fc.oneof(nasty, fc.dictionary(key, nasty, { maxKeys: 10 })), { maxKeys: 12 })
/** A heartbeat that is nearly right: each field sometimes replaced by something nasty. */
const nearHeartbeat = fc
  .record({
    agent: fc.oneof(fc.stringMatching(/^[A-Za-z0-9._:-]{1,130}$/), nasty),
    component: fc.option(fc.oneof(fc.stringMatching(/^[a-z]{1,66}$/), nasty), { nil: undefined }),
    status: fc.oneof(fc.constantFrom('ok', 'degraded', 'starting'), nasty),
    message: fc.option(fc.oneof(fc.string({ maxLength: 1100 }), nasty), { nil: undefined }),
    interval_seconds: fc.option(fc.oneof(fc.double({ min: -10, max: 100_000 }), nasty), { nil: undefined }),
    labels: fc.option(fc.oneof(fc.dictionary(fc.string({ maxLength: 10 }), fc.string({ maxLength: 140 }), { maxKeys: 10 }), nasty), { nil: undefined }),
  })
  .map((h) => Object.fromEntries(Object.entries(h).filter(([, v]) => v !== undefined)))
const deep = fc.integer({ min: 1, max: 5000 }).map((depth) => '['.repeat(depth) + ']'.repeat(depth))

describe('fuzz: POST /v1/heartbeat', () => {
  it('never answers 5xx, and a rejected body changes nothing', async () => {
    const target = setup()
    await post(target.app, JSON.stringify({ agent: 'steady', status: 'degraded', version: '1' }))
    await fc.assert(
      fc.asyncProperty(
        fc.oneof(
          hostileObject.map((o) => JSON.stringify(o)),
          nearHeartbeat.map((o) => JSON.stringify(o)),
          fc.array(fc.oneof(nearHeartbeat, hostileObject), { maxLength: 110 }).map((a) => JSON.stringify(a)),
          fc.json({ maxDepth: 6 }),
          deep,
          fc.string({ maxLength: 300 }),
          // Duplicate keys, which JSON.parse resolves to the last one.
          fc.constantFrom('{"agent":"a","agent":"b c","status":"ok"}', '{"status":"ok","agent":"dup","status":"nope"}'),
        ),
        async (body) => {
          const before = await visible(target)
          const res = await post(target.app, body)
          expect(res.status).toBeLessThan(500)
          const text = await res.text()
          expect(() => JSON.parse(text)).not.toThrow()
          if (res.status !== 200) {
            expect(JSON.parse(text).error.code).toMatch(/^[a-z_]+$/)
            expect(await visible(target)).toEqual(before)
          }
        },
      ),
      params,
    )
  })

  it('never answers 5xx to invalid UTF-8, odd content types or chunked bodies without a length', async () => {
    const target = setup()
    await fc.assert(
      fc.asyncProperty(
        fc.uint8Array({ maxLength: 20_000 }),
        fc.constantFrom('application/json', 'application/json; charset=latin1', 'application/x+json', 'text/json', 'application/jsonx', '*/*', ''),
        fc.boolean(),
        async (bytes, type, chunked) => {
          const before = await visible(target)
          const body = chunked
            ? new ReadableStream({
                start(controller) {
                  for (let i = 0; i < bytes.length; i += 1000) controller.enqueue(bytes.slice(i, i + 1000))
                  controller.close()
                },
              })
            : bytes
          const res = await target.app.request('/v1/heartbeat', {
            method: 'POST', headers: { 'Content-Type': type, ...AUTH }, body, duplex: 'half',
          } as RequestInit)
          expect(res.status).toBeLessThan(500)
          if (res.status !== 200) expect(await visible(target)).toEqual(before)
        },
      ),
      params,
    )
  })
})

describe('fuzz: headers, paths and methods', () => {
  it('never answers 5xx to any Authorization or Accept header', async () => {
    const target = setup()
    await fc.assert(
      fc.asyncProperty(fc.string({ maxLength: 300 }), fc.string({ maxLength: 300 }), async (authorization, accept) => {
        const headers = new Headers()
        try {
          headers.set('Authorization', authorization)
          headers.set('Accept', accept)
        } catch {
          return // not a header value a client could send at all
        }
        const before = await visible(target)
        const res = await target.app.request('/v1/heartbeat', {
          method: 'POST', headers: { 'Content-Type': 'application/json', authorization: headers.get('Authorization') ?? '' },
          body: '{"agent":"sneaky","status":"ok"}',
        })
        expect(res.status).toBeLessThan(500)
        if (authorization.trim() !== 'Bearer secret-token') expect(await visible(target)).toEqual(before)
        const metrics = await target.app.request('/metrics', { headers: { Accept: headers.get('Accept') ?? '' } })
        expect(metrics.status).toBe(200)
      }),
      params,
    )
  })

  it('never answers 5xx to any path or method, and never leaks a stack or a file path', async () => {
    const target = setup()
    const segment = fc.oneof(
      fc.constantFrom('v1', 'agents', 'heartbeat', 'readyz', 'metrics', 'livez', '..', '%2e%2e', '%00', '%ff', '__proto__', 'constructor'),
      fc.string({ maxLength: 150 }).map(encodeURIComponent),
    )
    await fc.assert(
      fc.asyncProperty(
        fc.array(segment, { maxLength: 5 }),
        fc.constantFrom('GET', 'HEAD', 'POST', 'PUT', 'DELETE', 'PATCH', 'OPTIONS'),
        fc.string({ maxLength: 60 }).map((q) => `?${encodeURIComponent(q)}&verbose&exclude=${encodeURIComponent(q)}`),
        async (segments, method, query) => {
          const res = await target.app.request(`/${segments.join('/')}${query}`, { method, headers: AUTH })
          expect(res.status).toBeLessThan(500)
          const text = await res.text()
          expect(text).not.toMatch(/\bat \S+ \(|\/work\/|node_modules|file:\/\//)
        },
      ),
      params,
    )
  })
})
