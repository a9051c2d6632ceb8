// Bun: settings from env → SQLite store (bun:sqlite, the same file as Node) → app → Bun.serve.
import { collectDefaultMetrics, Registry } from 'prom-client'
import { createApp } from '../lib/app.ts'
import { checkExposure, loadSettings, SettingsError } from '../lib/settings.ts'
import { openBunSqliteStore } from '../lib/stores/bun-sqlite.ts'
import { DatabaseFileError } from '../lib/stores/sqlite-file.ts'

function open() {
  try {
    const settings = loadSettings(process.env)
    checkExposure(settings)
    return { settings, store: openBunSqliteStore({ dataDir: settings.dataDir, synchronous: settings.synchronous }, settings) }
  } catch (error) {
    if (!(error instanceof SettingsError || error instanceof DatabaseFileError)) throw error
    console.error(`pulsegate: ${error.message}`)
    process.exit(1)
  }
}

const { settings, store } = open()
// Bun implements what prom-client's default metrics read (process.cpuUsage, /proc, perf_hooks).
const runtimeRegistry = new Registry()
collectDefaultMetrics({ register: runtimeRegistry })
const app = createApp({ store, settings, runtime: 'bun', runtimeRegistry })

const server = Bun.serve({ fetch: app.fetch, hostname: settings.host, port: settings.port })
const sweeper = setInterval(() => void store.sweep(Date.now()), settings.sweepSeconds * 1000)
sweeper.unref()

let closing = false
async function shutdown(signal: string) {
  if (closing) return
  closing = true
  console.log(`pulsegate: ${signal}, closing`)
  clearInterval(sweeper)
  // Every acknowledged heartbeat is already committed; closing only tidies up.
  await server.stop(true)
  await store.close()
  process.exit(0)
}
process.on('SIGTERM', () => void shutdown('SIGTERM'))
process.on('SIGINT', () => void shutdown('SIGINT'))
// Said last, once SIGTERM is handled too: "listening" means ready for everything.
console.log(`pulsegate listening on http://${server.hostname}:${server.port} (data in ${settings.dataDir})`)
