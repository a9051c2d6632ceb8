// Bun: settings from env → SQLite store (bun:sqlite, the same file as Node) → app → Bun.serve.
import { collectDefaultMetrics, Registry } from 'prom-client'
import { createApp } from '../lib/app.ts'
import { listening, start, whileServing } from '../lib/serve.ts'
import { openBunSqliteStore } from '../lib/stores/bun-sqlite.ts'

const exit = (code: number) => process.exit(code)
const started = await start(
  process.env,
  (settings) => openBunSqliteStore({ dataDir: settings.dataDir, synchronous: settings.synchronous }, settings),
  exit,
)
const { settings, store } = started
// Bun implements what prom-client's default metrics read (process.cpuUsage, /proc, perf_hooks).
const runtimeRegistry = new Registry()
collectDefaultMetrics({ register: runtimeRegistry })
const app = createApp({ store, settings, runtime: 'bun', runtimeRegistry })

const server = Bun.serve({ fetch: app.fetch, hostname: settings.host, port: settings.port })
const serving = whileServing(started, () => server.stop(true), exit)
serving.sweeper.unref()
process.on('SIGTERM', () => void serving.shutdown('SIGTERM'))
process.on('SIGINT', () => void serving.shutdown('SIGINT'))
// Said last, once SIGTERM is handled too: "listening" means ready for everything.
console.log(listening(server.hostname ?? settings.host, server.port ?? settings.port, settings))
