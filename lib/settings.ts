// Settings come from env vars (wrangler vars and secrets on Workers) and are
// validated once at start: a bad value stops the start with a message naming it.
import { z } from 'zod'
import { DIAGNOSTICS_SCHEMA, type DiagnosticsSettings, checkTlsPair, diagnosticsSettings } from './diagnostics-settings.ts'
import { MAX_LABEL_NAME, RESERVED_LABELS } from './heartbeat.ts'
import type { HistorySettings } from './history.ts'
import type { Limits } from './limits.ts'
import { NOTIFY_SCHEMA, type NotificationSettings, notificationSettings } from './notify/settings.ts'
import type { ReadinessSettings } from './readiness.ts'

const cap = (fallback: number) => z.coerce.number().int().min(0).default(fallback)
const seconds = (fallback: number) => z.coerce.number().finite().min(0).default(fallback)
// A token setting may hold several tokens, comma-separated, so one can be rotated without downtime.
// A bearer token must be token68 (RFC 7235), or no Authorization header could carry it.
// A value that lists no token at all (",") is refused: it would turn authentication off without a word.
const tokens = z
  .string()
  .optional()
  .refine((value) => value === undefined || value.split(',').some((t) => t.trim() !== ''), {
    message: 'lists no token (only commas and blanks); unset it to run without one',
  })
  .transform((value) => (value ?? '').split(',').map((t) => t.trim()).filter(Boolean))
  .refine((list) => list.every((t) => /^[A-Za-z0-9._~+/-]+=*$/.test(t)), {
    message: 'a token may hold only letters, digits and . _ ~ + / - (then = padding)',
  })

const { LOG_SEVERITY, LOG_FORMAT, ...processDiagnostics } = DIAGNOSTICS_SCHEMA

/** Exactly what a browser sends as Origin for a web page: http(s)://host[:port], nothing after it. */
function isOrigin(text: string): boolean {
  try {
    return /^https?:\/\//.test(text) && new URL(text).origin === text
  } catch {
    return false
  }
}

// Origins a browser page may call from: `*`, or each as a browser's Origin header says it.
const origins = z
  .string()
  .optional()
  .transform((value) => (value ?? '').split(',').map((o) => o.trim()).filter(Boolean))
  .refine((list) => list.every((o) => o === '*' || isOrigin(o)), {
    message: 'list origins as http(s)://host[:port] (no path, no trailing slash), or *',
  })

// Ping URL keys: each a path segment (healthchecks.io's are 22 characters of base64url), and long
// enough that it cannot be guessed, since it is all that guards a ping URL.
const pingKeys = z
  .string()
  .optional()
  .refine((value) => value === undefined || value.split(',').some((k) => k.trim() !== ''), {
    message: 'lists no key (only commas and blanks); unset it to turn the ping URLs off',
  })
  .transform((value) => (value ?? '').split(',').map((k) => k.trim()).filter(Boolean))
  .refine((list) => list.every((k) => /^[A-Za-z0-9_-]{16,128}$/.test(k)), {
    message: 'a key is 16–128 of A-Z a-z 0-9 _ - (e.g. openssl rand -hex 16)',
  })

/** The label pulsegate_component_info gives heartbeat label `name`: kube-state-metrics' rule for kube_pod_labels. */
export function infoLabelName(name: string): string {
  return `label_${name.replace(/[^a-zA-Z0-9_]/g, '_')}`
}

/** A name a heartbeat's labels may hold: lib/heartbeat.ts's rule; a name no heartbeat can carry would only ever be "". */
function isHeartbeatLabelName(name: string): boolean {
  return name.length <= MAX_LABEL_NAME && /^[a-zA-Z_][a-zA-Z0-9_]*$/.test(name) && !name.startsWith('__') && !RESERVED_LABELS.has(name)
}

// Heartbeat label names exported on pulsegate_component_info. Few: each lengthens every component's series.
const MAX_METRICS_LABELS = 10
const metricsLabels = z
  .string()
  .optional()
  .refine((value) => value === undefined || value.split(',').some((n) => n.trim() !== ''), {
    message: 'lists no label name (only commas and blanks); unset it to export no pulsegate_component_info',
  })
  .transform((value) => (value ?? '').split(',').map((n) => n.trim()).filter(Boolean))
  .superRefine((names, ctx) => {
    if (names.length > MAX_METRICS_LABELS) ctx.addIssue({ code: 'custom', message: `lists ${names.length} label names, at most ${MAX_METRICS_LABELS}` })
    const exported = new Map<string, string>()
    for (const name of names) {
      if (!isHeartbeatLabelName(name)) {
        ctx.addIssue({
          code: 'custom',
          message: `${JSON.stringify(name)} is not a label name a heartbeat may carry ([a-zA-Z_][a-zA-Z0-9_]*, at most ${MAX_LABEL_NAME}, not __…, agent, component or version)`,
        })
        continue
      }
      const first = exported.get(infoLabelName(name))
      if (first === undefined) exported.set(infoLabelName(name), name)
      else ctx.addIssue({ code: 'custom', message: first === name ? `lists ${JSON.stringify(name)} twice` : `${JSON.stringify(first)} and ${JSON.stringify(name)} would both be ${infoLabelName(name)}` })
    }
  })

