// Cloudflare Workers: env → Durable Object + KV store → app. The Fleet class is
// exported from here because Workers find Durable Object classes on the entry module.
import { Hono } from 'hono'
import { createApp } from '../lib/app.ts'
import { loadSettings } from '../lib/settings.ts'
import { DurableObjectStore } from '../lib/stores/durable-object.ts'

export { Fleet } from '../lib/stores/durable-object.ts'

// Built once per isolate: env does not change while an isolate lives, and
// nothing the app keeps in memory is state (that is all in the Durable Object).
let app: Hono | undefined

export default {
  fetch(request, env, ctx) {
    if (!app) {
      const settings = loadSettings(env as unknown as Record<string, unknown>)
      // No compression of our own: the Workers runtime compresses responses itself.
      const store = new DurableObjectStore(env, settings)
      app = createApp({ store, settings, runtime: 'workers', compression: false }) as unknown as Hono
    }
    return app.fetch(request, env, ctx)
  },
} satisfies ExportedHandler<Env>
