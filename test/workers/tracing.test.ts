// One trace through the Worker and its Durable Object: a heartbeat sent with a
// sampled traceparent is logged by the Worker (the request) and by the object (the
// state transition it stores) under the caller's trace id, since the Worker's store
// hands the trace to every RPC it makes for the request.
import { exports } from 'cloudflare:workers'
import { afterEach, expect, it, vi } from 'vitest'

afterEach(() => {
  vi.restoreAllMocks()
})

const hex = (bytes: number) => [...crypto.getRandomValues(new Uint8Array(bytes))].map((b) => b.toString(16).padStart(2, '0')).join('')

it("logs the request in the Worker and its transition in the Durable Object under the caller's trace id", async () => {
  const lines: string[] = []
  vi.spyOn(console, 'log').mockImplementation((line: unknown) => void lines.push(String(line)))
  const traceId = hex(16)
  const parent = hex(8)
  const answer = await exports.default.fetch(
    new Request('http://pulsegate.test/v1/heartbeat', {
      method: 'POST',
      headers: { 'Content-Type': 'application/json', traceparent: `00-${traceId}-${parent}-01` },
      body: JSON.stringify({ agent: `traced-${traceId.slice(0, 6)}`, status: 'ok' }),
    }),
  )
  expect(answer.status).toBe(200)
  const request = lines.find((l) => l.includes('DEBUG request method=POST path=/v1/heartbeat'))
  const transition = lines.find((l) => l.includes('DEBUG state transition') && l.includes(`agent=traced-${traceId.slice(0, 6)}`))
  expect(request).toContain(`trace_id=${traceId}`)
  expect(transition).toContain(`trace_id=${traceId}`)

  // Without a traceparent nothing is made up: neither side names a trace.
  lines.length = 0
  await exports.default.fetch(
    new Request('http://pulsegate.test/v1/heartbeat', { method: 'POST', headers: { 'Content-Type': 'application/json' }, body: JSON.stringify({ agent: 'untraced', status: 'ok' }) }),
  )
  const untraced = lines.filter((l) => l.includes('untraced') || l.includes('path=/v1/heartbeat'))
  expect(untraced.length).toBeGreaterThan(0)
  for (const line of untraced) expect(line).not.toContain('trace_id=')
})
