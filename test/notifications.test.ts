// Notifications, as a user gets them: the routes through app.request() with an
// injected clock; the policy with the real courier delivering to a real HTTP
// receiver; the real Node server delivering signed webhooks (checked with the
// README's own recipe) through a receiver that is down for a while and across a
// kill -9; and real Alertmanagers, an HA pair, getting pulsegate's alerts.
import { readFileSync } from 'node:fs'
import { join } from 'node:path'
import { afterAll, afterEach, beforeEach, describe, expect, it } from 'vitest'
import { Courier } from '../lib/notify/courier.ts'
import { sinksOf } from '../lib/notify/sinks.ts'
import { testApp } from './support/app.ts'
import { alertmanagerVersion, startAlertmanager, waitFor } from './support/alertmanager.ts'
import { type RunningServer, ROOT, startServer, tempDataDir } from './support/server.ts'
import { type WebhookReceiver, startWebhookReceiver } from './support/webhook-receiver.ts'
import { startWranglerDev } from './support/wrangler.ts'

const T0 = Date.UTC(2027, 3, 1, 9, 0, 0)
let now = T0
const advance = (seconds: number) => (now += seconds * 1000)
beforeEach(() => {
  now = T0
})

const receivers: WebhookReceiver[] = []
const servers: RunningServer[] = []
afterEach(async () => {
  for (const server of servers.splice(0)) if (server.child.exitCode === null) await server.kill()
})
afterAll(async () => {
  for (const receiver of receivers) await receiver.close()
})
async function receiver(): Promise<WebhookReceiver> {
  const r = await startWebhookReceiver()
  receivers.push(r)
  return r
}

/** The README's verification snippet, run as it is written there. */
async function readmeVerifier(): Promise<(secret: string, header: string | undefined, body: string) => boolean> {
  const readme = readFileSync(join(ROOT, 'README.md'), 'utf8')
  const block = /<!-- verify-webhook[^>]*-->\n```js\n([\s\S]*?)```/.exec(readme)
  if (!block) throw new Error('the README has no verify-webhook block')
  const module = await import(`data:text/javascript,${encodeURIComponent(block[1]!)}`)
  return module.verifyPulsegate
}

/** The app over a memory store with the injected clock, and the courier the servers run, delivering for real. */
async function notifying(env: Record<string, string>) {
  const harness = testApp(() => now, { RATE_LIMIT_PER_SECOND: '0', ...env })
  const courier = new Courier(harness.store, sinksOf(harness.settings, { clock: () => now }), { clock: () => now, random: () => 1 })
  const tick = async () => {
    await harness.store.sweep(now)
    return courier.drain()
  }
  return { ...harness, courier, tick }
}