/** What every runtime reads. */
const commonSettings = {
  LOG_SEVERITY,
  LOG_FORMAT,
  HEARTBEAT_TOKEN: tokens,
  METRICS_TOKEN: tokens,
  METRICS_LABELS: metricsLabels,
  READ_TOKEN: tokens,
  STATUS_PAGE: z.enum(['public', 'token', 'off']).default('public'),
  STATUS_PAGE_DETAILS: z.enum(['true', 'false']).optional(),
  PING_KEY: pingKeys,
  RECOVERY_SECONDS: seconds(10),
  DEFAULT_INTERVAL_SECONDS: z.coerce.number().finite().positive().max(86_400).default(60),
  EXPIRE_SECONDS: seconds(3600),
  MAX_AGENTS: cap(10_000),
  MAX_COMPONENTS_PER_AGENT: cap(32),
  MAX_COMPONENTS: cap(50_000),
  MAX_VERSIONS: cap(100),
  RATE_LIMIT_PER_SECOND: z.coerce.number().finite().min(0).default(10),
  HISTORY_DAYS: z.coerce.number().int().min(1).max(366).default(30),
  HISTORY_PER_COMPONENT: z.coerce.number().int().min(10).max(10_000).default(100),
  ...NOTIFY_SCHEMA,
  CORS_ORIGINS: origins,
}

/** What only a runtime that runs its own server reads (Node, Bun, Deno). */
const serverSettings = {
  PORT: z.coerce.number().int().min(0).max(65_535).default(8787),
  HOST: z.string().min(1).default('127.0.0.1'),
  DATA_DIR: z.string().min(1).default('./data'),
  SWEEP_SECONDS: z.coerce.number().finite().positive().max(86_400).default(60),
  ALLOW_UNAUTHENTICATED: z.enum(['true', 'false']).default('false'),
  SQLITE_SYNCHRONOUS: z.enum(['FULL', 'NORMAL']).default('FULL'),
  ...processDiagnostics,
}

/** What only Cloudflare Workers read. */
const workersSettings = {
  PROBE_SOURCE: z.enum(['do', 'cache']).default('do'),
  COPY_MAX_AGE_SECONDS: z.coerce.number().finite().positive().max(3600).default(5),
  SHARDS: z.coerce.number().int().min(1).max(64).default(1),
}

/** Where settings are read: a runtime validates what it uses, and leaves the rest at its default. */
export type Runtime = 'server' | 'workers'

const schemas = {
  server: z.object({ ...commonSettings, ...serverSettings }),
  workers: z.object({ ...commonSettings, ...workersSettings }),
}

/** The names a runtime reads, for tools that check a configuration (npm run check). */
export function settingNames(runtime: Runtime): string[] {
  return Object.keys(schemas[runtime].shape)
}

const defaults = {
  server: z.object(workersSettings).parse({}),
  workers: z.object(serverSettings).parse({}),
}

export interface Settings extends ReadinessSettings, HistorySettings, DiagnosticsSettings, NotificationSettings {
  port: number
  host: string
  dataDir: string
  heartbeatTokens: string[]
  metricsTokens: string[]
  /** Heartbeat label names /metrics exports on pulsegate_component_info (as label_<name>); none: no such family. */
  metricsLabels: string[]
  /** Tokens for reading agents and history (GET /v1/agents…, /v1/events…); none: reads are open. */
  readTokens: string[]
  /** /status and the badges: for anyone, for holders of a READ_TOKEN, or not served. */
  statusPage: 'public' | 'token' | 'off'
  /** The status pages show messages, labels, pids and versions (not only states and built-in reasons). */
  statusPageDetails: boolean
  /** Keys of the ping URLs (/ping/{key}/{slug}); none: the ping URLs are off. */
  pingKeys: string[]
  /** How often a long-running server drops expired components (state is right without it). */
  sweepSeconds: number
  /** Workers only: probes ask the Durable Object, or a copy of its answer cached where the Worker runs. */
  probeSource: 'do' | 'cache'
  /** Workers only: how old a cached copy may be before the Durable Object is asked again. */
  copyMaxAgeSeconds: number
  /** Workers only: how many Durable Objects the fleet is spread over. */
  shards: number
  limits: Limits
  /** Listen beyond loopback without HEARTBEAT_TOKEN (otherwise the start is refused). */
  allowUnauthenticated: boolean
  /** Origins whose pages may call the API (CORS); `*` any; none: no CORS headers. */
  corsOrigins: string[]
  /** SQLite stores: FULL survives power loss, NORMAL only process crashes (see lib/stores/sqlite-file.ts). */
  synchronous: 'FULL' | 'NORMAL'
}

