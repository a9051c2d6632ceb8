import { describe, expect, it } from 'vitest'
import { z } from 'zod'
import { NOTIFY_SCHEMA, notificationSettings } from '../lib/notify/settings.ts'
import { checkExposure, isLoopback, loadSettings, SettingsError } from '../lib/settings.ts'

/** Logs, traces and profiles (lib/diagnostics-settings.ts, tested in test/diagnostics-settings.test.ts), at their defaults. */
const DIAGNOSTICS = {
  logSeverity: 'info', logFormat: 'text', debug: false,
  tracing: { exporter: undefined, samplingRatePerMillion: 0, caFile: undefined, clientCertFile: undefined, clientKeyFile: undefined },
}

/** Notifications (lib/notify/settings.ts, which has tests of its own), at their defaults as that module derives them. */
const NOTIFICATIONS = notificationSettings(z.object(NOTIFY_SCHEMA).parse({}))

describe('settings', () => {
  it('has the documented defaults', () => {
    expect(loadSettings({})).toEqual({
      port: 8787, host: '127.0.0.1', dataDir: './data', heartbeatTokens: [], metricsTokens: [], metricsLabels: [], readTokens: [], pingKeys: [],
      statusPage: 'public', statusPageDetails: false,
      recoverySeconds: 10, defaultIntervalSeconds: 60, expireSeconds: 3600, historyDays: 30, historyPerComponent: 100,
      sweepSeconds: 60, probeSource: 'do',
      copyMaxAgeSeconds: 5, shards: 1,
      limits: { maxAgents: 10_000, maxComponentsPerAgent: 32, maxComponents: 50_000, maxVersions: 100, ratePerSecond: 10 },
      allowUnauthenticated: false,
      synchronous: 'FULL',
      ...DIAGNOSTICS,
      ...NOTIFICATIONS,
      corsOrigins: [],
    })
  })

  it('reads every variable, and empty strings count as unset', () => {
    expect(loadSettings({
      PORT: '9000', HOST: '0.0.0.0', DATA_DIR: '/var/lib/pulsegate', HEARTBEAT_TOKEN: 'a, b,,',
      METRICS_TOKEN: 'm', METRICS_LABELS: 'region, team,', READ_TOKEN: 'r1,r2', STATUS_PAGE: 'token', STATUS_PAGE_DETAILS: 'true', PING_KEY: '0123456789abcdef, fedcba9876543210-_', RECOVERY_SECONDS: '2.5', DEFAULT_INTERVAL_SECONDS: '5', EXPIRE_SECONDS: '0',
      HISTORY_DAYS: '7', HISTORY_PER_COMPONENT: '10', SWEEP_SECONDS: '  ', MAX_AGENTS: '0', MAX_COMPONENTS_PER_AGENT: '2',
      MAX_VERSIONS: '3', RATE_LIMIT_PER_SECOND: '0.5', ALLOW_UNAUTHENTICATED: 'true', SQLITE_SYNCHRONOUS: 'NORMAL',
      CORS_ORIGINS: 'https://status.example, http://127.0.0.1:3000,', UNRELATED: 'x',
    })).toEqual({
      port: 9000, host: '0.0.0.0', dataDir: '/var/lib/pulsegate', heartbeatTokens: ['a', 'b'], metricsTokens: ['m'], metricsLabels: ['region', 'team'],
      readTokens: ['r1', 'r2'], statusPage: 'token', statusPageDetails: true,
      pingKeys: ['0123456789abcdef', 'fedcba9876543210-_'], recoverySeconds: 2.5, defaultIntervalSeconds: 5, expireSeconds: 0,
      historyDays: 7, historyPerComponent: 10, sweepSeconds: 60, probeSource: 'do',
      copyMaxAgeSeconds: 5, shards: 1,
      limits: { maxAgents: 0, maxComponentsPerAgent: 2, maxComponents: 50_000, maxVersions: 3, ratePerSecond: 0.5 },
      allowUnauthenticated: true,
      synchronous: 'NORMAL',
      ...DIAGNOSTICS,
      ...NOTIFICATIONS,
      corsOrigins: ['https://status.example', 'http://127.0.0.1:3000'],
    })
    expect(loadSettings({ CORS_ORIGINS: '*' }).corsOrigins).toEqual(['*'])
  })

  it('names each sink the engine writes notifications for, and the policy', () => {
    const settings = loadSettings({
      WEBHOOK_URL: 'https://hooks.example.com/a, https://hooks.example.com/b', ALERTMANAGER_URL: 'http://am-0:9093,http://am-1:9093',
      NOTIFY_AFTER_SECONDS: '0', NOTIFY_REPEAT_SECONDS: '3600', NOTIFY_MASS_SHARE: '0', PUBLIC_URL: 'https://pulsegate.example.com/',
    })
    expect(settings.notify).toEqual({
      sinks: ['webhook:https://hooks.example.com/a', 'webhook:https://hooks.example.com/b', 'alertmanager:http://am-0:9093', 'alertmanager:http://am-1:9093'],
      notifyAfterSeconds: 0, notifyRepeatSeconds: 3600, massShare: 0, massMinAgents: 10,
    })
    expect(settings.publicUrl).toBe('https://pulsegate.example.com')
    expect(loadSettings({}).notify.sinks).toEqual([])
  })

  it("validates what a runtime uses and leaves the other runtime's settings at their defaults", () => {
    const workers = { PROBE_SOURCE: 'cache', COPY_MAX_AGE_SECONDS: '2', SHARDS: '4' }
    const server = { PORT: 'eighty', HOST: '', DATA_DIR: '/nope', SQLITE_SYNCHRONOUS: 'OFF' }
    expect(loadSettings({ ...workers, ...server }, 'workers')).toMatchObject({
      probeSource: 'cache', copyMaxAgeSeconds: 2, shards: 4, port: 8787, dataDir: './data', synchronous: 'FULL',
    })
    expect(() => loadSettings({ ...workers, ...server }, 'server')).toThrow(/^invalid setting PORT:/)
    expect(loadSettings({ ...workers, PORT: '9000' }, 'server')).toMatchObject({ probeSource: 'do', shards: 1, port: 9000 })
  })

  it.each([
    ['PORT', 'eighty'],
    ['PORT', '70000'],
    ['RECOVERY_SECONDS', '-1'],
    ['RECOVERY_SECONDS', 'Infinity'],
    ['DEFAULT_INTERVAL_SECONDS', '0'],
    ['EXPIRE_SECONDS', 'never'],
    ['SWEEP_SECONDS', '3000000'],
    ['MAX_AGENTS', '-1'],
    ['MAX_VERSIONS', '1.5'],
    ['RATE_LIMIT_PER_SECOND', 'fast'],
    ['ALLOW_UNAUTHENTICATED', 'yes'],
    ['SQLITE_SYNCHRONOUS', 'OFF'],
    ['HEARTBEAT_TOKEN', 'pa$$word!'],
    ['HEARTBEAT_TOKEN', ','],
    ['METRICS_TOKEN', ' , ,'],
    ['METRICS_TOKEN', 'good,with space'],
    ['HISTORY_DAYS', '0'],
    ['HISTORY_PER_COMPONENT', '5'],
    ['PING_KEY', 'short'],
    ['PING_KEY', '0123456789abcdef/slash'],
    ['PING_KEY', ' , '],
    ['CORS_ORIGINS', 'https://status.example/'],
    ['CORS_ORIGINS', 'status.example'],
    ['CORS_ORIGINS', 'https://status.example/page'],
    ['CORS_ORIGINS', 'ftp://files.example'],
    ['STATUS_PAGE', 'private'],
    ['STATUS_PAGE', 'token'],
    ['STATUS_PAGE_DETAILS', 'yes'],
    ['READ_TOKEN', 'no spaces please'],
    ['WEBHOOK_URL', 'hooks.example.com/pulsegate'],
    ['WEBHOOK_URL', 'ftp://hooks.example.com'],
    ['WEBHOOK_URL', 'https://user:pass@hooks.example.com'],
    ['WEBHOOK_URL', 'https://a.example/x, https://a.example/x'],
    ['WEBHOOK_SECRET', 'short'],
    ['WEBHOOK_FORMAT', 'teams'],
    ['ALERTMANAGER_URL', 'alertmanager:9093'],
    ['ALERTMANAGER_RESEND_SECONDS', '0'],
    ['NOTIFY_AFTER_SECONDS', '-1'],
    ['NOTIFY_REPEAT_SECONDS', 'hourly'],
    ['NOTIFY_MASS_SHARE', '1.5'],
    ['NOTIFY_MASS_MIN_AGENTS', '1'],
    ['PUBLIC_URL', 'pulsegate.example.com'],
    ['METRICS_LABELS', ' , '],
    ['METRICS_LABELS', 'region,team-name'],
    ['METRICS_LABELS', 'app.kubernetes.io/name'],
    ['METRICS_LABELS', '9lives'],
    ['METRICS_LABELS', '__meta'],
    ['METRICS_LABELS', 'component'],
    ['METRICS_LABELS', 'x'.repeat(65)],
  ])('stops on %s=%s with a message naming it', (name, value) => {
    expect(() => loadSettings({ [name]: value })).toThrow(SettingsError)
    expect(() => loadSettings({ [name]: value })).toThrow(new RegExp(`^invalid setting ${name}:`))
  })

  it.each([
    ['PROBE_SOURCE', 'kv'],
    ['COPY_MAX_AGE_SECONDS', '0'],
    ['SHARDS', '0'],
    ['RECOVERY_SECONDS', '-1'],
    ['CORS_ORIGINS', 'https://a.example, nope'],
  ])('stops a Worker on %s=%s with a message naming it', (name, value) => {
    expect(() => loadSettings({ [name]: value }, 'workers')).toThrow(new RegExp(`^invalid setting ${name}:`))
  })
})

