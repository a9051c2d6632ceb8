// What every entry that runs its own server (Node, Bun, Deno) does around it:
// start, or say in one line why not; sweep expired components while it runs;
// and on SIGTERM or SIGINT stop taking requests, answer those in flight, and
// close. Runtime-neutral: each entry hands in its own way to listen and to exit.
import { VERSION } from './app.ts'
import { type Tracing, startTracing } from './server/tracing.ts'
import { type DebugService, openDebugService } from './server/debug-service.ts'
import { openProfiler } from './server/profiles.ts'
import type { Profiler } from './routes/debug.ts'
import { Courier } from './notify/courier.ts'
import { sinksOf } from './notify/sinks.ts'
import type { Hono } from 'hono'
import { inBackground } from './background.ts'
import { configureLogging, logEvents, logger } from './logging.ts'
import { checkExposure, loadSettings, type Settings, StartError } from './settings.ts'
import type { Store } from './stores/store.ts'

/** How long a stop waits for the requests in flight before it closes their connections. */
export const DRAIN_SECONDS = 10
/** How long a stop still takes connections, at most, for those already on their way. */
const LAME_DUCK_MS = 1000
/** A stop is done once no request has been in flight for this long: those already sent on open connections are read by then. */
const DRAIN_QUIET_MS = 200
const DRAIN_POLL_MS = 20

/** Resolve once `inFlight()` has been 0 for DRAIN_QUIET_MS, or at `deadline`. */
async function untilQuiet(inFlight: () => number, deadline: number): Promise<void> {
  for (let quiet = 0; quiet < DRAIN_QUIET_MS && Date.now() < deadline; quiet = inFlight() > 0 ? 0 : quiet + DRAIN_POLL_MS) {
    await new Promise((resolve) => setTimeout(resolve, DRAIN_POLL_MS))
  }
}

/** A server that listens. */
export interface Listening {
  hostname: string
  port: number
  /** Stop taking connections (keeping those open, so that requests already sent are read and answered). */
  stopAccepting(): Promise<void>
  /** Close whatever is still open. */
  close(): void
}

/** The app's fetch, as a runtime's server calls it. */
export type Fetch = (request: Request, ...rest: any[]) => Response | Promise<Response>

/** What an entry hands in: its runtime's ways to open a store, listen, be told of a signal, and exit. */
export interface Entry<S extends Store> {
  env: Record<string, unknown>
  openStore: (settings: Settings) => S | Promise<S>
  /** `profiler` is the process's one, shared with the debug socket (for DEBUG=true's /debug/pprof/). */
  app: (settings: Settings, store: S, profiler: Profiler) => Hono<any>
  /** Resolve once listening; reject with the runtime's own error. */
  listen: (fetch: Fetch, settings: Settings) => Promise<Listening>
  onSignal: (signal: 'SIGTERM' | 'SIGINT', handler: () => void) => void
  /** Let a timer not keep the process alive. */
  unref: (timer: ReturnType<typeof setInterval>) => void
  exit: (code: number) => never
}

/** Why a server could not listen, in one line. The runtimes spell their errors two ways: Node's codes, Deno's names. */
export function listenFailure(error: unknown, { host, port }: Pick<Settings, 'host' | 'port'>): string {
  const { code, name, message } = error as { code?: string; name?: string; message?: string }
  const where = `${host}:${port}`
  switch (code ?? name) {
    case 'EADDRINUSE':
    case 'AddrInUse':
      return `cannot listen on ${where}: the port is in use (is another server on it?); set PORT to another port`
    case 'EADDRNOTAVAIL':
    case 'AddrNotAvailable':
      return `cannot listen on ${host}: it is not an address of this machine; set HOST to one that is, or 0.0.0.0`
    case 'ENOTFOUND':
    case 'EAI_AGAIN':
      return `cannot listen on ${host}: no such host; set HOST to an address of this machine`
    case 'EACCES':
    case 'PermissionDenied':
      return `cannot listen on ${where}: permission denied (a port below 1024 needs privileges)`
  }
  // Deno names an unknown host only in the message.
  if (/lookup|resolve|not known/i.test(message ?? '')) return `cannot listen on ${host}: no such host; set HOST to an address of this machine`
  return `cannot listen on ${where}: ${message ?? String(error)}`
}

/** The line tests and people wait for: said once the server takes requests and signals. */
export function listening(hostname: string, port: number, settings: Settings): string {
  return `pulsegate listening on http://${hostname}:${port} (data in ${settings.dataDir})`
}

/**
 * Run a server: settings from env, checked; the store opened; the app served.
 * Every reason not to start is one line on stderr and exit code 1. While it
 * runs, expired components are swept, and nothing the sweep meets can end the
 * process. SIGTERM and SIGINT stop it cleanly, once.
 */
