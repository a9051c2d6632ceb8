import { describe, expect, it } from 'vitest'
import { loadSettings, SettingsError } from '../lib/settings.ts'

describe('settings', () => {
  it('has the defaults of DESIGN.md', () => {
    expect(loadSettings({})).toEqual({
      port: 8787, host: '127.0.0.1', dataDir: './data', heartbeatTokens: [], metricsTokens: [],
      recoverySeconds: 10, defaultIntervalSeconds: 60, expireSeconds: 3600, sweepSeconds: 60, probeSource: 'kv', shards: 1,
    })
  })

  it('reads every variable, and empty strings count as unset', () => {
    expect(loadSettings({
      PORT: '9000', HOST: '0.0.0.0', DATA_DIR: '/var/lib/pulsegate', HEARTBEAT_TOKEN: 'a, b,,',
      METRICS_TOKEN: 'm', RECOVERY_SECONDS: '2.5', DEFAULT_INTERVAL_SECONDS: '5', EXPIRE_SECONDS: '0',
      SWEEP_SECONDS: '  ', PROBE_SOURCE: 'do', SHARDS: '4', UNRELATED: 'x',
    })).toEqual({
      port: 9000, host: '0.0.0.0', dataDir: '/var/lib/pulsegate', heartbeatTokens: ['a', 'b'], metricsTokens: ['m'],
      recoverySeconds: 2.5, defaultIntervalSeconds: 5, expireSeconds: 0, sweepSeconds: 60, probeSource: 'do', shards: 4,
    })
  })

  it.each([
    ['PORT', 'eighty'],
    ['PORT', '70000'],
    ['RECOVERY_SECONDS', '-1'],
    ['RECOVERY_SECONDS', 'Infinity'],
    ['DEFAULT_INTERVAL_SECONDS', '0'],
    ['EXPIRE_SECONDS', 'never'],
    ['SWEEP_SECONDS', '3000000'],
    ['PROBE_SOURCE', 'cache'],
    ['SHARDS', '0'],
  ])('stops on %s=%s with a message naming it', (name, value) => {
    expect(() => loadSettings({ [name]: value })).toThrow(SettingsError)
    expect(() => loadSettings({ [name]: value })).toThrow(new RegExp(`^invalid setting ${name}:`))
  })
})
