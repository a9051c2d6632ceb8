// The settings of notifications: where they go (WEBHOOK_URL, ALERTMANAGER_URL),
// how they are signed and shaped, and the policy that keeps them few
// (NOTIFY_AFTER_SECONDS, NOTIFY_REPEAT_SECONDS, the fleet-wide silence).
// lib/settings.ts spreads the schema into what every runtime reads.
import { z } from 'zod'
import type { NotifySettings } from '../stores/plan-notify.ts'
import { type SinkKind, sinkName } from './notification.ts'
import type { WebhookFormat } from './webhook.ts'

const isHttpUrl = (value: string) => {
  try {
    const url = new URL(value)
    return (url.protocol === 'http:' || url.protocol === 'https:') && url.username === '' && url.password === ''
  } catch {
    return false
  }
}

const urls = z
  .string()
  .optional()
  .transform((value) => (value ?? '').split(',').map((u) => u.trim()).filter(Boolean))
  .refine((list) => list.every(isHttpUrl), { message: 'list http:// or https:// URLs, comma-separated, with no user:password@' })
  .refine((list) => new Set(list).size === list.length, { message: 'lists a URL twice' })

const seconds = (fallback: number, max: number) => z.coerce.number().finite().min(0).max(max).default(fallback)

export const NOTIFY_SCHEMA = {
  WEBHOOK_URL: urls,
  WEBHOOK_SECRET: z.string().min(16, 'must be at least 16 characters (e.g. openssl rand -hex 32)').optional(),
  WEBHOOK_FORMAT: z.enum(['json', 'slack']).default('json'),
  ALERTMANAGER_URL: urls,
  ALERTMANAGER_RESEND_SECONDS: z.coerce.number().finite().min(1).max(3600).default(60),
  NOTIFY_AFTER_SECONDS: seconds(30, 86_400),
  NOTIFY_REPEAT_SECONDS: seconds(0, 7 * 86_400),
  NOTIFY_MASS_SHARE: z.coerce.number().finite().min(0).max(1).default(0.5),
  NOTIFY_MASS_MIN_AGENTS: z.coerce.number().int().min(2).default(10),
  PUBLIC_URL: z
    .string()
    .optional()
    .refine((value) => value === undefined || isHttpUrl(value), { message: 'must be the http(s) URL pulsegate is reached at, e.g. https://pulsegate.example.com' })
    .transform((value) => value?.replace(/\/+$/, '')),
}

export interface NotificationSettings {
  webhookUrls: string[]
  webhookSecret: string | undefined
  webhookFormat: WebhookFormat
  alertmanagerUrls: string[]
  alertmanagerResendSeconds: number
  /** Where people reach pulsegate: the links notifications carry to the status page. */
  publicUrl: string | undefined
  /** What the store engine plans by: the sinks, and the policy. */
  notify: NotifySettings
}

type Parsed = z.infer<z.ZodObject<typeof NOTIFY_SCHEMA>>

export function notificationSettings(s: Parsed): NotificationSettings {
  const sinks = (kind: SinkKind, list: string[]) => list.map((url) => sinkName(kind, url))
  return {
    webhookUrls: s.WEBHOOK_URL,
    webhookSecret: s.WEBHOOK_SECRET,
    webhookFormat: s.WEBHOOK_FORMAT,
    alertmanagerUrls: s.ALERTMANAGER_URL,
    alertmanagerResendSeconds: s.ALERTMANAGER_RESEND_SECONDS,
    publicUrl: s.PUBLIC_URL,
    notify: {
      sinks: [...sinks('webhook', s.WEBHOOK_URL), ...sinks('alertmanager', s.ALERTMANAGER_URL)],
      notifyAfterSeconds: s.NOTIFY_AFTER_SECONDS,
      notifyRepeatSeconds: s.NOTIFY_REPEAT_SECONDS,
      massShare: s.NOTIFY_MASS_SHARE,
      massMinAgents: s.NOTIFY_MASS_MIN_AGENTS,
    },
  }
}
