// Cloudflare Workers: env → Durable Object store → app. The Fleet class is
// exported from here because Workers find Durable Object classes on the entry module.
import { context } from '@opentelemetry/api'
import { AsyncLocalStorageContextManager } from '@opentelemetry/context-async-hooks'
import type { Hono } from 'hono'
import { createApp } from '../lib/app.ts'
import { configureLogging } from '../lib/logging.ts'
import { loadSettings, SettingsError } from '../lib/settings.ts'
import { CacheCopies } from '../lib/stores/copies.ts'
import { DurableObjectStore } from '../lib/stores/durable-object.ts'

export { Fleet } from '../lib/stores/durable-object.ts'

// nodejs_compat gives workerd AsyncLocalStorage: a request's trace context then follows
// its awaits, into the Durable Object calls it makes (lib/tracing.ts, carryTraceContext).
context.setGlobalContextManager(new AsyncLocalStorageContextManager().enable())

// Built once per isolate: env does not change while an isolate lives, and
// nothing the app keeps in memory is state (that is all in the Durable Object).
let app: Hono | undefined
let misconfigured: SettingsError | undefined

/**
 * A bad [vars] value answers every route with one JSON error naming it: no
 * stack, no file path. A new Response each time: one belongs to its request.
 */
function misconfiguration(error: SettingsError): Response {
  const body = { error: { code: 'invalid_settings', message: `pulsegate is misconfigured: ${error.message}` } }
  return Response.json(body, { status: 500, headers: { 'Cache-Control': 'no-store' } })
}

export default {
  fetch(request, env, ctx) {
    if (!app && !misconfigured) {
      try {
        const settings = loadSettings(env as unknown as Record<string, unknown>, 'workers')
        configureLogging({ severity: settings.logSeverity, format: settings.logFormat })
        const copies = new CacheCopies(caches, 'fleet')
        // No compression of our own: the Workers runtime compresses responses itself.
        const store = new DurableObjectStore(env, settings, { copies })
        app = createApp({ store, settings, runtime: 'workers', compression: false, carryTraceparent: true }) as unknown as Hono
      } catch (error) {
        if (!(error instanceof SettingsError)) throw error
        console.error(`pulsegate: ${error.message}`)
        misconfigured = error
      }
    }
    if (misconfigured) return misconfiguration(misconfigured)
    return app!.fetch(request, env, ctx)
  },
} satisfies ExportedHandler<Env>
