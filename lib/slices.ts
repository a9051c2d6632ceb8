// Work over a whole fleet (the view behind /metrics, /v1/agents and ?verbose; the
// exposition's per-component lines) is done in slices, with the event loop let
// through between them, so one large read never holds up a probe or a heartbeat.

/** Items a slice handles before the event loop is let through: about a millisecond of work. */
export const SLICE = 2000

/** Let the event loop run whatever is waiting (I/O first where the runtime can say so). */
export const yieldToLoop: () => Promise<void> = (() => {
  // Not every runtime has setImmediate (nor declares it: lib/ is typed without Node's globals there).
  const immediate = (globalThis as { setImmediate?: (callback: () => void) => unknown }).setImmediate
  return immediate ? () => new Promise<void>((resolve) => void immediate(resolve)) : () => new Promise<void>((resolve) => setTimeout(resolve, 0))
})()

/** Call `each` for every item, yielding to the event loop after every SLICE of them. */
export async function forEachInSlices<T>(items: Iterable<T>, each: (item: T) => void): Promise<void> {
  let done = 0
  for (const item of items) {
    each(item)
    if (++done % SLICE === 0) await yieldToLoop()
  }
}

/** A body made of chunks, sent one at a time as the reader asks for them. */
export function streamOf(chunks: readonly string[]): ReadableStream<Uint8Array> {
  const encoder = new TextEncoder()
  let next = 0
  return new ReadableStream({
    pull(controller) {
      if (next < chunks.length) controller.enqueue(encoder.encode(chunks[next++]))
      else controller.close()
    },
  })
}