export async function run<S extends Store>(entry: Entry<S>): Promise<void> {
  const fail = (message: string): never => {
    console.error(`pulsegate: ${message}`)
    return entry.exit(1)
  }
  let settings: Settings
  let store: S
  let tracing: Tracing | undefined
  try {
    settings = loadSettings(entry.env)
    checkExposure(settings)
    configureLogging({ severity: settings.logSeverity, format: settings.logFormat })
    // Before the store opens, so its first commit is traced like every other.
    tracing = await startTracing(settings.tracing, { name: 'pulsegate', version: VERSION })
    store = await entry.openStore(settings)
    // LOG_SEVERITY=debug: every change of state, once stored (the engine tells its listeners after each commit).
    if ('onEvents' in store && typeof store.onEvents === 'function') store.onEvents(logEvents)
  } catch (error) {
    if (!(error instanceof StartError)) throw error
    return fail(error.message)
  }
  // Requests being answered, and whether a stop has begun: then every answer closes its connection.
  let active = 0
  let stopping = false
  // Heap sampling starts here, so a heap profile shows what the app and store hold.
  const profiler = await openProfiler({ heapFromStart: settings.debug })
  const app = entry.app(settings, store, profiler)
  const fetch: Fetch = async (request, ...rest) => {
    active++
    try {
      const response = await app.fetch(request, ...rest)
      if (stopping) response.headers.set('Connection', 'close')
      return response
    } finally {
      active--
    }
  }
  let server: Listening
  try {
    server = await entry.listen(fetch, settings)
  } catch (error) {
    await store.close().catch(() => {})
    return fail(listenFailure(error, settings))
  }
  // Always on, DEBUG or not: profiles for whoever may open DATA_DIR/debug.sock (lib/server/debug-service.ts).
  const debugService: DebugService | undefined = await openDebugService(settings.dataDir, profiler).catch((error: Error) => {
    logger.warn(`pulsegate: no debug socket in ${settings.dataDir}: ${error.message}`)
    return undefined
  })

  const sinks = sinksOf(settings)
  const courier = sinks.length > 0 ? new Courier(store, sinks) : undefined
  const sweeper = new Sweeper(store, settings.sweepSeconds * 1000, entry.unref, courier)
  sweeper.start()
  // Alertmanager forgets a firing alert past its endsAt: post the firing ones again while they fire.
  const resend = courier && settings.alertmanagerUrls.length > 0 ? setInterval(() => void courier.resend(), settings.alertmanagerResendSeconds * 1000) : undefined
  if (resend) entry.unref(resend)
  const stop = async (signal: string) => {
    if (stopping) return
    stopping = true
    logger.info(`pulsegate: ${signal}, closing`)
    sweeper.stop()
    clearInterval(resend) // a firing alert stays firing: a clean stop does not resolve what is still true
    // Every acknowledged heartbeat is already stored: what a stop owes is an answer to what was
    // asked. For a moment it still takes the connections that were already on their way (closing
    // a listener resets those it has not accepted yet), then it stops taking any and answers what
    // is in flight, each answer closing its connection, until nothing has been asked for a while.
    // All within the grace; then whatever is left is closed.
    const deadline = Date.now() + DRAIN_SECONDS * 1000
    await untilQuiet(() => active, Math.min(deadline, Date.now() + LAME_DUCK_MS))
    await server.stopAccepting()
    await untilQuiet(() => active, deadline)
    server.close()
    debugService?.close()
    await store.close().catch((error: unknown) => logger.error('pulsegate: closing the store failed', { error }))
    await tracing?.shutdown()
    entry.exit(0)
  }
  entry.onSignal('SIGTERM', () => void stop('SIGTERM'))
  entry.onSignal('SIGINT', () => void stop('SIGINT'))
  // Said last, once the signals are handled too: "listening" means ready for everything.
  console.log(listening(server.hostname, server.port, settings))
}

/** What a store that can say when it next needs a sweep offers (the engine does; lib/stores/engine.ts). */
interface Wakeful {
  nextWake(now: number): number
  onWake(listener: (at: number) => void): () => void
}

/**
 * Sweeps the store every SWEEP_SECONDS, and sooner when a deadline passes or a
 * component expires before then, so a missed deadline is recorded as it happens
 * (history, notifications) without waiting for a request or the next period.
 */
class Sweeper {
  private timer: ReturnType<typeof setTimeout> | undefined
  private timerAt = Infinity
  private stopped = false
  private stopListening: (() => void) | undefined
  private readonly store: Store & Partial<Wakeful>
  private readonly periodMs: number
  private readonly unref: (timer: ReturnType<typeof setTimeout>) => void
  private readonly courier: Courier | undefined

  constructor(store: Store & Partial<Wakeful>, periodMs: number, unref: (timer: ReturnType<typeof setTimeout>) => void, courier?: Courier) {
    this.store = store
    this.periodMs = periodMs
    this.unref = unref
    this.courier = courier
  }

  start(): void {
    this.stopListening = this.store.onWake?.((at) => this.at(at))
    // What came due while pulsegate was down (a deadline, a notification owed) is handled at once.
    this.at(this.store.nextWake?.(Date.now()) ?? Date.now() + this.periodMs)
  }

  stop(): void {
    this.stopped = true
    this.stopListening?.()
    clearTimeout(this.timer)
  }

  /** Sweep at `at`, or at the next period if that is sooner; never later than what is already planned. */
  private at(at: number): void {
    const when = Math.min(at, Date.now() + this.periodMs)
    if (this.stopped || when >= this.timerAt) return
    clearTimeout(this.timer)
    this.timerAt = when
    this.timer = setTimeout(() => void this.sweep(), Math.max(0, when - Date.now()))
    this.unref(this.timer)
  }

  private async sweep(): Promise<void> {
    this.timerAt = Infinity
    this.timer = undefined
    await inBackground('sweep', () => this.store.sweep(Date.now()))
    // What the sweep (or a heartbeat since) owes someone goes out now; the courier never throws.
    await this.courier?.drain()
    const now = Date.now()
    // Something due that the sweep could not record (a failing disk) waits a while, not a busy loop.
    this.at(Math.max(now + Math.min(1000, this.periodMs), this.store.nextWake?.(now) ?? Infinity))
  }
}
