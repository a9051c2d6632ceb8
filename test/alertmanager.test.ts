// The Alertmanager sink: the alert each notification becomes, how a failed post is
// told to the engine, and, against real Alertmanager processes, that what it sends
// is stored, routed to a receiver as firing, resolved by the `up`, kept alive by a
// re-post, and taken by both of an HA pair. In CI a missing Alertmanager fails the
// test; on a laptop it is skipped, loudly.
import { type Server, createServer } from 'node:http'
import type { AddressInfo } from 'node:net'
import { afterAll, beforeAll, describe, expect, it } from 'vitest'
import { type PostableAlert, alertOf, postAlerts } from '../lib/notify/alertmanager.ts'
import { DeliveryError, type Notification } from '../lib/notify/notification.ts'
import { RECEIVER, type RunningAlertmanager, type WebhookAlert, alertmanagerVersion, startAlertmanager, waitFor } from './support/alertmanager.ts'

const NOW = 1_800_000_000_000
const RESEND = 60_000
const statusUrl = (agent: string) => `https://status.example/agents/${agent}`

function downOf(agent: string, overrides: Partial<Notification> = {}): Notification {
  return {
    id: '7-down',
    kind: 'down',
    at: NOW - 60_000,
    agent,
    component: 'postgres',
    from: 'ok',
    to: 'degraded',
    reason: 'missed heartbeat',
    labels: { region: 'eu-west', team: 'data' },
    since: NOW - 120_000,
    ...overrides,
  }
}

const upOf = (down: Notification, at: number): Notification => ({ ...down, id: '9-up', kind: 'up', at, from: 'degraded', to: 'ok', reason: null })

const iso = (ms: number) => new Date(ms).toISOString()

describe('alertOf', () => {
  const options = { statusUrl, resendMs: RESEND, now: NOW }
  const labels = { region: 'eu-west', team: 'data', alertname: 'PulsegateComponentDown', agent: 'db-1', component: 'postgres', state: 'degraded', severity: 'critical' }

  it('down: firing until four resends from now, linked to the status page', () => {
    expect(alertOf(downOf('db-1'), options)).toEqual({
      labels,
      annotations: { summary: 'postgres on db-1 is degraded', description: 'missed heartbeat' },
      startsAt: iso(NOW - 120_000),
      endsAt: iso(NOW + 4 * RESEND),
      generatorURL: 'https://status.example/agents/db-1',
    })
  })

  it('reminder: the same alert, its end moved on from this post', () => {
    const later = NOW + 30 * 60_000
    expect(alertOf(downOf('db-1', { id: '8-reminder', kind: 'reminder', at: later }), { ...options, now: later })).toEqual({
      labels,
      annotations: { summary: 'postgres on db-1 is still degraded', description: 'missed heartbeat' },
      startsAt: iso(NOW - 120_000),
      endsAt: iso(later + 4 * RESEND),
      generatorURL: 'https://status.example/agents/db-1',
    })
  })

  it('up: the labels of the down it resolves (state = from), ending when it happened', () => {
    const up = upOf(downOf('db-1'), NOW - 1000)
    expect(alertOf(up, options)).toEqual({
      labels,
      annotations: { summary: 'postgres on db-1 is ok, no longer degraded' },
      startsAt: iso(NOW - 120_000),
      endsAt: iso(NOW - 1000),
      generatorURL: 'https://status.example/agents/db-1',
    })
    expect(alertOf({ ...up, to: null, reason: 'deregistered' }, options).annotations).toEqual({
      summary: 'postgres on db-1 is gone, no longer degraded',
      description: 'deregistered',
    })
    // Alertmanager answers 400 to an end before the start; such an up ends at the start.
    expect(alertOf({ ...up, at: NOW - 200_000 }, options).endsAt).toBe(iso(NOW - 120_000))
  })

  it('fleet: no agent or component, critical, the counts as annotations', () => {
    const fleet: Notification = {
      ...downOf(''),
      id: '12-fleet',
      kind: 'fleet',
      component: '',
      from: null,
      to: null,
      reason: 'suspect the path to pulsegate',
      labels: {},
      missed: { agents: 40, of: 50, sample: ['web-1', 'web-2', 'db-1'] },
    }
    expect(alertOf(fleet, { ...options, statusUrl: () => 'https://status.example/' })).toEqual({
      labels: { alertname: 'PulsegateFleetSilent', severity: 'critical' },
      annotations: {
        summary: '40 of 50 agents missed their deadline at once',
        description: 'suspect the path to pulsegate',
        missed_agents: '40',
        total_agents: '50',
        sample_agents: 'web-1, web-2, db-1',
      },
      startsAt: iso(NOW - 120_000),
      endsAt: iso(NOW + 4 * RESEND),
      generatorURL: 'https://status.example/',
    })
  })

  it('severity: warning for a state other than degraded', () => {
    expect(alertOf(downOf('db-1', { to: 'starting' }), options).labels).toMatchObject({ state: 'starting', severity: 'warning' })
  })

  it('drops labels Alertmanager would reject or that would override a fixed one, and empty ones', () => {
    const n = downOf('db-1', {
      labels: { 'bad-name': 'x', '9lives': 'x', 'dotted.name': 'x', __meta: 'x', severity: 'page', state: 'fine', alertname: 'Other', empty: '', ok_name: 'kept' },
    })
    expect(alertOf(n, options).labels).toEqual({ ok_name: 'kept', alertname: 'PulsegateComponentDown', agent: 'db-1', component: 'postgres', state: 'degraded', severity: 'critical' })
  })

  it('no status page: no generatorURL at all', () => {
    expect(alertOf(downOf('db-1'), { ...options, statusUrl: () => null })).not.toHaveProperty('generatorURL')
  })
})

