// Deno and Deno Deploy: settings from env → Deno KV store → app → Deno.serve.
import { collectDefaultMetrics, Registry } from 'prom-client'
import { createApp } from '../lib/app.ts'
import { listening, start, whileServing } from '../lib/serve.ts'
import { openDenoKvStore } from '../lib/stores/deno-kv.ts'

const exit = (code: number) => Deno.exit(code)
// On Deno Deploy the KV has no path: it is the deployment's own.
const onDeploy = Deno.env.get('DENO_DEPLOYMENT_ID') !== undefined
const started = await start(
  Deno.env.toObject(),
  (settings) => openDenoKvStore({ dataDir: onDeploy ? undefined : settings.dataDir }, settings),
  exit,
)
const { settings, store } = started

function canRead(path: string): boolean {
  try {
    Deno.readTextFileSync(path)
    return true
  } catch {
    return false
  }
}

const runtimeRegistry = new Registry()
collectDefaultMetrics({ register: runtimeRegistry })
// Only --allow-all may read /proc/self, where prom-client reads these on Linux: rather than a false 0, leave them out.
if (Deno.build.os === 'linux' && !canRead('/proc/self/status')) {
  for (const name of ['process_resident_memory_bytes', 'process_virtual_memory_bytes', 'process_heap_bytes', 'process_open_fds']) {
    runtimeRegistry.removeSingleMetric(name)
  }
}
const app = createApp({ store, settings, runtime: 'deno', runtimeRegistry })

// Said below, once SIGTERM is handled too: "listening" means ready for everything.
const server = Deno.serve({ hostname: settings.host, port: settings.port, onListen: () => {} }, app.fetch)
const serving = whileServing(started, () => server.shutdown(), exit)
Deno.unrefTimer(serving.sweeper)
Deno.addSignalListener('SIGTERM', () => void serving.shutdown('SIGTERM'))
Deno.addSignalListener('SIGINT', () => void serving.shutdown('SIGINT'))
console.log(listening(server.addr.hostname, server.addr.port, settings))
