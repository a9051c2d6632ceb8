// The served OpenAPI document: valid by a real validator, naming exactly the routes
// the app has, saying what matters (codes, headers, tokens); lib/api-types.ts
// generated from it and current; and the checks that hold every test's answers to
// it able to fail.
import { readFileSync } from 'node:fs'
import { createRoute } from '@hono/zod-openapi'
import { OpenAPIHono } from '@hono/zod-openapi'
import { validate } from '@readme/openapi-parser'
import { describe, expect, it } from 'vitest'
import { z } from 'zod'
import { createApp } from '../lib/app.ts'
import { agentId } from '../lib/heartbeat.ts'
import { documentedOnly } from '../lib/openapi.ts'
import { loadSettings } from '../lib/settings.ts'
import { MemoryStore } from '../lib/stores/memory.ts'
import { TYPES_PATH, apiTypes } from '../tools/api-types/generate.ts'
import { answerChecker } from './support/openapi-check.ts'

function served(env: Record<string, string> = {}) {
  const settings = loadSettings(env)
  const app = createApp({ store: new MemoryStore(settings), settings, runtime: 'test' })
  const get = async (path: string) => app.request(`http://pulsegate.test${path}`)
  const document = async () => (await (await get('/openapi.json')).json()) as Record<string, any>
  return { app, get, document }
}

const METHODS = ['get', 'head', 'post', 'put', 'patch', 'delete', 'options', 'trace']

describe('GET /openapi.json', () => {
  it('is a valid OpenAPI 3.1 document, by @readme/openapi-parser', async () => {
    const document = await served().document()
    expect(document.openapi).toBe('3.1.0')
    const result = await validate(structuredClone(document) as never)
    expect(result).toMatchObject({ valid: true, warnings: [] })
  })

  it('names every route the app routes, and no route it does not', async () => {
    const { app, document } = served({ CORS_ORIGINS: '*' })
    // Middleware (ALL, *) and the 405 answers (ALL) are not routes. The status pages and
    // badges are for browsers and README images, documented in the README, not here.
    const routed = new Set(
      app.routes
        .filter(({ method, path }) => method !== 'ALL' && !path.includes('*') && !/^\/(status|badge)/.test(path))
        .map(({ method, path }) => `${method} ${path.replace(/:([^/]+)/g, '{$1}')}`),
    )
    const { paths } = await document()
    const documented = new Set(
      Object.entries(paths as Record<string, Record<string, unknown>>).flatMap(([path, item]) =>
        METHODS.filter((m) => item[m]).map((m) => `${m.toUpperCase()} ${path}`),
      ),
    )
    expect([...documented].sort()).toEqual([...routed].sort())
    // 11, PUT and DELETE of a component, GET and POST of the two ping URL forms, the three of history,
    // and the three of notifications (the status and a silence's POST and DELETE).
    expect(routed.size).toBe(23)
  })

  it('says what every operation can answer: 500 everywhere, the token and its 401, Retry-After, Age', async () => {
    const { paths, components } = await served().document()
    for (const [path, item] of Object.entries(paths as Record<string, Record<string, any>>)) {
      for (const method of METHODS.filter((m) => item[m])) {
        const operation = item[method]
        expect(operation.responses['500'], `${method} ${path}`).toBeDefined()
        if (operation.security) expect(operation.responses['401'].headers['WWW-Authenticate'].required).toBe(true)
        // Declaring a component of an unknown agent adds it, and an agent can be silenced before it reports:
        // the {agent} operations with no 404.
        const unknownIsFine = method === 'put' || path.endsWith('/silence') && method === 'post'
        if (path.includes('{agent}') && !unknownIsFine) expect(operation.responses['404'], `${method} ${path}`).toBeDefined()
      }
    }
    const heartbeat = paths['/v1/heartbeat'].post
    expect(heartbeat.security).toEqual([{ heartbeatToken: [] }])
    expect(Object.keys(heartbeat.responses).sort()).toEqual(['200', '400', '401', '413', '415', '422', '429', '500', '503'])
    expect(heartbeat.responses['429'].headers['Retry-After'].required).toBe(true)
    expect(heartbeat.responses['503'].headers['Retry-After'].required).toBe(true)
    expect(paths['/v1/agents/{agent}'].delete.security).toEqual([{ heartbeatToken: [] }])
    expect(paths['/metrics'].get.security).toEqual([{ metricsToken: [] }])
    for (const path of ['/readyz', '/readyz/{agent}']) {
      for (const code of ['200', '400', '503']) expect(paths[path].get.responses[code].headers.Age).toMatchObject({ required: false })
    }
    expect(components.securitySchemes).toEqual({
      heartbeatToken: expect.objectContaining({ type: 'http', scheme: 'bearer' }),
      metricsToken: expect.objectContaining({ type: 'http', scheme: 'bearer' }),
      readToken: expect.objectContaining({ type: 'http', scheme: 'bearer' }),
    })
    expect(paths['/v1/agents/{agent}/silence'].post.security).toEqual([{ heartbeatToken: [] }])
    for (const path of ['/v1/agents', '/v1/agents/{agent}', '/v1/agents/{agent}/events', '/v1/events', '/v1/events/stream', '/v1/notifications']) {
      expect(paths[path].get.security, path).toEqual([{ readToken: [] }])
    }
    expect(components.responses.MethodNotAllowed.headers.Allow.required).toBe(true)
  })

  it('generates lib/api-types.ts as committed: run `npm run api:types` after changing a route', async () => {
    expect(readFileSync(TYPES_PATH, 'utf8')).toBe(await apiTypes())
  })
})