describe('the policy, delivered to a real receiver', () => {
  it('tells down after NOTIFY_AFTER_SECONDS and up after it, and nothing of a flap within them', async () => {
    const hook = await receiver()
    const { post, tick } = await notifying({ WEBHOOK_URL: hook.url, PUBLIC_URL: 'https://pulsegate.example.com' })
    await post({ agent: 'web-1', status: 'ok', labels: { team: 'storage' } })
    await post({ agent: 'flappy', status: 'degraded' })
    advance(5)
    await post({ agent: 'web-1', status: 'degraded', message: 'disk 97% full' })
    await post({ agent: 'flappy', status: 'ok' }) // 5 s after it went down: never told
    advance(29)
    expect(await tick()).toBe(0)
    advance(1)
    expect(await tick()).toBe(1)
    advance(60)
    await post({ agent: 'web-1', status: 'ok' })
    expect(await tick()).toBe(1)
    expect(hook.received.map((r) => r.json)).toEqual([
      {
        id: expect.stringMatching(/^\d{17}-down$/), kind: 'down', at: new Date(T0 + 5000).toISOString(), agent: 'web-1', component: 'main',
        from: 'ok', to: 'degraded', reason: 'disk 97% full', labels: { team: 'storage' }, since: new Date(T0 + 5000).toISOString(),
        url: 'https://pulsegate.example.com/status/web-1',
      },
      {
        id: expect.stringMatching(/^\d{17}-up$/), kind: 'up', at: new Date(T0 + 95_000).toISOString(), agent: 'web-1', component: 'main',
        from: 'degraded', to: 'recovering', reason: null, labels: { team: 'storage' }, since: new Date(T0 + 5000).toISOString(),
        url: 'https://pulsegate.example.com/status/web-1',
      },
    ])
    expect(hook.received.map((r) => [r.headers['pulsegate-event'], r.headers['pulsegate-delivery']])).toEqual(
      hook.received.map((r) => [r.json.kind, r.json.id]),
    )
  })

  it('sends one fleet-wide notification when 1,000 agents go silent at once', async () => {
    const hook = await receiver()
    const { post, tick, json } = await notifying({ WEBHOOK_URL: hook.url, MAX_AGENTS: '0' })
    const agents = Array.from({ length: 1000 }, (_, i) => `host-${String(i).padStart(4, '0')}`)
    for (let i = 0; i < agents.length; i += 100) {
      await post(agents.slice(i, i + 100).map((agent) => ({ agent, status: 'ok', interval_seconds: 60, grace_seconds: 0 })))
    }
    advance(61) // every deadline passed; the path to pulsegate is down, not a thousand hosts
    await tick()
    advance(60)
    await tick()
    expect(hook.received.map((r) => r.json.kind)).toEqual(['fleet'])
    expect(hook.received[0]!.json).toMatchObject({ missed: { agents: 1000, of: 1000, sample: agents.slice(0, 10) } })
    expect((await json('/v1/notifications')).body.fleet_silence).toEqual({ since: new Date(T0 + 60_000).toISOString(), agents: 1000 })
    // They come back: nothing is told of them, and the silence ends at the next sweep.
    for (let i = 0; i < agents.length; i += 100) await post(agents.slice(i, i + 100).map((agent) => ({ agent, status: 'ok' })))
    await tick()
    expect(hook.received).toHaveLength(1)
    expect((await json('/v1/notifications')).body.fleet_silence).toBeNull()
  }, 60_000)

  it('holds back a silenced agent, tells what is still down when the silence is lifted, and reminds', async () => {
    const hook = await receiver()
    const { post, tick, json, request } = await notifying({ WEBHOOK_URL: hook.url, NOTIFY_REPEAT_SECONDS: '600', WEBHOOK_FORMAT: 'slack' })
    const silence = await json('/v1/agents/db-1/silence', {
      method: 'POST',
      headers: { 'Content-Type': 'application/json' },
      body: JSON.stringify({ for_seconds: 3600, reason: 'kernel upgrade' }),
    })
    expect(silence).toMatchObject({ status: 200, body: { agent: 'db-1', until: new Date(T0 + 3_600_000).toISOString(), reason: 'kernel upgrade' } })
    await post({ agent: 'db-1', status: 'degraded', message: 'rebooting', interval_seconds: 7200 })
    advance(120)
    await tick()
    expect(hook.received).toEqual([])
    expect((await json('/v1/notifications')).body.silences).toEqual([
      { agent: 'db-1', until: new Date(T0 + 3_600_000).toISOString(), reason: 'kernel upgrade', at: new Date(T0).toISOString() },
    ])
    expect((await request('/v1/agents/db-1/silence', { method: 'DELETE' })).status).toBe(200)
    expect((await json('/v1/agents/db-1/silence', { method: 'DELETE' })).body.error.code).toBe('not_silenced')
    await tick()
    advance(600)
    await tick()
    expect(hook.received.map((r) => r.json)).toEqual([
      { text: 'db-1/main is degraded: rebooting (since 2027-04-01 09:00 UTC)' },
      { text: 'db-1/main is still degraded: rebooting (since 2027-04-01 09:00 UTC)' },
    ])
  })

  it.each([
    [{}, ['']],
    [{ until: '2027-04-01T08:00:00Z' }, ['until']],
    [{ for_seconds: 0 }, ['for_seconds']],
    [{ for_seconds: 60, until: '2027-04-01T10:00:00Z' }, ['']],
    [{ for_seconds: 60, bogus: 1 }, ['']],
  ])('refuses the silence %j with 400 invalid_silence, storing nothing', async (body, paths) => {
    const { json } = await notifying({})
    const answer = await json('/v1/agents/db-1/silence', { method: 'POST', headers: { 'Content-Type': 'application/json' }, body: JSON.stringify(body) })
    expect(answer.status).toBe(400)
    expect(answer.body.error.code).toBe('invalid_silence')
    expect(answer.body.error.issues.map((i: any) => i.path.join('.'))).toEqual(paths)
    expect((await json('/v1/notifications')).body.silences).toEqual([])
  })
})

