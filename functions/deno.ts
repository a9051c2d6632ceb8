// Deno and Deno Deploy: settings from env → Deno KV store → app → Deno.serve.
import { getConnInfo } from 'hono/deno'
import { collectDefaultMetrics, Registry } from 'prom-client'
import { createApp } from '../lib/app.ts'
import { run } from '../lib/serve.ts'
import { openDenoKvStore } from '../lib/stores/deno-kv.ts'

// On Deno Deploy the KV has no path: it is the deployment's own.
const onDeploy = Deno.env.get('DENO_DEPLOYMENT_ID') !== undefined

function canRead(path: string): boolean {
  try {
    Deno.readTextFileSync(path)
    return true
  } catch {
    return false
  }
}

await run({
  env: Deno.env.toObject(),
  openStore: (settings) => openDenoKvStore({ dataDir: onDeploy ? undefined : settings.dataDir }, settings),
  app: (settings, store, profiler) => {
    const runtimeRegistry = new Registry()
    collectDefaultMetrics({ register: runtimeRegistry })
    // Only --allow-all may read /proc/self, where prom-client reads these on Linux: rather than a false 0, leave them out.
    if (Deno.build.os === 'linux' && !canRead('/proc/self/status')) {
      for (const name of ['process_resident_memory_bytes', 'process_virtual_memory_bytes', 'process_heap_bytes', 'process_open_fds']) {
        runtimeRegistry.removeSingleMetric(name)
      }
    }
    // Deno.serve hands the app the connection's info, which knows each request's peer.
    return createApp({ store, settings, runtime: 'deno', runtimeRegistry, profiler, clientAddress: (c) => getConnInfo(c).remote.address })
  },
  listen: async (fetch, settings) => {
    const server = Deno.serve({ hostname: settings.host, port: settings.port, onListen: () => {} }, fetch)
    return {
      hostname: server.addr.hostname,
      port: server.addr.port,
      // Deno stops taking connections only with shutdown(), which also drops the connections whose
      // request it has not read yet: so it keeps taking them while the requests in flight drain,
      // every answer closing its connection, and shuts down once it is quiet.
      stopAccepting: async () => {},
      close: () => void server.shutdown(),
    }
  },
  onSignal: (signal, handler) => Deno.addSignalListener(signal, handler),
  unref: (timer) => Deno.unrefTimer(timer as unknown as number),
  exit: (code) => Deno.exit(code),
})
