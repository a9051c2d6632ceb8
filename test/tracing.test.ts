// Tracing, against the real Node server: spans exported over OTLP/HTTP to a
// receiver that decodes them with the OpenTelemetry project's own definitions,
// sampling that honours the caller's traceparent at rate 0, every request at
// 1,000,000, and the file:// exporter's lines and rotation.
import { readFileSync, readdirSync } from 'node:fs'
import { join } from 'node:path'
import { afterAll, afterEach, describe, expect, it } from 'vitest'
import { waitFor } from './support/alertmanager.ts'
import { type OtlpReceiver, startOtlpGrpcReceiver, startOtlpReceiver } from './support/otlp-receiver.ts'
import { type RunningServer, startServer, tempDir } from './support/server.ts'

const servers: RunningServer[] = []
let receiver: OtlpReceiver | undefined
afterEach(async () => {
  for (const server of servers.splice(0)) if (server.child.exitCode === null) await server.stop()
})
afterAll(async () => {
  await receiver?.close()
})

const randomHex = (bytes: number) => Buffer.from(crypto.getRandomValues(new Uint8Array(bytes))).toString('hex')

async function start(env: Record<string, string>) {
  const server = await startServer(env)
  servers.push(server)
  const beat = (body: unknown, headers: Record<string, string> = {}) =>
    fetch(`${server.url}/v1/heartbeat`, { method: 'POST', headers: { 'Content-Type': 'application/json', ...headers }, body: JSON.stringify(body) })
  return { server, beat }
}

describe('OTLP/HTTP export from the Node server', () => {
  it('traces a request that arrives sampled at rate 0, with its store spans beneath it, and keeps its trace id', async () => {
    receiver = await startOtlpReceiver()
    const { server, beat } = await start({ TRACING_EXPORTER_URL: receiver.url, TRACING_SAMPLING_RATE_PER_MILLION: '0', LOG_SEVERITY: 'debug' })
    const traceId = randomHex(16)
    const parent = randomHex(8)
    expect((await beat({ agent: 'web-1', status: 'ok' }, { traceparent: `00-${traceId}-${parent}-01` })).status).toBe(200)
    const skipped = randomHex(16)
    expect((await beat({ agent: 'web-2', status: 'ok' }, { traceparent: `00-${skipped}-${randomHex(8)}-00` })).status).toBe(200)
    expect((await beat({ agent: 'web-3', status: 'ok' })).status).toBe(200) // no traceparent at rate 0: not sampled
    const spans = await waitFor('the sampled trace', () => {
      const mine = receiver!.spans.filter((s) => s.traceId === traceId)
      return mine.some((s) => s.name === 'store.write') && mine.length >= 5 && mine
    })
    const byName = Object.fromEntries(spans.map((s) => [s.name, s]))
    const request = byName['POST /v1/heartbeat']!
    expect(request).toMatchObject({ parentSpanId: parent, kind: 2, service: 'pulsegate' })
    expect(request.attributes).toMatchObject({ 'http.request.method': 'POST', 'http.route': '/v1/heartbeat', 'http.response.status_code': 200, 'pulsegate.agent': 'web-1' })
    expect(byName['store.commit']).toMatchObject({ parentSpanId: request.spanId, attributes: { 'pulsegate.commit.heartbeats': 1, 'pulsegate.commit.jobs': 1 } })
    expect(byName['validate']).toMatchObject({ parentSpanId: request.spanId, attributes: { 'pulsegate.valid': true } })
    expect(byName['store.plan']!.parentSpanId).toBe(byName['store.commit']!.spanId)
    expect(byName['store.write']!.parentSpanId).toBe(byName['store.commit']!.spanId)
    // Give the unsampled ones the time the sampled one took, and more: nothing of theirs comes.
    await new Promise((resolve) => setTimeout(resolve, 2500))
    expect(receiver.spans.filter((s) => s.traceId === skipped)).toEqual([])
    expect(new Set(receiver.spans.map((s) => s.traceId))).toEqual(new Set([traceId]))
    // Its log line names the trace, so a log search finds the spans; the unsampled one's names none.
    expect(server.output()).toMatch(new RegExp(`request method=POST path=/v1/heartbeat status=200 .*trace_id=${traceId} span_id=${request.spanId}`))
    expect(server.output()).not.toContain(skipped)
  }, 30_000)

  it('traces every request at 1,000,000 per million, a scrape with its render span', async () => {
    receiver = await startOtlpReceiver()
    const { server, beat } = await start({ TRACING_EXPORTER_URL: receiver.url, TRACING_SAMPLING_RATE_PER_MILLION: '1000000' })
    for (let i = 0; i < 3; i++) await beat({ agent: `host-${i}`, status: 'ok' })
    await fetch(`${server.url}/metrics`)
    const roots = await waitFor('four request spans', () => {
      const found = receiver!.spans.filter((s) => s.parentSpanId === '' && s.kind === 2)
      return found.length >= 4 && found
    })
    expect(roots.map((s) => s.name).sort()).toEqual(['GET /metrics', 'POST /v1/heartbeat', 'POST /v1/heartbeat', 'POST /v1/heartbeat'])
    const scrape = roots.find((s) => s.name === 'GET /metrics')!
    await waitFor('the render span', () => receiver!.spans.some((s) => s.name === 'metrics.render' && s.parentSpanId === scrape.spanId))
  }, 30_000)
})