/** A fetch that answers `status` with `body`, recording what it was asked. */
function answering(status: number, body = '') {
  const calls: { url: string; init: RequestInit | undefined }[] = []
  const fake = (async (input: string | URL | Request, init?: RequestInit) => {
    calls.push({ url: String(input), init })
    return new Response(body, { status })
  }) as typeof fetch
  return { fetch: fake, calls }
}

async function rejection(promise: Promise<unknown>): Promise<DeliveryError> {
  const error = await promise.then(() => null, (e: unknown) => e)
  expect(error).toBeInstanceOf(DeliveryError)
  return error as DeliveryError
}

async function listen(handler: Parameters<typeof createServer>[1]): Promise<{ url: string; server: Server }> {
  const server = createServer(handler)
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve))
  return { url: `http://127.0.0.1:${(server.address() as AddressInfo).port}`, server }
}

describe('postAlerts', () => {
  const alert = alertOf(downOf('db-1'), { statusUrl, resendMs: RESEND, now: NOW })

  it('posts the alerts as JSON to <url>/api/v2/alerts, with or without a trailing slash or a path prefix', async () => {
    for (const [base, endpoint] of [
      ['http://am:9093', 'http://am:9093/api/v2/alerts'],
      ['http://am:9093/', 'http://am:9093/api/v2/alerts'],
      ['https://proxy.example/alertmanager/', 'https://proxy.example/alertmanager/api/v2/alerts'],
    ] as const) {
      const { fetch, calls } = answering(200)
      await postAlerts(base, [alert], { fetch })
      expect(calls).toHaveLength(1)
      expect(calls[0]!.url).toBe(endpoint)
      expect(calls[0]!.init).toMatchObject({ method: 'POST', headers: { 'Content-Type': 'application/json' } })
      expect(JSON.parse(String(calls[0]!.init!.body))).toEqual([alert])
    }
  })

  it('a 400: no retry, what Alertmanager said in the message, cut to about 200 characters', async () => {
    const said = `invalid label set: invalid name "bad-name"\n${'x'.repeat(500)}`
    const { url, server } = await listen((_req, res) => res.writeHead(400, { 'Content-Type': 'application/json' }).end(JSON.stringify(said)))
    try {
      const error = await rejection(postAlerts(url, [alert]))
      expect(error.retry).toBe(false)
      const head = `POST ${url}/api/v2/alerts: Alertmanager answered 400: `
      expect(error.message).toBe(`${head}${`invalid label set: invalid name "bad-name" ${'x'.repeat(500)}`.slice(0, 200)}…`)
    } finally {
      server.close()
    }
  })

  it('retries 408, 429 and 5xx; not any other 4xx', async () => {
    for (const [status, retry] of [[408, true], [429, true], [500, true], [503, true], [401, false], [404, false], [422, false]] as const) {
      const error = await rejection(postAlerts('http://am:9093', [alert], { fetch: answering(status, 'nope').fetch }))
      expect({ status, retry: error.retry, message: error.message }).toEqual({ status, retry, message: `POST http://am:9093/api/v2/alerts: Alertmanager answered ${status}: nope` })
    }
  })

  it('connection refused: retry, and says so', async () => {
    const { url, server } = await listen(() => {})
    await new Promise((resolve) => server.close(resolve))
    const error = await rejection(postAlerts(url, [alert]))
    expect(error.retry).toBe(true)
    expect(error.message).toBe(`POST ${url}/api/v2/alerts: fetch failed (ECONNREFUSED)`)
  })

  it('no answer within the timeout: retry, and says so', async () => {
    const { url, server } = await listen(() => {}) // never answers
    try {
      const error = await rejection(postAlerts(url, [alert], { timeoutMs: 200 }))
      expect(error.retry).toBe(true)
      expect(error.message).toBe(`POST ${url}/api/v2/alerts: no answer within 200 ms`)
    } finally {
      server.closeAllConnections()
      server.close()
    }
  })
})

