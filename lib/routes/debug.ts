// Go's net/http/pprof, for the two profiles pulsegate takes of itself:
// GET /debug/pprof/profile?seconds=N (CPU, default 30, 1–300) and GET /debug/pprof/heap[?seconds=N],
// each a gzipped pprof file. On the main port with DEBUG=true, for clients on this
// machine only; always on the debug socket (lib/server/debug-service.ts), whose file
// mode decides who asks. Portable: the profiler and the client's address are handed in.
import { type Context, Hono } from 'hono'
import { ApiError } from '../errors.ts'
import { isLoopback } from '../settings.ts'

/** Why a runtime cannot take a profile (a 501 says it). */
export interface Unavailable {
  unavailable: string
}

/** What takes the profiles (lib/server/profiles.ts): each resolves to a gzipped pprof file. */
export interface Profiler {
  /** A CPU profile of `seconds`, cut short when `signal` aborts: a client that hangs up stops it. */
  cpu: ((seconds: number, signal: AbortSignal) => Promise<Uint8Array>) | Unavailable
  /**
   * The live heap, by the stacks that allocated it: everything sampled since the start
   * when sampling runs from the start (DEBUG=true), else what a window of `seconds`
   * allocated and still holds (sampling costs throughput, so it runs only when asked).
   */
  heap: ((seconds: number | undefined, signal: AbortSignal) => Promise<Uint8Array>) | Unavailable
}

/** Thrown by a CPU profile asked for while another is being taken: two at once would each count the other's cost. */
export class ProfileBusyError extends Error {
  name = 'ProfileBusyError'
}

export const DEFAULT_PROFILE_SECONDS = 30
export const MAX_PROFILE_SECONDS = 300

/** What an app that was handed no profiler answers with. */
const NO_PROFILER: Unavailable = { unavailable: "this runtime's entry takes no profiles; use the debug socket (pulsegate debug profile)" }

export interface DebugRouteOptions {
  profiler?: Profiler | undefined
  /**
   * The main port's rule: only clients on this machine, known by their address (undefined
   * where the runtime's entry cannot tell). Absent on the debug socket.
   */
  loopbackOnly?: { clientAddress: ((c: Context) => string | undefined) | undefined }
}

/** A loopback peer, also as an IPv4-mapped IPv6 address (a server listening on ::). */
export function isLoopbackAddress(address: string | undefined): boolean {
  return address !== undefined && isLoopback(address.replace(/^::ffff:/i, ''))
}

function refusal(c: Context, clientAddress: ((c: Context) => string | undefined) | undefined): string | undefined {
  if (!clientAddress) return 'this runtime does not tell pulsegate who is asking, so /debug/pprof/ is refused here; use the debug socket (pulsegate debug profile)'
  const address = clientAddress(c)
  if (!isLoopbackAddress(address)) return `/debug/pprof/ answers clients on this machine only, not ${address ?? 'an unknown address'}`
  // A proxy on this machine makes every client loopback; the ones that say so are refused.
  if (c.req.header('forwarded') ?? c.req.header('x-forwarded-for')) return '/debug/pprof/ does not answer through a proxy'
  return undefined
}

function pprofFile(c: Context, name: string, bytes: Uint8Array): Response {
  return c.body(bytes as Uint8Array<ArrayBuffer>, 200, {
    'Content-Type': 'application/octet-stream',
    'Content-Disposition': `attachment; filename="${name}"`,
  })
}

function secondsOf(text: string): number {
  const seconds = /^\d{1,3}$/.test(text) ? Number(text) : NaN
  if (!(seconds >= 1 && seconds <= MAX_PROFILE_SECONDS)) {
    throw new ApiError(400, 'invalid_seconds', `seconds must be a whole number from 1 to ${MAX_PROFILE_SECONDS}, not ${JSON.stringify(text)}`)
  }
  return seconds
}

/** A profile as a file; 501 where the runtime cannot take it, 409 while one is being taken. */
async function answer<T extends (...args: never[]) => Promise<Uint8Array>>(c: Context, name: string, taker: T | Unavailable, take: (taker: T) => Promise<Uint8Array>) {
  if (typeof taker !== 'function') throw unavailable(taker)
  try {
    return pprofFile(c, name, await take(taker))
  } catch (error) {
    if (error instanceof ProfileBusyError) throw new ApiError(409, 'profile_in_progress', error.message)
    throw error
  }
}

const unavailable = (what: Unavailable) => new ApiError(501, 'not_implemented', what.unavailable)

export function debugRoutes({ profiler = { cpu: NO_PROFILER, heap: NO_PROFILER }, loopbackOnly }: DebugRouteOptions): Hono<any> {
  const app = new Hono()
  if (loopbackOnly) {
    app.use('/debug/pprof/*', async (c, next) => {
      const reason = refusal(c, loopbackOnly.clientAddress)
      if (reason) throw new ApiError(403, 'forbidden', reason)
      await next()
    })
  }
  app.get('/debug/pprof/profile', (c) => {
    const seconds = secondsOf(c.req.query('seconds') ?? String(DEFAULT_PROFILE_SECONDS))
    return answer(c, 'cpu.pprof', profiler.cpu, (take) => take(seconds, c.req.raw.signal))
  })
  app.get('/debug/pprof/heap', (c) => {
    const text = c.req.query('seconds')
    const seconds = text === undefined ? undefined : secondsOf(text)
    return answer(c, 'heap.pprof', profiler.heap, (take) => take(seconds, c.req.raw.signal))
  })
  return app
}