describe('GET /docs', () => {
  it('is the reference page, rendered from the document, with no script and a policy that allows none', async () => {
    const { get, document } = served()
    const res = await get('/docs')
    expect(res.status).toBe(200)
    expect(res.headers.get('Content-Type')).toBe('text/html; charset=UTF-8')
    expect(res.headers.get('Content-Security-Policy')).toMatch(/^default-src 'none'; style-src 'unsafe-inline'/)
    const page = await res.text()
    expect(page).not.toMatch(/<script|<link|<img|src=|https?:\/\//)
    const { paths } = await document()
    for (const [path, item] of Object.entries(paths as Record<string, Record<string, any>>)) {
      for (const method of METHODS.filter((m) => item[m])) {
        expect(page).toContain(`id="${item[method].operationId}"`)
        expect(page).toContain(`<span class="method ${method}">${method.toUpperCase()}</span> <code>${path}</code>`)
      }
    }
    expect(page).toContain('<code class="name">interval_seconds</code>')
    expect(page).toContain('one of &quot;ok&quot;, &quot;degraded&quot;, &quot;starting&quot;')
  })
})

describe('the checks hold an answer to the document', () => {
  const check = async () => answerChecker(await served().document())
  const json = (body: unknown, status = 200, headers: Record<string, string> = {}) =>
    new Response(JSON.stringify(body), { status, headers: { 'Content-Type': 'application/json', ...headers } })

  it('pass an answer the document describes', async () => {
    await (await check())('GET', 'http://x/readyz/a', json({ status: 'ok', state: 'ok', pid: 4 }))
    await (await check())('GET', 'http://x/nope', json({ error: { code: 'not_found', message: 'no such path' } }, 404))
  })

  it.each([
    ['a status it does not list', 'GET', '/readyz', json({ status: 'ok', state: 'ok' }, 418), /lists no such answer/],
    ['a field it does not have', 'GET', '/readyz', json({ status: 'ok', state: 'ok', extra: 1 }), /does not match/],
    ['a state that is not one', 'GET', '/readyz', json({ status: 'ok', state: 'fine' }), /does not match/],
    ['another error code', 'POST', '/v1/heartbeat', json({ error: { code: 'teapot', message: 'x' } }, 413), /does not match/],
    ['a 429 without Retry-After', 'POST', '/v1/heartbeat', json({ error: { code: 'rate_limited', message: 'x' } }, 429), /no Retry-After/],
    ['a 405 without Allow', 'PUT', '/readyz', json({ error: { code: 'method_not_allowed', message: 'x' } }, 405), /no Allow/],
    ['another Content-Type', 'GET', '/metrics', json({}), /Content-Type application\/json/],
  ])('refuse %s', async (_, method, path, response, error) => {
    await expect((await check())(method, `http://x${path}`, response)).rejects.toThrow(error)
  })
})

describe('documentedOnly', () => {
  it('refuses a request schema that could refuse a request, since it would not run', () => {
    const route = createRoute({
      method: 'get',
      path: '/x/{agent}',
      request: { params: z.object({ agent: agentId }) },
      responses: { 200: { description: 'x' } },
    })
    expect(() => documentedOnly(new OpenAPIHono(), route)).toThrow(/its params can refuse a request/)
  })
})
