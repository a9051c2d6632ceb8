// Bun: settings from env → SQLite store (bun:sqlite, the same file as Node) → app → Bun.serve.
import { getConnInfo } from 'hono/bun'
import { collectDefaultMetrics, Registry } from 'prom-client'
import { createApp } from '../lib/app.ts'
import { run } from '../lib/serve.ts'
import { openBunSqliteStore } from '../lib/stores/bun-sqlite.ts'

await run({
  env: process.env,
  openStore: (settings) => openBunSqliteStore({ dataDir: settings.dataDir, synchronous: settings.synchronous }, settings),
  app: (settings, store, profiler) => {
    // Bun implements what prom-client's default metrics read (process.cpuUsage, /proc, perf_hooks).
    const runtimeRegistry = new Registry()
    collectDefaultMetrics({ register: runtimeRegistry })
    // Bun.serve hands the app its server, which knows each request's peer.
    return createApp({ store, settings, runtime: 'bun', runtimeRegistry, profiler, clientAddress: (c) => getConnInfo(c).remote.address })
  },
  listen: async (fetch, settings) => {
    const server = Bun.serve({ fetch, hostname: settings.host, port: settings.port })
    return {
      hostname: server.hostname ?? settings.host,
      port: server.port ?? settings.port,
      // stop() without force stops taking connections and lets those open finish what they asked.
      stopAccepting: async () => void server.stop(false),
      close: () => void server.stop(true),
    }
  },
  onSignal: (signal, handler) => process.on(signal, handler),
  unref: (timer) => timer.unref(),
  exit: (code) => process.exit(code),
})
