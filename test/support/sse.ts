// Server-sent events as a client reads them: blocks split at blank lines, comments
// (`: idle`) skipped, `data` parsed as JSON.

export interface ReceivedEvent {
  event: string
  id: string
  data: any
}

export interface EventReader {
  /** The next `count` events (fewer if the stream ends first). */
  take(count: number): Promise<ReceivedEvent[]>
  /** Let go of the stream: the server sees the client leave. */
  close(): Promise<void>
}

export function eventReader(body: ReadableStream<Uint8Array>): EventReader {
  const reader = body.pipeThrough(new TextDecoderStream()).getReader()
  const ready: ReceivedEvent[] = []
  let buffer = ''
  const parse = () => {
    for (let end = buffer.indexOf('\n\n'); end >= 0; end = buffer.indexOf('\n\n')) {
      const fields = new Map<string, string>()
      for (const line of buffer.slice(0, end).split('\n')) {
        const colon = line.indexOf(':')
        if (colon <= 0) continue // a comment (`: idle`), or not a field
        fields.set(line.slice(0, colon), line.slice(colon + 1).replace(/^ /, ''))
      }
      buffer = buffer.slice(end + 2)
      if (fields.has('data')) ready.push({ event: fields.get('event') ?? 'message', id: fields.get('id') ?? '', data: JSON.parse(fields.get('data')!) })
    }
  }
  return {
    async take(count) {
      while (ready.length < count) {
        const { value, done } = await reader.read()
        if (done) break
        buffer += value
        parse()
      }
      return ready.splice(0, count)
    },
    close: () => reader.cancel().catch(() => {}),
  }
}

/** Read `count` events off `body`, then let go of it. */
export async function readEvents(body: ReadableStream<Uint8Array>, count: number): Promise<ReceivedEvent[]> {
  const events = eventReader(body)
  try {
    return await events.take(count)
  } finally {
    await events.close()
  }
}