describe('the Node server delivering webhooks', () => {
  const SECRET = 'whsec_0123456789abcdef0123456789abcdef'

  it('signs every delivery as the README says, and a receiver down for a while gets every one, each id the same on every try', async () => {
    const hook = await receiver()
    const verify = await readmeVerifier()
    const server = await startServer({ WEBHOOK_URL: hook.url, WEBHOOK_SECRET: SECRET, NOTIFY_AFTER_SECONDS: '0' })
    servers.push(server)
    const beat = (body: unknown) => fetch(`${server.url}/v1/heartbeat`, { method: 'POST', headers: { 'Content-Type': 'application/json' }, body: JSON.stringify(body) })
    hook.answer(503)
    await beat({ agent: 'web-1', status: 'degraded', message: 'disk full' })
    await beat({ agent: 'web-1', status: 'ok' })
    await waitFor('two failed attempts', () => hook.received.length >= 2)
    hook.answer(200)
    await waitFor('the down and the up', () => hook.received.filter((r) => r.answered === 200).length >= 2, { timeoutMs: 30_000 })
    const taken = hook.received.filter((r) => r.answered === 200)
    expect(taken.map((r) => r.json.kind)).toEqual(['down', 'up'])
    // Each try of the down carried the same id; the up waited for the down.
    const downs = hook.received.filter((r) => r.json.kind === 'down')
    expect(new Set(downs.map((r) => r.headers['pulsegate-delivery'])).size).toBe(1)
    expect(hook.received.findIndex((r) => r.json.kind === 'up')).toBeGreaterThan(hook.received.findIndex((r) => r.answered === 200 && r.json.kind === 'down'))
    for (const r of hook.received) expect(verify(SECRET, r.headers['pulsegate-signature'] as string, r.body)).toBe(true)
    expect(verify(SECRET, hook.received[0]!.headers['pulsegate-signature'] as string, hook.received[0]!.body.replace('disk', 'DISK'))).toBe(false)
    expect(verify('another-secret-0123456789', hook.received[0]!.headers['pulsegate-signature'] as string, hook.received[0]!.body)).toBe(false)
    const status = (await (await fetch(`${server.url}/v1/notifications`)).json()) as any
    expect(status.sinks).toEqual([
      expect.objectContaining({ sink: expect.stringMatching(/^webhook:127\.0\.0\.1:\d+$/), pending: 0, last_error: expect.stringMatching(/answered 503: down for a while$/) }),
    ])
    const metrics = await (await fetch(`${server.url}/metrics`)).text()
    expect(metrics).toMatch(/^pulsegate_notifications_total\{sink="webhook:127\.0\.0\.1:\d+",result="delivered"\} 2$/m)
    expect(metrics).toMatch(/^pulsegate_notifications_total\{sink="webhook:127\.0\.0\.1:\d+",result="failed"\} [1-9]\d*$/m)
    expect(metrics).toMatch(/^pulsegate_notifications_oldest_pending_seconds 0$/m)
  }, 60_000)

  it('delivers what was pending after a kill -9, once it is back', async () => {
    const hook = await receiver()
    const dataDir = tempDataDir()
    const env = { WEBHOOK_URL: hook.url, NOTIFY_AFTER_SECONDS: '0' }
    const first = await startServer(env, dataDir)
    servers.push(first)
    hook.answer(503)
    const answer = await fetch(`${first.url}/v1/heartbeat`, {
      method: 'POST',
      headers: { 'Content-Type': 'application/json' },
      body: JSON.stringify([{ agent: 'a', status: 'degraded' }, { agent: 'b', status: 'degraded' }]),
    })
    expect(answer.status).toBe(200) // acknowledged: the notifications owed for it are stored with it
    await waitFor('a failed attempt', () => hook.received.length >= 1)
    await first.kill()
    hook.answer(200)
    const second = await startServer(env, dataDir)
    servers.push(second)
    await waitFor('both downs', () => new Set(hook.received.filter((r) => r.answered === 200).map((r) => r.json.agent)).size === 2, { timeoutMs: 30_000 })
    expect(hook.received.filter((r) => r.answered === 200).map((r) => [r.json.kind, r.json.agent]).sort()).toEqual([['down', 'a'], ['down', 'b']])
  }, 60_000)
})

