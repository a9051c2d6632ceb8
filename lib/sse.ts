// A stream of events as Server-Sent Events, the one way pulsegate sends them
// (/v1/events/stream, the status pages' /status/~/events): a `retry` first (so
// the client sees the stream open at once), each event with its id, a comment
// when nothing happened for a while (so proxies keep the connection), and the
// source closed as soon as the client goes.
import type { Context } from 'hono'
import { streamSSE } from 'hono/streaming'

/** What a reconnecting EventSource waits, in ms. */
export const RETRY_MS = 3000
/** A comment on an idle stream this often, below the 30–60 s proxies close idle connections after. */
export const KEEP_ALIVE_MS = 25_000

export interface SseMessage {
  event: string
  id: string
  data: string
}

const IDLE = Symbol('idle')

/** A wait of `ms` that resolves to IDLE, and its cancel. */
function idleFor(ms: number): { elapsed: Promise<typeof IDLE>; cancel: () => void } {
  let cancel = () => {}
  const elapsed = new Promise<typeof IDLE>((resolve) => {
    const timer = setTimeout(() => resolve(IDLE), ms)
    cancel = () => clearTimeout(timer)
  })
  return { elapsed, cancel }
}

/** Send what `open(signal)` yields, as `toMessage` says (undefined: skip it), until the client goes or the source ends. */
export function relay<T>(
  c: Context,
  open: (signal: AbortSignal) => AsyncIterable<T>,
  toMessage: (item: T) => SseMessage | undefined | Promise<SseMessage | undefined>,
  keepAliveMs = KEEP_ALIVE_MS,
): Response {
  // Opened now, not when the stream first runs: a watch listens from the moment it is
  // opened, so an event stored between this answer and the first write is not missed.
  const abort = new AbortController()
  const iterator = open(abort.signal)[Symbol.asyncIterator]()
  let next = iterator.next()
  return streamSSE(c, async (stream) => {
    stream.onAbort(() => abort.abort())
    let idle: ReturnType<typeof idleFor> | undefined
    try {
      await stream.write(`retry: ${RETRY_MS}\n\n`)
      while (!abort.signal.aborted) {
        idle = idleFor(keepAliveMs)
        const result = await Promise.race([next, idle.elapsed])
        idle.cancel()
        if (result === IDLE) {
          await stream.write(': idle\n\n')
          continue
        }
        if (result.done) break
        next = iterator.next()
        const message = await toMessage(result.value)
        if (message) await stream.writeSSE(message)
      }
    } finally {
      idle?.cancel()
      abort.abort()
      await iterator.return?.()
    }
  })
}
