// lib/client.ts against the real app (createApp over a MemoryStore, injected clock)
// through an injected fetch that calls app.request, plus a few hand-made answers
// for what the app never says (proxies, timeouts, Retry-After dates).
import { beforeEach, describe, expect, it, vi } from 'vitest'
import { createApp } from '../lib/app.ts'
import { type FetchLike, type PulsegateClient, PulsegateError, createClient, parseRetryAfter } from '../lib/client.ts'
import { loadSettings } from '../lib/settings.ts'
import { MemoryStore } from '../lib/stores/memory.ts'

const T0 = 1_800_000_000_000
let now = T0

interface Sent {
  url: string
  method: string
  headers: Headers
  body: unknown
}

/** A client over the real app; `sent` records every request that left the client. */
function setup(env: Record<string, string> = {}, options: { token?: string; baseUrl?: string } = {}) {
  const settings = loadSettings(env)
  const store = new MemoryStore(settings)
  const app = createApp({ store, settings, runtime: 'test', clock: () => now })
  const sent: Sent[] = []
  const fetch: FetchLike = async (url, init) => {
    sent.push({
      url,
      method: init.method ?? 'GET',
      headers: new Headers(init.headers),
      body: typeof init.body === 'string' ? JSON.parse(init.body) : undefined,
    })
    return app.request(url, init)
  }
  const client = createClient({ baseUrl: options.baseUrl ?? 'http://pulsegate.test', token: options.token, fetch })
  return { client, store, sent }
}

/** A client whose every request gets `answer`. */
function answering(answer: () => Response | Promise<Response>) {
  return createClient({ baseUrl: 'http://pulsegate.test', fetch: async () => answer() })
}

/** The error a client's beat of a valid heartbeat ends in. */
const failedBeat = (client: PulsegateClient) => rejection(client.beat({ agent: 'a', status: 'ok' }))

async function rejection(promise: Promise<unknown>): Promise<PulsegateError> {
  const error = await promise.then(
    () => undefined,
    (e: unknown) => e,
  )
  expect(error).toBeInstanceOf(PulsegateError)
  return error as PulsegateError
}

beforeEach(() => {
  now = T0
})

describe('beat and beatMany', () => {
  it('sends one heartbeat as an object and answers its state', async () => {
    const { client, sent } = setup()
    expect(await client.beat({ agent: 'node-17', component: 'proxy', status: 'ok', version: '19.1.2' })).toEqual({
      agent: 'node-17',
      component: 'proxy',
      state: 'ok',
    })
    expect(sent[0]).toMatchObject({ url: 'http://pulsegate.test/v1/heartbeat', method: 'POST' })
    expect(sent[0]!.body).toEqual({ agent: 'node-17', component: 'proxy', status: 'ok', version: '19.1.2' })
    expect(sent[0]!.headers.get('Content-Type')).toBe('application/json')
    expect(sent[0]!.headers.has('Authorization')).toBe(false)
  })

  it('sends a batch in one request and answers each state in order', async () => {
    const { client, sent } = setup()
    const results = await client.beatMany([
      { agent: 'a', status: 'degraded' },
      { agent: 'a', status: 'ok' },
      { agent: 'b', component: 'ssh', status: 'starting' },
    ])
    expect(results.map((r) => `${r.agent}/${r.component} ${r.state}`)).toEqual(['a/main degraded', 'a/main recovering', 'b/ssh starting'])
    expect(sent).toHaveLength(1)
  })

  it('refuses to send what the server would reject, with the same issues', async () => {
    const { client, sent } = setup()
    const bad = await rejection(client.beat({ agent: 'web 1', status: 'fine' } as never))
    expect(bad).toMatchObject({ status: 0, code: 'invalid_heartbeat', retryable: false })
    expect(bad.issues!.map((i) => i.path)).toEqual([['agent'], ['status']])
    const tooLong = await rejection(client.beat({ agent: 'a', status: 'ok', message: 'é'.repeat(513) }))
    expect(tooLong.issues).toEqual([{ path: ['message'], message: 'must be at most 1024 bytes' }])
    const batch = await rejection(client.beatMany([{ agent: 'a', status: 'ok' }, { agent: 'b', status: 'ok', pid: 0 }]))
    expect(batch.issues![0]!.path).toEqual([1, 'pid'])
    expect((await rejection(client.beatMany([]))).code).toBe('invalid_heartbeat')
    const many = Array.from({ length: 101 }, () => ({ agent: 'a', status: 'ok' as const }))
    expect((await rejection(client.beatMany(many))).code).toBe('invalid_heartbeat')
    expect(sent).toHaveLength(0)
  })

  it('sends the token as a bearer token, and says 401 when it is wrong or missing', async () => {
    const good = setup({ HEARTBEAT_TOKEN: 's3cret' }, { token: 's3cret' })
    expect((await good.client.beat({ agent: 'a', status: 'ok' })).state).toBe('ok')
    expect(good.sent[0]!.headers.get('Authorization')).toBe('Bearer s3cret')

    for (const token of ['wrong', undefined]) {
      const { client } = setup({ HEARTBEAT_TOKEN: 's3cret' }, { token })
      const error = await failedBeat(client)
      expect(error).toMatchObject({ status: 401, code: 'unauthorized', unauthorized: true, retryable: false })
      expect(error.message).toBe('a valid bearer token is required')
    }
  })

  it('carries the server Retry-After of a failed store write', async () => {
    const { client, store } = setup()
    store.apply = async () => {
      throw new Error('disk on fire')
    }
    const quiet = vi.spyOn(console, 'error').mockImplementation(() => {}) // the server logs the failure
    const error = await failedBeat(client)
    quiet.mockRestore()
    expect(error).toMatchObject({ status: 503, code: 'store_unavailable', retryAfter: 1, retryable: true })
  })

  it('keeps a path prefix of the base URL and drops a trailing slash', async () => {
    const { client, sent } = setup({}, { baseUrl: 'http://pulsegate.test/' })
    await client.beat({ agent: 'a', status: 'ok' })
    expect(sent[0]!.url).toBe('http://pulsegate.test/v1/heartbeat')
    const urls: string[] = []
    const prefixed = createClient({
      baseUrl: 'https://example.test/pulsegate/',
      fetch: async (url) => {
        urls.push(url)
        return Response.json({ accepted: 1, results: [{ agent: 'a', component: 'main', state: 'ok' }] })
      },
    })
    await prefixed.beat({ agent: 'a', status: 'ok' })
    expect(urls).toEqual(['https://example.test/pulsegate/v1/heartbeat'])
  })
})

