// The sinks the settings name: a webhook per WEBHOOK_URL and an Alertmanager per
// ALERTMANAGER_URL (an HA pair is two URLs: each gets every alert), with the link
// back to the status page when PUBLIC_URL says where pulsegate is reached.
import type { Settings } from '../settings.ts'
import { alertOf, postAlerts } from './alertmanager.ts'
import type { ResendSink } from './courier.ts'
import { sinkName } from './notification.ts'
import type { Sink, SinkOptions } from './sink.ts'
import { webhookSink } from './webhook.ts'

type SinkSettings = Pick<
  Settings,
  'webhookUrls' | 'webhookSecret' | 'webhookFormat' | 'alertmanagerUrls' | 'alertmanagerResendSeconds' | 'publicUrl' | 'statusPage'
>

/** The status page of an agent (the fleet's for ''), or null when pulsegate does not know its own URL or serves no page. */
export function statusLink(settings: Pick<Settings, 'publicUrl' | 'statusPage'>): (agent: string) => string | null {
  const base = settings.statusPage === 'off' ? undefined : settings.publicUrl
  return (agent) => (base === undefined ? null : agent === '' ? `${base}/status` : `${base}/status/${encodeURIComponent(agent)}`)
}

export function alertmanagerSink(url: string, options: SinkOptions & { resendMs: number }): ResendSink {
  const clock = options.clock ?? Date.now
  const statusUrl = options.statusUrl ?? (() => null)
  const post = (notifications: readonly Parameters<typeof alertOf>[0][]) => {
    const now = clock()
    return postAlerts(url, notifications.map((n) => alertOf(n, { statusUrl, resendMs: options.resendMs, now })), options)
  }
  return { name: sinkName('alertmanager', url), deliver: (n) => post([n]), resend: post }
}

export function sinksOf(settings: SinkSettings, options: Omit<SinkOptions, 'statusUrl'> = {}): Sink[] {
  const statusUrl = statusLink(settings)
  return [
    ...settings.webhookUrls.map((url) => webhookSink(url, { ...options, statusUrl, secret: settings.webhookSecret, format: settings.webhookFormat })),
    ...settings.alertmanagerUrls.map((url) => alertmanagerSink(url, { ...options, statusUrl, resendMs: settings.alertmanagerResendSeconds * 1000 })),
  ]
}
