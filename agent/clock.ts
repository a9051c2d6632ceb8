// pulsegate-agent, the Node sidecar: agent/ may use node: modules (unlike the
// portable core in lib/, which runs on Workers too). This file holds what the
// agent needs from the world besides HTTP — time, randomness and a log — so
// tests can inject their own and never wait for a real interval.

export interface Clock {
  /** ms since the epoch. */
  now(): number
  /** Wait `ms`; resolves early (never rejects) when `signal` aborts. */
  sleep(ms: number, signal?: AbortSignal): Promise<void>
}

export const systemClock: Clock = {
  now: () => Date.now(),
  sleep: (ms, signal) =>
    new Promise((resolve) => {
      if (signal?.aborted) return resolve()
      const done = () => {
        clearTimeout(timer)
        signal?.removeEventListener('abort', done)
        resolve()
      }
      const timer = setTimeout(done, Math.max(0, ms))
      signal?.addEventListener('abort', done, { once: true })
    }),
}

/** Writes one line; the agent's lines go to stderr with a timestamp. */
export type Log = (line: string) => void

export function stderrLog(clock: Clock): Log {
  return (line) => process.stderr.write(`${new Date(clock.now()).toISOString()} pulsegate-agent: ${line}\n`)
}
