// TRACING_* settings as lib/settings.ts reads them: Teleport's exporter_url schemes.
import { describe, expect, it } from 'vitest'
import { DEFAULT_FILE_LIMIT_BYTES } from '../lib/diagnostics-settings.ts'
import { loadSettings } from '../lib/settings.ts'

const exporter = (url: string) => loadSettings({ TRACING_EXPORTER_URL: url }).tracing.exporter

describe('tracing settings', () => {
  it('is off, at rate 0, by default', () => {
    expect(loadSettings({}).tracing).toEqual({
      exporter: undefined, samplingRatePerMillion: 0, caFile: undefined, clientCertFile: undefined, clientKeyFile: undefined,
    })
    expect(loadSettings({}).debug).toBe(false)
    expect(loadSettings({ DEBUG: 'true' }).debug).toBe(true)
  })

  it('reads grpc://, and a URL without a scheme as grpc on port 4317 unless it says', () => {
    expect(exporter('collector:4317')).toEqual({ protocol: 'grpc', url: 'http://collector:4317', address: 'collector:4317' })
    expect(exporter('grpc://collector')).toEqual({ protocol: 'grpc', url: 'http://collector:4317', address: 'collector:4317' })
    expect(exporter('grpc://10.0.0.5:14317')).toMatchObject({ address: '10.0.0.5:14317' })
  })

  it('reads http:// and https://, adding /v1/traces to a bare collector URL', () => {
    expect(exporter('http://collector:4318')).toEqual({ protocol: 'http', url: 'http://collector:4318/v1/traces', tls: false })
    expect(exporter('https://otlp.example.com/otlp/v1/traces')).toEqual({ protocol: 'http', url: 'https://otlp.example.com/otlp/v1/traces', tls: true })
  })

  it('reads file://DIR with an optional ?limit= in bytes (default 100 MiB)', () => {
    expect(exporter('file:///var/lib/pulsegate/traces')).toEqual({
      protocol: 'file', url: 'file:///var/lib/pulsegate/traces', dir: '/var/lib/pulsegate/traces', limitBytes: DEFAULT_FILE_LIMIT_BYTES,
    })
    expect(exporter('file://./traces?limit=1000')).toMatchObject({ dir: './traces', limitBytes: 1000 })
  })

  it('refuses other schemes, bad limits, rates out of range and half a client key pair', () => {
    expect(() => exporter('udp://collector:4317')).toThrow(/invalid setting TRACING_EXPORTER_URL: the scheme must be grpc:\/\/, http:\/\/, https:\/\/ or file:\/\//)
    expect(() => exporter('file:///tmp/t?limit=-5')).toThrow(/TRACING_EXPORTER_URL: \?limit= must be a positive number of bytes/)
    expect(() => exporter('file://')).toThrow(/TRACING_EXPORTER_URL: file:\/\/ needs a folder/)
    expect(() => loadSettings({ TRACING_SAMPLING_RATE_PER_MILLION: '1000001' })).toThrow(/invalid setting TRACING_SAMPLING_RATE_PER_MILLION/)
    expect(() => loadSettings({ TRACING_SAMPLING_RATE_PER_MILLION: '0.5' })).toThrow(/invalid setting TRACING_SAMPLING_RATE_PER_MILLION/)
    expect(() => loadSettings({ TRACING_CLIENT_CERT_FILE: '/etc/pulsegate/client.pem' })).toThrow(
      /TRACING_CLIENT_CERT_FILE and TRACING_CLIENT_KEY_FILE go together/,
    )
  })
})