const version = alertmanagerVersion()
if (version === null && process.env.CI !== 'true') {
  console.warn('\n*** prometheus-alertmanager not found: skipping the tests against Alertmanager (apt-get install prometheus-alertmanager) ***\n')
}

interface GettableAlert extends PostableAlert {
  fingerprint: string
  receivers: { name: string }[]
  status: { state: string }
}

/** The active alerts of one agent, as Alertmanager lists them. */
async function activeAlerts(am: RunningAlertmanager, agent: string): Promise<GettableAlert[]> {
  const res = await fetch(`${am.url}/api/v2/alerts?${new URLSearchParams({ filter: `agent="${agent}"` })}`)
  expect(res.status).toBe(200)
  return (await res.json()) as GettableAlert[]
}

/** The alerts of one agent the receiver got, each with the status of its body. */
function delivered(am: RunningAlertmanager, agent: string): (WebhookAlert & { body: string; receiver: string })[] {
  return am.received.flatMap((body) =>
    body.alerts.filter((a) => a.labels.agent === agent).map((a) => ({ ...a, body: body.status, receiver: body.receiver })),
  )
}

const firingIn = (am: RunningAlertmanager, agent: string) => delivered(am, agent).find((a) => a.status === 'firing')
const resolvedIn = (am: RunningAlertmanager, agent: string) => delivered(am, agent).find((a) => a.status === 'resolved')

