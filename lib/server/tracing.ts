// Tracing for the servers (Node, Bun, Deno) with the OpenTelemetry JS SDK, set up
// only when TRACING_EXPORTER_URL is set: off, no SDK is loaded, and lib/'s spans
// go to the API's no-op tracer. Sampling is Teleport's: the caller's decision in
// `traceparent` is honoured (a sampled request is traced at rate 0, an unsampled
// one never is), and root spans are sampled at TRACING_SAMPLING_RATE_PER_MILLION.
import { readFileSync } from 'node:fs'
import { context, propagation, trace } from '@opentelemetry/api'
import type { TracingSettings } from '../diagnostics-settings.ts'
import { logger } from '../logging.ts'

export interface Tracing {
  /** Export what is still buffered, then stop. */
  shutdown(): Promise<void>
}

/** Spans are exported in batches this often: soon enough to follow a request live, few enough requests to the collector. */
const EXPORT_DELAY_MS = 1000

const read = (file: string | undefined) => (file === undefined ? undefined : readFileSync(file))

export async function startTracing(settings: TracingSettings, service: { name: string; version: string }): Promise<Tracing | undefined> {
  const target = settings.exporter
  if (!target) return undefined
  const [{ TracerProvider, BatchSpanProcessor, ParentBasedSampler, TraceIdRatioBasedSampler }, { W3CTraceContextPropagator }, { AsyncLocalStorageContextManager }, { resourceFromAttributes }] =
    await Promise.all([
      import('@opentelemetry/sdk-trace'),
      import('@opentelemetry/core'),
      import('@opentelemetry/context-async-hooks'),
      import('@opentelemetry/resources'),
    ])
  const tls = { ca: read(settings.caFile), cert: read(settings.clientCertFile), key: read(settings.clientKeyFile) }
  let exporter
  if (target.protocol === 'file') {
    const { FileSpanExporter } = await import('./file-exporter.ts')
    exporter = new FileSpanExporter(target.dir, target.limitBytes)
  } else if (target.protocol === 'http') {
    const { OTLPTraceExporter } = await import('@opentelemetry/exporter-trace-otlp-proto')
    exporter = new OTLPTraceExporter({ url: target.url, httpAgentOptions: target.tls ? { ca: tls.ca, cert: tls.cert, key: tls.key } : {} })
  } else {
    const [{ OTLPTraceExporter }, { credentials }] = await Promise.all([import('@opentelemetry/exporter-trace-otlp-grpc'), import('@grpc/grpc-js')])
    // grpc:// is plaintext unless a CA is given, as Teleport's exporter does.
    const secure = tls.ca !== undefined || tls.cert !== undefined
    exporter = new OTLPTraceExporter({
      url: target.url,
      credentials: secure ? credentials.createSsl(tls.ca ?? null, tls.key ?? null, tls.cert ?? null) : credentials.createInsecure(),
    })
  }
  const provider = new TracerProvider({
    resource: resourceFromAttributes({ 'service.name': service.name, 'service.version': service.version }),
    sampler: new ParentBasedSampler({ root: new TraceIdRatioBasedSampler(settings.samplingRatePerMillion / 1_000_000) }),
    spanProcessors: [new BatchSpanProcessor({ exporter, scheduledDelayMillis: EXPORT_DELAY_MS })],
  })
  context.setGlobalContextManager(new AsyncLocalStorageContextManager().enable())
  propagation.setGlobalPropagator(new W3CTraceContextPropagator())
  trace.setGlobalTracerProvider(provider)
  logger.info(`pulsegate: tracing to ${target.url} (sampling ${settings.samplingRatePerMillion} per million, and every sampled traceparent)`)
  return {
    shutdown: async () => {
      await provider.shutdown().catch((error: unknown) => logger.warn('pulsegate: the last spans could not be exported', { error }))
    },
  }
}