describe('gRPC export', () => {
  it('sends the same spans to an OTLP gRPC receiver, for an exporter URL with no scheme too', async () => {
    receiver = await startOtlpGrpcReceiver()
    const bare = receiver.url.slice('grpc://'.length) // no scheme is grpc, as in Teleport
    const { beat } = await start({ TRACING_EXPORTER_URL: bare, TRACING_SAMPLING_RATE_PER_MILLION: '1000000' })
    await beat({ agent: 'grpc-1', status: 'ok' })
    const spans = await waitFor("the request's trace over gRPC", () => {
      const request = receiver!.spans.find((s) => s.name === 'POST /v1/heartbeat')
      const trace = request ? receiver!.spans.filter((s) => s.traceId === request.traceId) : []
      return trace.length >= 5 && trace
    })
    expect(spans.map((s) => s.name).sort()).toEqual(['POST /v1/heartbeat', 'store.commit', 'store.plan', 'store.write', 'validate'])
  }, 30_000)
})

describe('file:// export', () => {
  it('writes one OTLP JSON export a line, ids in hex, and starts a new file past ?limit=', async () => {
    const dir = tempDir('pulsegate-traces-')
    const { beat } = await start({ TRACING_EXPORTER_URL: `file://${dir}?limit=4000`, TRACING_SAMPLING_RATE_PER_MILLION: '1000000' })
    // Each export is about a request's spans (a few KB); a second apart, so several exports, and files.
    for (let i = 0; i < 4; i++) {
      await beat({ agent: `host-${i}`, status: 'ok' })
      await new Promise((resolve) => setTimeout(resolve, 1200))
    }
    const files = await waitFor('rotated files', () => {
      const names = readdirSync(dir)
      return names.length >= 2 && names
    })
    expect(files).toContain('pulsegate-traces.jsonl')
    expect(files.some((f) => /^pulsegate-traces-\d{4}-\d\d-\d\dT[\d-]+Z\.jsonl$/.test(f))).toBe(true)
    const lines = files.flatMap((f) => readFileSync(join(dir, f), 'utf8').split('\n').filter(Boolean))
    const spans = lines.flatMap((line) => (JSON.parse(line).resourceSpans as any[]).flatMap((r) => r.scopeSpans.flatMap((s: any) => s.spans)))
    expect(spans.filter((s) => s.name === 'POST /v1/heartbeat').length).toBeGreaterThanOrEqual(3)
    for (const span of spans) {
      expect(span.traceId).toMatch(/^[0-9a-f]{32}$/)
      expect(span.spanId).toMatch(/^[0-9a-f]{16}$/)
    }
    // A closed file stayed within the limit, unless one export alone was larger (it is never split).
    for (const f of files.filter((name) => name !== 'pulsegate-traces.jsonl')) {
      const text = readFileSync(join(dir, f), 'utf8')
      if (text.trim().split('\n').length > 1) expect(Buffer.byteLength(text)).toBeLessThanOrEqual(4000)
    }
  }, 30_000)
})
