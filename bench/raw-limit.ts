// The limit: what a bare node:http server on the same Node does with the same
// requests. It parses the same JSON heartbeat body (one, or an array) into a Map
// and answers a small JSON; any GET gets a constant JSON body, as a probe would.
// No validation, no state machine, no disk: pulsegate can only get close to it.
import { createServer } from 'node:http'

const agents = new Map<string, { status: string; lastSeen: number }>()
const PROBE = JSON.stringify({ status: 'ok', state: 'ok' })

function reply(res: import('node:http').ServerResponse, code: number, body: string) {
  res.writeHead(code, { 'Content-Type': 'application/json', 'Content-Length': Buffer.byteLength(body) })
  res.end(body)
}

const server = createServer((req, res) => {
  if (req.method !== 'POST') return reply(res, 200, PROBE)
  const chunks: Buffer[] = []
  req.on('data', (chunk: Buffer) => chunks.push(chunk))
  req.on('end', () => {
    let beats: { agent?: unknown; status?: unknown }[]
    try {
      const body: unknown = JSON.parse(Buffer.concat(chunks).toString('utf8'))
      beats = Array.isArray(body) ? body : [body as object]
    } catch {
      return reply(res, 400, '{"error":"bad json"}')
    }
    const now = Date.now()
    for (const beat of beats) agents.set(String(beat.agent), { status: String(beat.status), lastSeen: now })
    reply(res, 200, `{"accepted":${beats.length},"agents":${agents.size}}`)
  })
})

server.listen(Number(process.env.PORT ?? 0), '127.0.0.1', () => {
  const address = server.address()
  const port = typeof address === 'object' && address ? address.port : 0
  console.log(`raw limit listening on http://127.0.0.1:${port}`)
})
process.on('SIGTERM', () => process.exit(0))
process.on('SIGINT', () => process.exit(0))
