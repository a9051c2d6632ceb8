// One line per event, on every runtime: LOG_SEVERITY picks what is said and
// LOG_FORMAT how (text for people, json for log pipelines). A line said inside a
// sampled trace carries its trace id, so a log line leads to the trace.
import { trace, TraceFlags } from '@opentelemetry/api'
import type { LogFormat, LogSeverity } from './diagnostics-settings.ts'
import type { HistoryEvent } from './history.ts'

export type Fields = Record<string, unknown>

export interface LoggingOptions {
  severity: LogSeverity
  format: LogFormat
  /** Where a finished line goes; default console.log (debug, info) and console.error (warn, error). */
  write: (line: string, severity: LogSeverity) => void
  /** Wall clock in ms, for the timestamp; tests inject their own. */
  clock: () => number
}

const RANK: Record<LogSeverity, number> = { debug: 0, info: 1, warn: 2, error: 3 }

const consoleWrite = (line: string, severity: LogSeverity) =>
  severity === 'warn' || severity === 'error' ? console.error(line) : console.log(line)

let options: LoggingOptions = { severity: 'info', format: 'text', write: consoleWrite, clock: Date.now }
let threshold = RANK.info

/** Set severity, format (and, for tests, where lines go and the clock); unset fields keep their value. */
export function configureLogging(next: Partial<LoggingOptions>): void {
  options = { ...options, ...next }
  threshold = RANK[options.severity]
}

/** Whether debug lines are said: callers check it before they build anything to log. */
export const debugEnabled = (): boolean => threshold === 0

/** An error as one line: its message and those of its causes, never its stack. */
export function describeError(error: unknown): string {
  const parts: string[] = []
  for (let e: unknown = error, depth = 0; e !== undefined && e !== null && depth < 5; depth++) {
    parts.push(e instanceof Error ? e.message || e.name : String(e))
    e = e instanceof Error ? e.cause : undefined
  }
  return parts.join(': ')
}

/** The sampled trace this line belongs to: the only ids a tracing backend can find. */
function traceFields(): Fields | undefined {
  const context = trace.getActiveSpan()?.spanContext()
  if (!context || (context.traceFlags & TraceFlags.SAMPLED) === 0) return undefined
  return { trace_id: context.traceId, span_id: context.spanId }
}

function textValue(value: unknown): string {
  const text = typeof value === 'string' ? value : JSON.stringify(value) ?? String(value)
  return /^[^\s"=]+$/.test(text) ? text : JSON.stringify(text)
}

function format(severity: LogSeverity, message: string, fields: Fields): string {
  const timestamp = new Date(options.clock()).toISOString()
  if (options.format === 'json') return JSON.stringify({ timestamp, level: severity, message, ...fields })
  const pairs = Object.entries(fields).map(([key, value]) => ` ${key}=${textValue(value)}`)
  return `${timestamp} ${severity.toUpperCase().padEnd(5)} ${message}${pairs.join('')}`
}

/** Say one event, if its severity is at or above LOG_SEVERITY. Error values become their messages. */
export function log(severity: LogSeverity, message: string, fields: Fields = {}): void {
  if (RANK[severity] < threshold) return
  const plain: Fields = {}
  for (const [key, value] of Object.entries(fields)) {
    if (value !== undefined) plain[key] = value instanceof Error ? describeError(value) : value
  }
  options.write(format(severity, message, { ...plain, ...traceFields() }), severity)
}

export const logger = {
  debug: (message: string, fields?: Fields) => log('debug', message, fields),
  info: (message: string, fields?: Fields) => log('info', message, fields),
  warn: (message: string, fields?: Fields) => log('warn', message, fields),
  error: (message: string, fields?: Fields) => log('error', message, fields),
}

/** Debug: one served request. */
export function logRequest(request: { method: string; path: string; status: number; durationMs: number }): void {
  if (!debugEnabled()) return
  log('debug', 'request', {
    method: request.method,
    path: request.path,
    status: request.status,
    duration_ms: Math.round(request.durationMs * 100) / 100,
  })
}

/** Debug: each change of state once it is stored, as the history records it (lib/history.ts). */
export function logEvents(events: readonly HistoryEvent[]): void {
  if (!debugEnabled()) return
  for (const e of events) {
    log('debug', 'state transition', {
      agent: e.agent,
      component: e.component,
      from: e.from ?? 'new',
      to: e.to ?? 'gone',
      reason: e.reason ?? undefined,
      at: new Date(e.at).toISOString(),
    })
  }
}

export interface FailureLog {
  /** Log a failure of `kind` with its cause, unless one of that kind was logged less than the interval ago; true if logged. */
  (kind: string, error: unknown, fields?: Fields): boolean
}

/**
 * For failures that repeat (a full disk under every heartbeat, an unreachable
 * collector on every export): one error line per kind per interval, with its
 * cause and how many were left unsaid since the last one. Never a stack.
 */
export function createFailureLog({ intervalMs = 60_000, clock = Date.now } = {}): FailureLog {
  const last = new Map<string, { at: number; unsaid: number }>()
  return (kind, error, fields = {}) => {
    const now = clock()
    const entry = last.get(kind)
    if (entry && now - entry.at < intervalMs) {
      entry.unsaid++
      return false
    }
    const unsaid = entry?.unsaid ? { unsaid_since_last: entry.unsaid } : {}
    log('error', `${kind} failed`, { ...fields, error: describeError(error), ...unsaid })
    last.set(kind, { at: now, unsaid: 0 })
    return true
  }
}

/** The process-wide failure log: once a minute per kind. */
export const logOnce: FailureLog = createFailureLog()
