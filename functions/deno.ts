// Deno and Deno Deploy: settings from env → Deno KV store → app → Deno.serve.
import { collectDefaultMetrics, Registry } from 'prom-client'
import { createApp } from '../lib/app.ts'
import { checkExposure, loadSettings, SettingsError } from '../lib/settings.ts'
import { KvOpenError, openDenoKvStore } from '../lib/stores/deno-kv.ts'

async function open() {
  try {
    const settings = loadSettings(Deno.env.toObject())
    checkExposure(settings)
    // On Deno Deploy the KV has no path: it is the deployment's own.
    const dataDir = Deno.env.get('DENO_DEPLOYMENT_ID') ? undefined : settings.dataDir
    return { settings, store: await openDenoKvStore({ dataDir }, settings) }
  } catch (error) {
    if (!(error instanceof SettingsError || error instanceof KvOpenError)) throw error
    console.error(`pulsegate: ${error.message}`)
    Deno.exit(1)
  }
}

function canRead(path: string): boolean {
  try {
    Deno.readTextFileSync(path)
    return true
  } catch {
    return false
  }
}

const { settings, store } = await open()
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
const sweeper = setInterval(() => void store.sweep(Date.now()), settings.sweepSeconds * 1000)
Deno.unrefTimer(sweeper)

let closing = false
async function shutdown(signal: string) {
  if (closing) return
  closing = true
  console.log(`pulsegate: ${signal}, closing`)
  clearInterval(sweeper)
  // Every acknowledged heartbeat is already committed; closing only tidies up.
  await server.shutdown()
  await store.close()
  Deno.exit(0)
}
Deno.addSignalListener('SIGTERM', () => void shutdown('SIGTERM'))
Deno.addSignalListener('SIGINT', () => void shutdown('SIGINT'))
console.log(`pulsegate listening on http://${server.addr.hostname}:${server.addr.port} (data in ${settings.dataDir})`)