describe('deregister', () => {
  it('removes the agent, and counts "already gone" (404) as success', async () => {
    const { client } = setup()
    await client.beatMany([
      { agent: 'a', component: 'x', status: 'ok' },
      { agent: 'a', component: 'y', status: 'ok' },
    ])
    expect(await client.deregister('a')).toBe(2)
    expect(await client.deregister('a')).toBe(0)
    expect((await rejection(client.readiness('a'))).code).toBe('unknown_agent')
  })

  it('still fails on a wrong token, and on a 404 that is not pulsegate', async () => {
    const { client } = setup({ HEARTBEAT_TOKEN: 's3cret' }, { token: 'nope' })
    expect((await rejection(client.deregister('a'))).status).toBe(401)
    const elsewhere = answering(() => new Response('<h1>Not Found</h1>', { status: 404, statusText: 'Not Found' }))
    expect(await rejection(elsewhere.deregister('a'))).toMatchObject({ status: 404, code: 'http_error', message: 'HTTP 404 Not Found' })
    expect(await rejection(elsewhere.deregister('not an id'))).toMatchObject({ code: 'invalid_agent', retryable: false })
    const page = answering(() => new Response('<h1>Welcome</h1>', { status: 200, statusText: 'OK' }))
    expect(await failedBeat(page)).toMatchObject({ status: 200, code: 'http_error', message: 'HTTP 200 OK, not an answer from pulsegate' })
  })
})

describe('readiness', () => {
  it('answers every /readyz state as a value, with the code', async () => {
    const { client } = setup({ RECOVERY_SECONDS: '0' })
    expect(await client.readiness()).toMatchObject({ code: 400, state: 'starting' })
    await client.beat({ agent: 'a', status: 'degraded', pid: 42 })
    expect(await client.readiness('a')).toEqual({
      code: 503,
      state: 'degraded',
      status: 'agent a is in a degraded state, check /readyz?verbose for details',
      pid: 42,
    })
    await client.beat({ agent: 'b', status: 'ok' })
    expect(await client.readiness()).toMatchObject({ code: 503, state: 'degraded' })
    expect(await client.readiness(undefined, { exclude: ['a'] })).toMatchObject({ code: 200, state: 'ok', status: 'ok' })
    await client.beat({ agent: 'a', status: 'ok' })
    expect((await client.readiness('a')).state).toBe('recovering')
  })

  it('throws for an unknown agent', async () => {
    const { client } = setup()
    expect(await rejection(client.readiness('ghost'))).toMatchObject({ status: 404, code: 'unknown_agent', message: 'no agent ghost' })
  })
})

describe('errors without a pulsegate answer', () => {
  it('keeps the reason of a network error (status 0, retryable)', async () => {
    const client = answering(() => {
      throw new TypeError('fetch failed', { cause: new Error('connect ECONNREFUSED 127.0.0.1:9') })
    })
    expect(await failedBeat(client)).toMatchObject({
      status: 0,
      code: 'network_error',
      message: 'connect ECONNREFUSED 127.0.0.1:9',
      retryable: true,
    })
  })

  it('gives up after the timeout', async () => {
    const client = createClient({
      baseUrl: 'http://pulsegate.test',
      timeout: 50,
      fetch: (_url, init) =>
        new Promise((_resolve, reject) => init.signal!.addEventListener('abort', () => reject(init.signal!.reason))),
    })
    expect(await failedBeat(client)).toMatchObject({
      status: 0,
      code: 'timeout',
      message: 'no answer from pulsegate within 0.05s',
      retryable: true,
    })
  })

  it('reads a proxy page as http_error, and Retry-After as seconds or a date', async () => {
    const page = answering(() => new Response('<html>bad gateway</html>', { status: 502, statusText: 'Bad Gateway' }))
    expect(await failedBeat(page)).toMatchObject({
      status: 502,
      code: 'http_error',
      message: 'HTTP 502 Bad Gateway',
      retryAfter: undefined,
      retryable: true,
    })
    const busy = answering(() =>
      Response.json({ error: { code: 'rate_limited', message: 'slow down' } }, { status: 429, headers: { 'Retry-After': '7' } }),
    )
    expect(await failedBeat(busy)).toMatchObject({ status: 429, retryAfter: 7, retryable: true })

    const at = Date.parse('2027-01-01T00:00:00Z')
    expect(parseRetryAfter('Fri, 01 Jan 2027 00:00:30 GMT', at)).toBe(30)
    expect(parseRetryAfter('Thu, 31 Dec 2026 00:00:00 GMT', at)).toBe(0)
    expect(parseRetryAfter('2.5', at)).toBe(2.5)
    expect(parseRetryAfter('soon', at)).toBeUndefined()
    expect(parseRetryAfter(null, at)).toBeUndefined()
  })
})
