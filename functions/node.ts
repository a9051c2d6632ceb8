// Node ≥ 22.13: settings from env → SQLite store → app → @hono/node-server.
import { serve } from '@hono/node-server'
import { collectDefaultMetrics, Registry } from 'prom-client'
import { createApp } from '../lib/app.ts'
import { checkExposure, loadSettings, SettingsError } from '../lib/settings.ts'
import { DatabaseFileError } from '../lib/stores/sqlite-file.ts'
import { openSqliteStore } from '../lib/stores/sqlite.ts'

function open() {
  try {
    const settings = loadSettings(process.env)
    checkExposure(settings)
    return { settings, store: openSqliteStore({ dataDir: settings.dataDir, synchronous: settings.synchronous }, settings) }
  } catch (error) {
    if (!(error instanceof SettingsError || error instanceof DatabaseFileError)) throw error
    console.error(`pulsegate: ${error.message}`)
    process.exit(1)
  }
}

const { settings, store } = open()
const runtimeRegistry = new Registry()
collectDefaultMetrics({ register: runtimeRegistry })
const app = createApp({ store, settings, runtime: 'node', runtimeRegistry })

const server = serve({ fetch: app.fetch, hostname: settings.host, port: settings.port }, (info) => {
  console.log(`pulsegate listening on http://${info.address}:${info.port} (data in ${settings.dataDir})`)
})
const sweeper = setInterval(() => void store.sweep(Date.now()), settings.sweepSeconds * 1000)
sweeper.unref()

let closing = false
function shutdown(signal: string) {
  if (closing) return
  closing = true
  console.log(`pulsegate: ${signal}, closing`)
  clearInterval(sweeper)
  // Every acknowledged heartbeat is already committed; closing only tidies up.
  server.close()
  if ('closeAllConnections' in server) server.closeAllConnections()
  void store.close().then(() => process.exit(0))
}
process.on('SIGTERM', () => shutdown('SIGTERM'))
process.on('SIGINT', () => shutdown('SIGINT'))
