// Node ≥ 22.18: settings from env → SQLite store (node:sqlite) → app → @hono/node-server.
import { serve } from '@hono/node-server'
import { collectDefaultMetrics, Registry } from 'prom-client'
import { createApp } from '../lib/app.ts'
import { listening, start, whileServing } from '../lib/serve.ts'
import { openSqliteStore } from '../lib/stores/sqlite.ts'

const exit = (code: number) => process.exit(code)
const started = await start(
  process.env,
  (settings) => openSqliteStore({ dataDir: settings.dataDir, synchronous: settings.synchronous }, settings),
  exit,
)
const { settings, store } = started
const runtimeRegistry = new Registry()
collectDefaultMetrics({ register: runtimeRegistry })
const app = createApp({ store, settings, runtime: 'node', runtimeRegistry })

const server = serve({ fetch: app.fetch, hostname: settings.host, port: settings.port }, (info) => {
  console.log(listening(info.address, info.port, settings))
})
const serving = whileServing(
  started,
  () => {
    server.close()
    // Keep-alive connections would hold close() open; the data is safe either way.
    if ('closeAllConnections' in server) server.closeAllConnections()
  },
  exit,
)
serving.sweeper.unref()
process.on('SIGTERM', () => void serving.shutdown('SIGTERM'))
process.on('SIGINT', () => void serving.shutdown('SIGINT'))
