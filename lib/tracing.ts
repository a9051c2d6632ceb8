// Spans where pulsegate spends its time, through the OpenTelemetry API only: with
// no SDK registered (tracing off, and always on Workers) every call here goes to
// the API's no-op tracer. lib/server/tracing.ts registers the SDK on the servers.
import { httpInstrumentationMiddleware } from '@hono/otel'
import { type Attributes, type Context, type Link, SpanStatusCode, context, trace } from '@opentelemetry/api'
import type { MiddlewareHandler } from 'hono'

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

/** W3C trace context: version-traceid-parentid-flags, sampled when bit 0 of the flags is set. */
const TRACEPARENT = /^[\da-f]{2}-[\da-f]{32}-[\da-f]{16}-([\da-f]{2})$/

export function isSampledTraceparent(header: string | undefined): boolean {
  const flags = header === undefined ? undefined : TRACEPARENT.exec(header.trim())?.[1]
  return flags !== undefined && (Number.parseInt(flags, 16) & 1) === 1
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
