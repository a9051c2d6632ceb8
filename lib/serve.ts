// What every entry that runs its own server (Node, Bun, Deno) does around it:
// start, or say in one line why not; sweep expired components while it runs;
// and close on SIGTERM or SIGINT. Runtime-neutral: each entry hands in its own
// way to exit and to stop its server.
import { checkExposure, loadSettings, type Settings, StartError } from './settings.ts'
import type { Store } from './stores/store.ts'

export interface Started<S extends Store> {
  settings: Settings
  store: S
}

/** Settings from env, checked, and the store opened; on a StartError, one line on stderr and exit 1. */
export async function start<S extends Store>(
  env: Record<string, unknown>,
  openStore: (settings: Settings) => S | Promise<S>,
  exit: (code: number) => never,
): Promise<Started<S>> {
  try {
    const settings = loadSettings(env)
    checkExposure(settings)
    return { settings, store: await openStore(settings) }
  } catch (error) {
    if (!(error instanceof StartError)) throw error
    console.error(`pulsegate: ${error.message}`)
    return exit(1)
  }
}

export interface Serving {
  /** The sweep timer, for runtimes that must be told it should not keep them alive. */
  sweeper: ReturnType<typeof setInterval>
  shutdown: (signal: string) => Promise<void>
}

/** Sweep every SWEEP_SECONDS; shutdown() stops the server, closes the store and exits 0, once. */
export function whileServing(
  { settings, store }: Started<Store>,
  stopServer: () => unknown,
  exit: (code: number) => never,
): Serving {
  const sweeper = setInterval(() => void store.sweep(Date.now()), settings.sweepSeconds * 1000)
  let closing = false
  return {
    sweeper,
    async shutdown(signal) {
      if (closing) return
      closing = true
      console.log(`pulsegate: ${signal}, closing`)
      clearInterval(sweeper)
      // Every acknowledged heartbeat is already committed; closing only tidies up.
      await stopServer()
      await store.close()
      exit(0)
    },
  }
}

/** The line tests and people wait for: said once the server takes requests and signals. */
export function listening(hostname: string, port: number, settings: Settings): string {
  return `pulsegate listening on http://${hostname}:${port} (data in ${settings.dataDir})`
}