describe.skipIf(version === null && process.env.CI !== 'true')(`against Alertmanager ${version}`, () => {
  let am: RunningAlertmanager
  let peer: RunningAlertmanager // the other of an HA pair, served under a path prefix as behind a proxy

  beforeAll(async () => {
    expect(version, 'CI must install prometheus-alertmanager').not.toBeNull()
    ;[am, peer] = await Promise.all([startAlertmanager(), startAlertmanager({ routePrefix: '/am' })])
  })
  afterAll(async () => {
    await Promise.all([am?.stop(), peer?.stop()])
  })

  // Against the real clock: Alertmanager decides firing or resolved by its own.
  const options = (now = Date.now()) => ({ statusUrl, resendMs: RESEND, now })
  const downNow = (agent: string) => downOf(agent, { at: Date.now() - 60_000, since: Date.now() - 120_000 })

  it('a down is stored with its labels and routed to the receiver as firing', async () => {
    const down = downNow('am-firing')
    const alert = alertOf(down, options())
    await postAlerts(am.url, [alert])

    const [stored, ...more] = await activeAlerts(am, 'am-firing')
    expect(more).toEqual([])
    expect(stored!.labels).toEqual({
      region: 'eu-west',
      team: 'data',
      alertname: 'PulsegateComponentDown',
      agent: 'am-firing',
      component: 'postgres',
      state: 'degraded',
      severity: 'critical',
    })
    expect(stored!.annotations).toEqual(alert.annotations)
    expect(stored!.generatorURL).toBe(alert.generatorURL)
    expect([Date.parse(stored!.startsAt), Date.parse(stored!.endsAt)]).toEqual([down.since, Date.parse(alert.endsAt)])
    expect(stored!.status.state).toBe('active')
    expect(stored!.receivers).toEqual([{ name: RECEIVER }])

    const got = await waitFor('the firing notification', () => firingIn(am, 'am-firing'))
    expect(got).toMatchObject({ body: 'firing', receiver: RECEIVER, labels: stored!.labels, annotations: alert.annotations, generatorURL: alert.generatorURL })
  })

  it('an up (endsAt = at) resolves it: the receiver gets status resolved, the list no longer has it', async () => {
    const down = downNow('am-resolve')
    await postAlerts(am.url, [alertOf(down, options())])
    await waitFor('the firing notification', () => firingIn(am, 'am-resolve'))

    const up = upOf(down, Date.now())
    await postAlerts(am.url, [alertOf(up, options())])
    expect(await activeAlerts(am, 'am-resolve')).toEqual([])
    const got = await waitFor('the resolved notification', () => resolvedIn(am, 'am-resolve'))
    expect(got.body).toBe('resolved')
    expect(got.labels).toEqual(firingIn(am, 'am-resolve')!.labels)
    expect(Date.parse(got.endsAt)).toBe(up.at)
    expect(got.annotations.summary).toBe('postgres on am-resolve is ok, no longer degraded')
  })

  it('a re-post keeps the same alert active with the later endsAt, and tells no one again', async () => {
    const down = downNow('am-repost')
    const first = Date.now()
    await postAlerts(am.url, [alertOf(down, options(first))])
    await waitFor('the firing notification', () => firingIn(am, 'am-repost'))
    const [before] = await activeAlerts(am, 'am-repost')

    const reminder = { ...down, id: '8-reminder', kind: 'reminder' as const }
    await postAlerts(am.url, [alertOf(reminder, options(first + RESEND))])
    const [after, ...more] = await activeAlerts(am, 'am-repost')
    expect(more).toEqual([])
    expect(after!.fingerprint).toBe(before!.fingerprint)
    expect(Date.parse(after!.endsAt)).toBe(first + 5 * RESEND)
    expect(after!.startsAt).toBe(before!.startsAt)

    // Alertmanager keeps the latest endsAt of a firing alert: a late retry of the first post does not shorten it.
    await postAlerts(am.url, [alertOf(down, options(first))])
    expect(Date.parse((await activeAlerts(am, 'am-repost'))[0]!.endsAt)).toBe(first + 5 * RESEND)

    // A group flushes every group_interval (1 s). A marker in a group of its own that
    // starts now arrives after group_wait (3 s), by which time this group has flushed
    // more than once: with nothing new to tell.
    const marker = downOf('am-repost-marker', { at: Date.now(), since: Date.now() })
    await postAlerts(am.url, [alertOf(marker, options())])
    await waitFor('the marker', () => firingIn(am, 'am-repost-marker'))
    expect(delivered(am, 'am-repost')).toHaveLength(1)
  })

  it('Alertmanager rejects an invalid label name with 400; alertOf drops it, so the alert gets in', async () => {
    const down = downNow('am-labels')
    const raw = alertOf(down, options())
    const error = await rejection(postAlerts(am.url, [{ ...raw, labels: { ...raw.labels, 'bad-name': 'x' } }]))
    expect(error.retry).toBe(false)
    expect(error.message).toBe(`POST ${am.url}/api/v2/alerts: Alertmanager answered 400: invalid label set: invalid name "bad-name"`)

    await postAlerts(am.url, [alertOf({ ...down, labels: { ...down.labels, 'bad-name': 'x' } }, options())])
    const [stored] = await activeAlerts(am, 'am-labels')
    expect(stored!.labels).toEqual(raw.labels)
  })

  it('an HA pair: each Alertmanager, sent the alert, stores it and notifies; the up resolves it in both', async () => {
    const down = downNow('am-pair')
    const pair = [am, peer]
    for (const each of pair) await postAlerts(each.url, [alertOf(down, options())])
    for (const each of pair) {
      expect((await activeAlerts(each, 'am-pair')).map((a) => a.labels.state)).toEqual(['degraded'])
      await waitFor(`the firing notification from ${each.url}`, () => firingIn(each, 'am-pair'))
    }

    const up = upOf(down, Date.now())
    for (const each of pair) await postAlerts(each.url, [alertOf(up, options())])
    for (const each of pair) await waitFor(`the resolved notification from ${each.url}`, () => resolvedIn(each, 'am-pair'))
  })
})
