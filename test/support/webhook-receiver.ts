// A webhook receiver of the test's own, on 127.0.0.1: it keeps every request it
// gets (headers and the raw body, as a receiver must verify them) and answers what
// the test tells it to, so a test can take it down for a while and bring it back.
import { type IncomingHttpHeaders, createServer } from 'node:http'
import type { AddressInfo } from 'node:net'

export interface Received {
  headers: IncomingHttpHeaders
  body: string
  json: any
  /** The status the receiver answered it with. */
  answered: number
  at: number
}

export interface WebhookReceiver {
  url: string
  received: Received[]
  /** What it answers from now on (200 by default; 503 to be "down"). */
  answer(status: number): void
  close(): Promise<void>
}

export async function startWebhookReceiver(path = '/hook'): Promise<WebhookReceiver> {
  const received: Received[] = []
  let status = 200
  const server = createServer((request, response) => {
    const chunks: Buffer[] = []
    request.on('data', (chunk: Buffer) => chunks.push(chunk))
    request.on('end', () => {
      const body = Buffer.concat(chunks).toString('utf8')
      let json: unknown
      try {
        json = JSON.parse(body)
      } catch {
        json = undefined
      }
      received.push({ headers: request.headers, body, json, answered: status, at: Date.now() })
      response.writeHead(status, { 'Content-Type': 'text/plain' }).end(status < 300 ? 'ok' : 'down for a while')
    })
  })
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve))
  const { port } = server.address() as AddressInfo
  return {
    url: `http://127.0.0.1:${port}${path}`,
    received,
    answer: (next) => (status = next),
    close: () => new Promise<void>((resolve) => server.close(() => resolve())),
  }
}