describe.skipIf(!alertmanagerVersion() && !process.env.CI)('the Node server and real Alertmanagers', () => {
  it('an HA pair both get the alert with its labels, keep it firing on re-sends, and resolve it on recovery', async () => {
    const pair = [await startAlertmanager(), await startAlertmanager()]
    try {
      const server = await startServer({
        ALERTMANAGER_URL: pair.map((am) => am.url).join(','),
        ALERTMANAGER_RESEND_SECONDS: '1',
        NOTIFY_AFTER_SECONDS: '0',
        PUBLIC_URL: 'https://pulsegate.example.com',
      })
      servers.push(server)
      const beat = (body: unknown) => fetch(`${server.url}/v1/heartbeat`, { method: 'POST', headers: { 'Content-Type': 'application/json' }, body: JSON.stringify(body) })
      await beat({ agent: 'db-1', component: 'postgres', status: 'degraded', message: 'replication lag 40 s', labels: { team: 'storage', region: 'eu' } })
      const alerts = (am: (typeof pair)[number]) => fetch(`${am.url}/api/v2/alerts`).then((r) => r.json()) as Promise<any[]>
      for (const am of pair) {
        const alert = await waitFor('the alert in Alertmanager', async () => (await alerts(am)).find((a) => a.labels.agent === 'db-1'))
        expect(alert.labels).toEqual({ alertname: 'PulsegateComponentDown', agent: 'db-1', component: 'postgres', state: 'degraded', severity: 'critical', team: 'storage', region: 'eu' })
        expect(alert.annotations.description).toBe('replication lag 40 s')
        expect(alert.generatorURL).toBe('https://pulsegate.example.com/status/db-1')
        expect(alert.status.state).toBe('active')
        const firing = await waitFor('the alert through the route', () => am.received.find((b) => b.status === 'firing' && b.alerts.some((a) => a.labels.agent === 'db-1')))
        expect(firing.alerts[0]!.labels.team).toBe('storage')
      }
      // Re-sends keep pushing its end ahead.
      const endsAt = Date.parse((await alerts(pair[0]!)).find((a) => a.labels.agent === 'db-1').endsAt)
      await waitFor('a re-send', async () => Date.parse((await alerts(pair[0]!)).find((a) => a.labels.agent === 'db-1')?.endsAt ?? '0') > endsAt)
      await beat({ agent: 'db-1', component: 'postgres', status: 'ok' })
      for (const am of pair) {
        await waitFor('the resolved notification', () => am.received.find((b) => b.status === 'resolved' && b.alerts.some((a) => a.labels.agent === 'db-1')), { timeoutMs: 30_000 })
      }
    } finally {
      for (const am of pair) await am.stop()
    }
  }, 90_000)
})

describe('wrangler dev', () => {
  it("delivers a degraded component to a webhook from the Durable Object's alarm", async () => {
    const hook = await receiver()
    const worker = await startWranglerDev({ WEBHOOK_URL: hook.url, NOTIFY_AFTER_SECONDS: '1', PUBLIC_URL: 'https://pulsegate.example.com' })
    try {
      const answer = await fetch(`${worker.url}/v1/heartbeat`, {
        method: 'POST',
        headers: { 'Content-Type': 'application/json' },
        body: JSON.stringify({ agent: 'edge-1', status: 'degraded', message: 'origin unreachable' }),
      })
      expect(answer.status).toBe(200)
      const [down] = await waitFor('the down from the object', () => hook.received.length > 0 && hook.received, { timeoutMs: 30_000 })
      expect(down!.json).toMatchObject({ kind: 'down', agent: 'edge-1', reason: 'origin unreachable', url: 'https://pulsegate.example.com/status/edge-1' })
      expect(Date.parse(down!.json.at) + 1000).toBeLessThanOrEqual(down!.at) // not before NOTIFY_AFTER_SECONDS
    } finally {
      await worker.stop()
    }
  }, 90_000)
})
