// Spans where pulsegate spends its time, through the OpenTelemetry API only: with
// no SDK registered (tracing off, and always on Workers) every call here goes to
// the API's no-op tracer. lib/server/tracing.ts registers the SDK on the servers.
import { httpInstrumentationMiddleware } from '@hono/otel'
import { type Attributes, type Context, type Link, ROOT_CONTEXT, type SpanContext, SpanStatusCode, TraceFlags, context, trace } from '@opentelemetry/api'
import type { Context as HonoContext, MiddlewareHandler } from 'hono'

export const tracer = trace.getTracer('pulsegate')

/** Run `fn` in a span named `name` (a child of the active one, or of `parent`), ending it however `fn` ends. */
export function inSpan<T>(name: string, attributes: Attributes, fn: () => Promise<T>, options: { parent?: Context; links?: Link[] } = {}): Promise<T> {
  return tracer.startActiveSpan(name, { attributes, links: options.links }, options.parent ?? context.active(), async (span) => {
    try {
      return await fn()
    } catch (error) {
      span.recordException(error instanceof Error ? error : String(error))
      span.setStatus({ code: SpanStatusCode.ERROR })
      throw error
    } finally {
      span.end()
    }
  })
}

/** The same, for work that does not wait (planning a change in memory). */
export function inSpanSync<T>(name: string, attributes: Attributes, fn: () => T): T {
  return tracer.startActiveSpan(name, { attributes }, (span) => {
    try {
      return fn()
    } finally {
      span.end()
    }
  })
}

/** The context a queued job was asked for in, so the work done for it later is traced under its request. */
export const activeContext = (): Context => context.active()

/** A link to the span of `ctx`, for work one span does for several requests (a group commit). */
export function linkTo(ctx: Context): Link | undefined {
  const spanContext = trace.getSpanContext(ctx)
  return spanContext ? { context: spanContext } : undefined
}

/** Say on the request's span which agent it is about. */
export function tagAgent(agent: string): void {
  trace.getActiveSpan()?.setAttribute('pulsegate.agent', agent)
}

/** W3C trace context: version-traceid-parentid-flags; version ff and all-zero ids are invalid, as the SDK's propagator reads it. */
const TRACEPARENT = /^([\da-f]{2})-([\da-f]{32})-([\da-f]{16})-([\da-f]{2})$/

/** The remote parent a traceparent header names, or undefined for one that names none. */
function spanContextOf(header: string | undefined): SpanContext | undefined {
  const match = header === undefined ? null : TRACEPARENT.exec(header.trim())
  if (!match || match[1] === 'ff' || /^0+$/.test(match[2]!) || /^0+$/.test(match[3]!)) return undefined
  return { traceId: match[2]!, spanId: match[3]!, traceFlags: Number.parseInt(match[4]!, 16) & TraceFlags.SAMPLED, isRemote: true }
}

export function isSampledTraceparent(header: string | undefined): boolean {
  return ((spanContextOf(header)?.traceFlags ?? 0) & TraceFlags.SAMPLED) === TraceFlags.SAMPLED
}

/**
 * The request span (@hono/otel), with the W3C context of the caller. At rate 0 only
 * a request that arrives sampled can be traced, so one that does not skips the
 * middleware altogether: it would only make a span to drop, and reading every
 * header for it costs a heartbeat a quarter of its time.
 */
export function traceRequests(samplingRatePerMillion: number, serviceVersion: string): MiddlewareHandler {
  const spans = httpInstrumentationMiddleware({ serviceName: 'pulsegate', serviceVersion, captureActiveRequests: false })
  if (samplingRatePerMillion > 0) return spans
  return (c, next) => (isSampledTraceparent(c.req.header('traceparent')) ? spans(c, next) : next())
}

/** The context a W3C traceparent names (a remote parent), or undefined for a header that is not one. */
export function contextOf(traceparent: string | undefined, base: Context = ROOT_CONTEXT): Context | undefined {
  const parent = spanContextOf(traceparent)
  return parent && trace.setSpanContext(base, parent)
}

/** The active span context as a traceparent, to hand to the next hop; undefined outside a trace. */
export function activeTraceparent(): string | undefined {
  const span = trace.getSpanContext(context.active())
  if (!span || !trace.isSpanContextValid(span)) return undefined
  return `00-${span.traceId}-${span.spanId}-0${span.traceFlags & TraceFlags.SAMPLED}`
}

/**
 * Where no SDK runs (Workers): the caller's traceparent becomes the request's
 * context, so the work it causes, in the Worker and in the Durable Object it
 * calls, is in the caller's trace (and its log lines carry the trace id).
 */
export function carryTraceContext(): MiddlewareHandler {
  return (c, next) => {
    const carried = contextOf(c.req.header('traceparent'), context.active())
    return carried ? context.with(carried, next) : next()
  }
}

/** When each traced request's validation began (ms since the epoch, with fractions), by its Request. */
const validationStart = new WeakMap<Request, number>()
const preciseNow = () => performance.timeOrigin + performance.now()

/**
 * The last middleware before a route's validators run: only inside a recording
 * span (tracing on, request sampled) does it note the time, so off it costs a check.
 */
export const validationStarts: MiddlewareHandler = async (c, next) => {
  if (trace.getActiveSpan()?.isRecording()) validationStart.set(c.req.raw, preciseNow())
  await next()
}

/** In a route's validation hook: the parse and schema check as a span, from when it began to now. */
export function validationEnds(c: HonoContext, valid: boolean): void {
  const start = validationStart.get(c.req.raw)
  if (start === undefined) return
  tracer.startSpan('validate', { startTime: start, attributes: { 'pulsegate.valid': valid } }).end(preciseNow())
}
