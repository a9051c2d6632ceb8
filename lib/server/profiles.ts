// The profiles a server takes of itself, through node:inspector's in-process session:
// Node's; Deno's too, when run with --allow-sys; Bun's for CPU only (its inspector has
// no HeapProfiler). What a runtime cannot do is said, not thrown: the routes answer 501.
import { Session } from 'node:inspector'
import { gzipSync } from 'node:zlib'
import { DEFAULT_PROFILE_SECONDS, type Profiler, ProfileBusyError, type Unavailable } from '../routes/debug.ts'
import { type CpuProfile, cpuProfileToPprof, type HeapProfile, heapProfileToPprof } from './pprof.ts'

/** 1 kHz: a 1-second profile already has a thousand samples. */
const CPU_INTERVAL_MICROS = 1000
/**
 * One sample per 128 KiB allocated. At Go's rate (512 KiB) the few MB pulsegate holds for
 * thousands of agents make a handful of samples; V8's (32 KiB) costs more for little more.
 * Sampling is not free in V8 as it is in Go: always on, it cost the server about a tenth of
 * its heartbeat and /readyz rate (measured side by side), so it runs from the start only with
 * DEBUG=true, and otherwise for the window a heap profile asks for.
 */
const HEAP_INTERVAL_BYTES = 128 * 1024

type Post = (method: string, params: object, callback: (error: Error | null, result: any) => void) => void

const describe = (error: unknown) => (error instanceof Error ? error.message : String(error))

/** Resolve after `ms`, or at once when `signal` aborts. */
function sleep(ms: number, signal: AbortSignal): Promise<void> {
  return new Promise((resolve) => {
    if (signal.aborted) return resolve()
    const done = () => {
      clearTimeout(timer)
      signal.removeEventListener('abort', done)
      resolve()
    }
    const timer = setTimeout(done, ms)
    signal.addEventListener('abort', done, { once: true })
  })
}

/**
 * Open the session; with `heapFromStart` (DEBUG=true) start heap sampling now, so that a
 * heap profile holds what was allocated since the start and is still live, as Go's does.
 * A CPU profile, and a heap window without it, runs only while asked for, one at a time.
 */
export async function openProfiler({ heapFromStart = false } = {}): Promise<Profiler> {
  const session = new Session()
  try {
    session.connect()
  } catch (error) {
    // Deno: "Requires sys access to "inspector", run again with the --allow-sys flag".
    const unavailable: Unavailable = { unavailable: `profiles need node:inspector, which cannot be opened here: ${describe(error)}` }
    return { cpu: unavailable, heap: unavailable }
  }
  const post = <T>(method: string, params: object = {}) =>
    new Promise<T>((resolve, reject) => (session.post as Post).call(session, method, params, (error, result) => (error ? reject(error) : resolve(result))))
  const cpu = await post('Profiler.enable').then(
    () => takeCpuProfile(post),
    (error: unknown): Unavailable => ({ unavailable: `this runtime's inspector cannot take CPU profiles: ${describe(error)}` }),
  )
  const startSampling = () => post('HeapProfiler.startSampling', { samplingInterval: HEAP_INTERVAL_BYTES })
  // Started and stopped once even without DEBUG: a runtime that cannot sample says so at the first ask, not mid-window.
  const heap = await startSampling().then(
    async () => {
      if (!heapFromStart) await post('HeapProfiler.stopSampling')
      return takeHeapProfile(post, startSampling, heapFromStart)
    },
    (error: unknown): Unavailable => ({ unavailable: `this runtime's inspector cannot take heap profiles: ${describe(error)}` }),
  )
  return { cpu, heap }
}

function takeHeapProfile(post: <T>(method: string, params?: object) => Promise<T>, startSampling: () => Promise<unknown>, fromStart: boolean) {
  let window = false
  const profileNow = async () => {
    const takenAt = Date.now()
    const { profile } = await post<{ profile: HeapProfile }>('HeapProfiler.getSamplingProfile')
    return gzipSync(heapProfileToPprof(profile, { takenAt, intervalBytes: HEAP_INTERVAL_BYTES }))
  }
  return async (seconds: number | undefined, signal: AbortSignal): Promise<Uint8Array> => {
    if (fromStart) return profileNow()
    if (window) throw new ProfileBusyError('a heap profile is being taken already; ask again once it is done')
    window = true
    let sampling = false
    try {
      await startSampling()
      sampling = true
      await sleep((seconds ?? DEFAULT_PROFILE_SECONDS) * 1000, signal)
      return await profileNow()
    } finally {
      if (sampling) await post('HeapProfiler.stopSampling').catch(() => {})
      window = false
    }
  }
}

function takeCpuProfile(post: <T>(method: string, params?: object) => Promise<T>) {
  let running = false
  return async (seconds: number, signal: AbortSignal): Promise<Uint8Array> => {
    if (running) throw new ProfileBusyError('a CPU profile is being taken already; ask again once it is done')
    running = true
    try {
      await post('Profiler.setSamplingInterval', { interval: CPU_INTERVAL_MICROS })
      await post('Profiler.start')
      const startedAt = Date.now()
      await sleep(seconds * 1000, signal)
      const { profile } = await post<{ profile: CpuProfile }>('Profiler.stop')
      return gzipSync(cpuProfileToPprof(profile, { startedAt, intervalMicros: CPU_INTERVAL_MICROS }))
    } finally {
      running = false
    }
  }
}