/** A reason not to start, said in one line to whoever started the server. */
export class StartError extends Error {
  name = 'StartError'
}

export class SettingsError extends StartError {
  name = 'SettingsError'
}

/**
 * Read settings from an env-like record, as `runtime` uses them; empty or blank
 * values count as unset. A setting the runtime does not use is not validated:
 * Workers never listen on PORT, and a server never reads SHARDS.
 */
export function loadSettings(env: Record<string, unknown> = {}, runtime: Runtime = 'server'): Settings {
  const names = new Set(settingNames(runtime))
  const present = Object.fromEntries(
    Object.entries(env).filter(([name, value]) => names.has(name) && value !== undefined && String(value).trim() !== ''),
  )
  const result = schemas[runtime].safeParse(present)
  if (!result.success) {
    const problems = result.error.issues.map((issue) => `${issue.path.join('.')}: ${issue.message}`)
    throw new SettingsError(`invalid setting ${problems.join('; ')}`)
  }
  const s = { ...defaults[runtime], ...result.data } as z.infer<typeof schemas.server> & z.infer<typeof schemas.workers>
  const tlsProblem = checkTlsPair(s)
  if (tlsProblem) throw new SettingsError(`invalid setting ${tlsProblem}`)
  if (s.STATUS_PAGE === 'token' && s.READ_TOKEN.length === 0) {
    throw new SettingsError('invalid setting STATUS_PAGE: token needs READ_TOKEN (the token that opens the pages)')
  }
  return {
    port: s.PORT,
    host: s.HOST,
    dataDir: s.DATA_DIR,
    heartbeatTokens: s.HEARTBEAT_TOKEN,
    metricsTokens: s.METRICS_TOKEN,
    metricsLabels: s.METRICS_LABELS,
    readTokens: s.READ_TOKEN,
    statusPage: s.STATUS_PAGE,
    // A page behind a token is for the team: it shows what agents said, unless told not to.
    statusPageDetails: (s.STATUS_PAGE_DETAILS ?? (s.STATUS_PAGE === 'token' ? 'true' : 'false')) === 'true',
    pingKeys: s.PING_KEY,
    recoverySeconds: s.RECOVERY_SECONDS,
    defaultIntervalSeconds: s.DEFAULT_INTERVAL_SECONDS,
    expireSeconds: s.EXPIRE_SECONDS,
    historyDays: s.HISTORY_DAYS,
    historyPerComponent: s.HISTORY_PER_COMPONENT,
    sweepSeconds: s.SWEEP_SECONDS,
    probeSource: s.PROBE_SOURCE,
    copyMaxAgeSeconds: s.COPY_MAX_AGE_SECONDS,
    shards: s.SHARDS,
    limits: {
      maxAgents: s.MAX_AGENTS,
      maxComponentsPerAgent: s.MAX_COMPONENTS_PER_AGENT,
      maxComponents: s.MAX_COMPONENTS,
      maxVersions: s.MAX_VERSIONS,
      ratePerSecond: s.RATE_LIMIT_PER_SECOND,
    },
    allowUnauthenticated: s.ALLOW_UNAUTHENTICATED === 'true',
    synchronous: s.SQLITE_SYNCHRONOUS,
    ...diagnosticsSettings(s),
    ...notificationSettings(s),
    corsOrigins: s.CORS_ORIGINS,
  }
}

/** A loopback address: reachable from this machine only. */
export function isLoopback(host: string): boolean {
  return host === 'localhost' || host === '::1' || /^127(\.\d{1,3}){3}$/.test(host)
}

/**
 * For servers that listen (Node, Bun, Deno): anyone who can reach a listener
 * beyond loopback could push heartbeats, so that needs a token, or an explicit
 * ALLOW_UNAUTHENTICATED=true.
 */
export function checkExposure(settings: Settings): void {
  if (isLoopback(settings.host) || settings.heartbeatTokens.length > 0 || settings.allowUnauthenticated) return
  throw new SettingsError(
    `HOST=${settings.host} accepts heartbeats from other machines, but HEARTBEAT_TOKEN is unset; ` +
      'set a token, or ALLOW_UNAUTHENTICATED=true to accept anyone',
  )
}