describe('METRICS_LABELS', () => {
  it('takes up to 10 names a heartbeat label may have, on both runtimes', () => {
    const ten = Array.from({ length: 10 }, (_, i) => `l${i}`)
    expect(loadSettings({ METRICS_LABELS: ten.join(',') }).metricsLabels).toEqual(ten)
    expect(loadSettings({ METRICS_LABELS: `_x, ${'x'.repeat(64)}` }, 'workers').metricsLabels).toEqual(['_x', 'x'.repeat(64)])
    expect(() => loadSettings({ METRICS_LABELS: [...ten, 'l10'].join(',') })).toThrow(
      /^invalid setting METRICS_LABELS: lists 11 label names, at most 10$/,
    )
  })

  it('says which name is wrong, and refuses a name listed twice', () => {
    expect(() => loadSettings({ METRICS_LABELS: 'region,team-name' })).toThrow(
      /^invalid setting METRICS_LABELS: "team-name" is not a label name a heartbeat may carry/,
    )
    expect(() => loadSettings({ METRICS_LABELS: 'region, team ,region' })).toThrow(
      /^invalid setting METRICS_LABELS: lists "region" twice$/,
    )
  })
})

it('never repeats a token in its message', () => {
  const secret = 'pa$$word-that-must-not-leak'
  expect(() => loadSettings({ HEARTBEAT_TOKEN: secret })).toThrow(/^invalid setting HEARTBEAT_TOKEN:/)
  try {
    loadSettings({ HEARTBEAT_TOKEN: secret, METRICS_TOKEN: `ok,${secret}` })
  } catch (error) {
    expect(String(error)).not.toContain('must-not-leak')
  }
})

describe('exposure', () => {
  it('knows loopback addresses', () => {
    for (const host of ['127.0.0.1', '127.1.2.3', 'localhost', '::1']) expect(isLoopback(host)).toBe(true)
    for (const host of ['0.0.0.0', '::', '10.0.0.1', '192.168.1.1', '127.0.0.1.example', 'example.com']) {
      expect(isLoopback(host)).toBe(false)
    }
  })

  it('refuses to listen beyond loopback without a heartbeat token, unless told to', () => {
    expect(() => checkExposure(loadSettings({ HOST: '0.0.0.0' }))).toThrow(/HOST=0\.0\.0\.0 .* HEARTBEAT_TOKEN is unset/)
    expect(() => checkExposure(loadSettings({ HOST: '0.0.0.0', HEARTBEAT_TOKEN: 't' }))).not.toThrow()
    expect(() => checkExposure(loadSettings({ HOST: '0.0.0.0', ALLOW_UNAUTHENTICATED: 'true' }))).not.toThrow()
    expect(() => checkExposure(loadSettings({}))).not.toThrow()
  })
})
