// An OTLP/HTTP trace receiver of the test's own, on 127.0.0.1: it decodes each
// export with the OpenTelemetry project's own definitions (test/fixtures/
// opentelemetry-proto, loaded by protobufjs), so what the tests read is what any
// collector would, not what pulsegate thinks it sent.
import { createServer } from 'node:http'
import type { AddressInfo } from 'node:net'
import { join } from 'node:path'
import protobuf from 'protobufjs'
import { ROOT } from './server.ts'

const PROTO_ROOT = join(ROOT, 'test/fixtures/opentelemetry-proto')

export interface ReceivedSpan {
  traceId: string
  spanId: string
  parentSpanId: string
  name: string
  kind: number
  attributes: Record<string, unknown>
  links: { traceId: string; spanId: string }[]
  service: string
}

export async function loadTraceRequestType(): Promise<protobuf.Type> {
  const root = new protobuf.Root()
  root.resolvePath = (_origin, target) => join(PROTO_ROOT, target)
  await root.load('opentelemetry/proto/collector/trace/v1/trace_service.proto', { keepCase: false })
  return root.lookupType('opentelemetry.proto.collector.trace.v1.ExportTraceServiceRequest')
}

const hex = (bytes: Uint8Array | number[] | undefined) => Buffer.from(bytes ?? []).toString('hex')

function valueOf(value: any): unknown {
  if (!value) return undefined
  return value.stringValue ?? (value.intValue !== undefined ? Number(value.intValue) : undefined) ?? value.boolValue ?? value.doubleValue
}

/** The spans of one decoded export request, flattened. */
export function spansOf(request: any): ReceivedSpan[] {
  const out: ReceivedSpan[] = []
  for (const resourceSpans of request.resourceSpans ?? []) {
    const service = String(valueOf(resourceSpans.resource?.attributes?.find((a: any) => a.key === 'service.name')?.value) ?? '')
    for (const scopeSpans of resourceSpans.scopeSpans ?? []) {
      for (const span of scopeSpans.spans ?? []) {
        out.push({
          traceId: hex(span.traceId),
          spanId: hex(span.spanId),
          parentSpanId: hex(span.parentSpanId),
          name: span.name,
          kind: span.kind,
          attributes: Object.fromEntries((span.attributes ?? []).map((a: any) => [a.key, valueOf(a.value)])),
          links: (span.links ?? []).map((l: any) => ({ traceId: hex(l.traceId), spanId: hex(l.spanId) })),
          service,
        })
      }
    }
  }
  return out
}

export interface OtlpReceiver {
  url: string
  spans: ReceivedSpan[]
  close(): Promise<void>
}

export async function startOtlpReceiver(): Promise<OtlpReceiver> {
  const type = await loadTraceRequestType()
  const spans: ReceivedSpan[] = []
  const server = createServer((request, response) => {
    const chunks: Buffer[] = []
    request.on('data', (chunk: Buffer) => chunks.push(chunk))
    request.on('end', () => {
      if (request.url !== '/v1/traces' || request.headers['content-type'] !== 'application/x-protobuf') {
        response.writeHead(415).end()
        return
      }
      spans.push(...spansOf(type.toObject(type.decode(Buffer.concat(chunks)), { longs: Number, bytes: Uint8Array as never })))
      response.writeHead(200, { 'Content-Type': 'application/x-protobuf' }).end()
    })
  })
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve))
  return {
    url: `http://127.0.0.1:${(server.address() as AddressInfo).port}`,
    spans,
    close: () => new Promise<void>((resolve) => server.close(() => resolve())),
  }
}

/** The same receiver over gRPC (OTLP's TraceService/Export), plaintext, as `grpc://` with no CA sends. */
export async function startOtlpGrpcReceiver(): Promise<OtlpReceiver> {
  const grpc = await import('@grpc/grpc-js')
  const loader = await import('@grpc/proto-loader')
  const definition = await loader.load('opentelemetry/proto/collector/trace/v1/trace_service.proto', {
    includeDirs: [PROTO_ROOT],
    longs: Number,
    bytes: Array,
    defaults: false,
  })
  const proto = grpc.loadPackageDefinition(definition) as any
  const spans: ReceivedSpan[] = []
  const server = new grpc.Server()
  server.addService(proto.opentelemetry.proto.collector.trace.v1.TraceService.service, {
    Export: (call: { request: unknown }, done: (error: null, response: object) => void) => {
      spans.push(...spansOf(call.request))
      done(null, {})
    },
  })
  const port = await new Promise<number>((resolve, reject) =>
    server.bindAsync('127.0.0.1:0', grpc.ServerCredentials.createInsecure(), (error, bound) => (error ? reject(error) : resolve(bound))),
  )
  return { url: `grpc://127.0.0.1:${port}`, spans, close: () => new Promise<void>((resolve) => server.tryShutdown(() => resolve())) }
}
