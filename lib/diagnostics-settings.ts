// The settings of logs, traces and profiles, as lib/settings.ts reads them: the
// shape entries its zod schema spreads in, and what they become in Settings.
// Runtime-neutral: the exporter URL is only checked here; server/ acts on it.
import { z } from 'zod'

export type LogSeverity = 'debug' | 'info' | 'warn' | 'error'
export type LogFormat = 'text' | 'json'

/** 100 MiB, the size past which a file:// export starts a new file unless ?limit= says otherwise. */
export const DEFAULT_FILE_LIMIT_BYTES = 100 * 1024 * 1024
const DEFAULT_GRPC_PORT = '4317'

/** Where spans go: an OTLP receiver over gRPC or HTTP (protobuf), or OTLP JSON files in a folder. */
export type ExporterTarget =
  | { protocol: 'grpc'; url: string; address: string }
  | { protocol: 'http'; url: string; tls: boolean }
  | { protocol: 'file'; url: string; dir: string; limitBytes: number }

export interface TracingSettings {
  /** Absent: tracing is off and no SDK is loaded. */
  exporter: ExporterTarget | undefined
  /** Root spans sampled per million; a caller's sampled traceparent is honoured whatever this says. */
  samplingRatePerMillion: number
  caFile: string | undefined
  clientCertFile: string | undefined
  clientKeyFile: string | undefined
}

export interface DiagnosticsSettings {
  logSeverity: LogSeverity
  logFormat: LogFormat
  /** DEBUG=true or --debug: /debug/pprof/* on the main port, for loopback clients. */
  debug: boolean
  tracing: TracingSettings
}

/** Teleport's exporter_url: grpc:// (also when there is no scheme), http://, https:// or file://DIR[?limit=BYTES]. */
export function parseExporterUrl(value: string): ExporterTarget {
  const raw = value.includes('://') ? value : `grpc://${value}`
  const scheme = raw.slice(0, raw.indexOf('://')).toLowerCase()
  if (scheme === 'file') {
    const rest = raw.slice('file://'.length)
    const [path = '', query = ''] = rest.split(/\?(.*)/s)
    const dir = decodeURIComponent(path)
    if (dir === '') throw new Error('file:// needs a folder, as in file:///var/lib/pulsegate/traces')
    const limit = new URLSearchParams(query).get('limit')
    const limitBytes = limit === null ? DEFAULT_FILE_LIMIT_BYTES : Number(limit)
    if (!Number.isSafeInteger(limitBytes) || limitBytes <= 0) throw new Error(`?limit= must be a positive number of bytes, not ${limit}`)
    return { protocol: 'file', url: raw, dir, limitBytes }
  }
  if (scheme !== 'grpc' && scheme !== 'http' && scheme !== 'https') {
    throw new Error(`the scheme must be grpc://, http://, https:// or file://, not ${scheme}://`)
  }
  let url: URL
  try {
    url = new URL(raw.replace(/^grpc:/i, 'http:'))
  } catch {
    throw new Error(`${value} is not a URL`)
  }
  if (url.hostname === '') throw new Error(`${value} names no host`)
  if (scheme === 'grpc') {
    const address = `${url.hostname}:${url.port || DEFAULT_GRPC_PORT}`
    return { protocol: 'grpc', url: `http://${address}`, address }
  }
  // A bare host is the collector's base URL, as OTEL_EXPORTER_OTLP_ENDPOINT is; a path is used as given.
  if (url.pathname === '/' || url.pathname === '') url.pathname = '/v1/traces'
  return { protocol: 'http', url: url.toString(), tls: scheme === 'https' }
}

const optionalPath = z.string().optional()

/** Entries of the settings schema (lib/settings.ts spreads them into its z.object). */
export const DIAGNOSTICS_SCHEMA = {
  LOG_SEVERITY: z
    .string()
    .transform((v) => v.toLowerCase())
    .pipe(z.enum(['debug', 'info', 'warn', 'error']))
    .default('info'),
  LOG_FORMAT: z.enum(['text', 'json']).default('text'),
  DEBUG: z.enum(['true', 'false']).default('false'),
  TRACING_EXPORTER_URL: z
    .string()
    .optional()
    .transform((value, ctx) => {
      if (value === undefined) return undefined
      try {
        return parseExporterUrl(value.trim())
      } catch (error) {
        ctx.addIssue({ code: 'custom', message: (error as Error).message })
        return z.NEVER
      }
    }),
  TRACING_SAMPLING_RATE_PER_MILLION: z.coerce.number().int().min(0).max(1_000_000).default(0),
  TRACING_CA_FILE: optionalPath,
  TRACING_CLIENT_CERT_FILE: optionalPath,
  TRACING_CLIENT_KEY_FILE: optionalPath,
}

type Parsed = z.output<z.ZodObject<typeof DIAGNOSTICS_SCHEMA>>

/** What the parsed entries become in Settings. */
export function diagnosticsSettings(s: Parsed): DiagnosticsSettings {
  return {
    logSeverity: s.LOG_SEVERITY,
    logFormat: s.LOG_FORMAT,
    debug: s.DEBUG === 'true',
    tracing: {
      exporter: s.TRACING_EXPORTER_URL,
      samplingRatePerMillion: s.TRACING_SAMPLING_RATE_PER_MILLION,
      caFile: s.TRACING_CA_FILE,
      clientCertFile: s.TRACING_CLIENT_CERT_FILE,
      clientKeyFile: s.TRACING_CLIENT_KEY_FILE,
    },
  }
}

/** A client certificate needs its key, and a key its certificate. */
export function checkTlsPair(s: Parsed): string | undefined {
  if ((s.TRACING_CLIENT_CERT_FILE === undefined) !== (s.TRACING_CLIENT_KEY_FILE === undefined)) {
    return 'TRACING_CLIENT_CERT_FILE and TRACING_CLIENT_KEY_FILE go together: set both or neither'
  }
  return undefined
}
