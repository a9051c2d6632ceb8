// The webhook sink: one JSON POST per notification, or Slack's `{"text"}` (which
// Mattermost and Rocket.Chat accept too), signed with the Stripe scheme when a
// secret is set: `Pulsegate-Signature: t=<unix seconds>,v1=<hex HMAC-SHA256 of
// "<t>.<raw body>">`. Portable: fetch and WebCrypto only.
import { type Notification, hostOf, sinkName } from './notification.ts'
import { deliver, type Sink, type SinkOptions } from './sink.ts'

export type WebhookFormat = 'json' | 'slack'

export interface WebhookOptions extends SinkOptions {
  secret?: string | undefined
  format?: WebhookFormat
}

const iso = (ms: number) => new Date(ms).toISOString()

/** The JSON body: what happened, to what, since when, and where to look. */
export function webhookBody(n: Notification, statusUrl: string | null) {
  return {
    id: n.id,
    kind: n.kind,
    at: iso(n.at),
    agent: n.agent,
    component: n.component,
    from: n.from,
    to: n.to,
    reason: n.reason,
    labels: n.labels,
    since: iso(n.since),
    url: statusUrl,
    ...(n.missed ? { missed: n.missed } : {}),
  }
}

/** One line a person reads in a chat: what, how it stands, why, since when, and the link. */
export function slackText(n: Notification, statusUrl: string | null): string {
  const subject = `${n.agent}/${n.component}`
  const why = n.reason ? `: ${n.reason}` : ''
  const since = new Date(n.since).toISOString().slice(0, 16).replace('T', ' ') + ' UTC'
  const line =
    n.kind === 'fleet' ? `Fleet-wide silence${why}`
    : n.kind === 'up' ? `${subject} is ${n.to ?? 'gone'} again (down since ${since})`
    : n.kind === 'reminder' ? `${subject} is still ${n.to}${why} (since ${since})`
    : `${subject} is ${n.to}${why} (since ${since})`
  return statusUrl ? `${line} <${statusUrl}>` : line
}

const hex = (bytes: ArrayBuffer) => [...new Uint8Array(bytes)].map((b) => b.toString(16).padStart(2, '0')).join('')

/** The Pulsegate-Signature header value of `body`, signed at `t` (unix seconds). */
export async function signature(secret: string, t: number, body: string): Promise<string> {
  const key = await crypto.subtle.importKey('raw', new TextEncoder().encode(secret), { name: 'HMAC', hash: 'SHA-256' }, false, ['sign'])
  const mac = await crypto.subtle.sign('HMAC', key, new TextEncoder().encode(`${t}.${body}`))
  return `t=${t},v1=${hex(mac)}`
}

export function webhookSink(url: string, options: WebhookOptions = {}): Sink {
  const format = options.format ?? 'json'
  const clock = options.clock ?? Date.now
  return {
    name: sinkName('webhook', url),
    async deliver(n) {
      const link = options.statusUrl?.(n.agent) ?? null
      const body = JSON.stringify(format === 'slack' ? { text: slackText(n, link) } : webhookBody(n, link))
      const headers: Record<string, string> = { 'Content-Type': 'application/json', 'Pulsegate-Delivery': n.id, 'Pulsegate-Event': n.kind }
      if (options.secret) headers['Pulsegate-Signature'] = await signature(options.secret, Math.floor(clock() / 1000), body)
      await deliver(url, { method: 'POST', headers, body }, { label: `POST ${hostOf(url) ?? 'an invalid URL'}`, peer: 'the receiver' }, options)
    },
  }
}
