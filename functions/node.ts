// Node ≥ 22.18: settings from env → SQLite store (node:sqlite) → app → @hono/node-server.
import { Server } from 'node:net'
import { serve } from '@hono/node-server'
import { getConnInfo } from '@hono/node-server/conninfo'
import { collectDefaultMetrics, Registry } from 'prom-client'
import { createApp } from '../lib/app.ts'
import { run } from '../lib/serve.ts'
import { openSqliteStore } from '../lib/stores/sqlite.ts'

await run({
  env: process.env,
  openStore: (settings) => openSqliteStore({ dataDir: settings.dataDir, synchronous: settings.synchronous }, settings),
  app: (settings, store, profiler) => {
    const runtimeRegistry = new Registry()
    collectDefaultMetrics({ register: runtimeRegistry })
    return createApp({ store, settings, runtime: 'node', runtimeRegistry, profiler, clientAddress: (c) => getConnInfo(c).remote.address })
  },
  listen: (fetch, settings) =>
    new Promise((resolve, reject) => {
      const server = serve({ fetch, hostname: settings.host, port: settings.port }, (info) => {
        server.off('error', reject)
        resolve({
          hostname: info.address,
          port: info.port,
          // net.Server's close, not http.Server's: that one also closes the connections it thinks
          // idle, which drops a request whose bytes have arrived but are not read yet.
          stopAccepting: async () => void Server.prototype.close.call(server),
          close: () => {
            if ('closeAllConnections' in server) server.closeAllConnections()
          },
        })
      })
      server.once('error', reject)
    }),
  onSignal: (signal, handler) => process.on(signal, handler),
  unref: (timer) => timer.unref(),
  exit: (code) => process.exit(code),
})
