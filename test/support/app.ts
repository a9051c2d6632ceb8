// The app over a memory store, with an injected clock, asked through app.request():
// every answer held to the OpenAPI document the app serves.
import type { Registry } from 'prom-client'
import { createApp } from '../../lib/app.ts'
import { loadSettings } from '../../lib/settings.ts'
import { MemoryStore } from '../../lib/stores/memory.ts'
import type { Store } from '../../lib/stores/store.ts'
import { checkedRequest } from './openapi-check.ts'

export function testApp(clock: () => number, env: Record<string, string> = {}, extra: { store?: Store; runtimeRegistry?: Registry } = {}) {
  const settings = loadSettings(env)
  const store = extra.store ?? new MemoryStore(settings)
  const app = createApp({ store, settings, runtime: 'test', clock, runtimeRegistry: extra.runtimeRegistry })
  const request = checkedRequest(app)
  const post = (body: unknown, headers: Record<string, string> = {}) =>
    request('/v1/heartbeat', {
      method: 'POST',
      headers: { 'Content-Type': 'application/json', ...headers },
      body: typeof body === 'string' ? body : JSON.stringify(body),
    })
  const json = async (path: string, init?: RequestInit) => {
    const res = await request(path, init)
    return { status: res.status, body: (await res.json()) as any, res }
  }
  const metrics = async (headers: Record<string, string> = {}) => (await request('/metrics', { headers })).text()
  return { app, store, settings, request, post, json, metrics }
}
