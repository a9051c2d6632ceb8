// Items that callbacks hand over (a store's listeners, a socket's messages), read
// as one async stream: the shape both watch() implementations need.

/** Items pushed from callbacks, read in order until `signal` aborts or the inbox is closed. */
export class Inbox<T> {
  private readonly items: T[] = []
  private wake: (() => void) | undefined
  private closed = false

  push(...items: T[]): void {
    this.items.push(...items)
    this.wake?.()
  }

  /** No more will come: a reader ends once it has read what is there. */
  close(): void {
    this.closed = true
    this.wake?.()
  }

  async *read(signal: AbortSignal): AsyncIterable<T> {
    while (!signal.aborted) {
      for (let item = this.items.shift(); item !== undefined; item = this.items.shift()) yield item
      // An aborted signal fires no more 'abort': look before waiting.
      if (signal.aborted || this.closed) return
      await new Promise<void>((resolve) => {
        this.wake = resolve
        signal.addEventListener('abort', () => resolve(), { once: true })
      })
      this.wake = undefined
    }
  }
}
