// `npm run bench:tracing`: what tracing costs heartbeat ingest on the Node server,
// as ratios to tracing off measured in the same run (the machine is shared): off,
// on at rate 0 (only callers' sampled traceparents would be traced; wrk sends
// none), and on at 1,000,000 per million (every request traced and exported to an
// OTLP/HTTP receiver on 127.0.0.1 that answers at once). Rounds alternate, so a
// slow moment of the machine falls on every mode alike.
import { createServer } from 'node:http'
import type { AddressInfo } from 'node:net'
import { mkdtempSync } from 'node:fs'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import { cyclingScript, median, runWrk } from './load.ts'
import { ingestRequest, populate, start } from './systems.ts'

const FLEET = 1000
const SECONDS = Number(process.env.BENCH_SECONDS ?? 5)
const ROUNDS = Number(process.env.BENCH_ROUNDS ?? 3)

const sink = createServer((request, response) => {
  request.resume()
  request.on('end', () => response.writeHead(200, { 'Content-Type': 'application/x-protobuf' }).end())
})
await new Promise<void>((resolve) => sink.listen(0, '127.0.0.1', resolve))
const receiver = `http://127.0.0.1:${(sink.address() as AddressInfo).port}`

const MODES = {
  off: {},
  'on, rate 0': { TRACING_EXPORTER_URL: receiver, TRACING_SAMPLING_RATE_PER_MILLION: '0' },
  'on, rate 1,000,000': { TRACING_EXPORTER_URL: receiver, TRACING_SAMPLING_RATE_PER_MILLION: '1000000' },
} as const

const dir = mkdtempSync(join(tmpdir(), 'pulsegate-bench-tracing-'))
const script = cyclingScript(dir, 'ingest-tracing', FLEET, 2, ingestRequest('pulsegate'))
const results = new Map<string, number[]>(Object.keys(MODES).map((mode) => [mode, []]))
for (let round = 1; round <= ROUNDS; round++) {
  for (const [mode, env] of Object.entries(MODES)) {
    const system = await start('pulsegate', env)
    try {
      await populate(system, FLEET)
      const { rps } = await runWrk({ url: system.url, seconds: SECONDS, connections: 64, threads: 2, script })
      results.get(mode)!.push(rps)
      console.error(`bench: round ${round}, tracing ${mode}: ${Math.round(rps)} req/s`)
    } finally {
      await system.stop()
    }
  }
}
sink.close()
const off = median(results.get('off')!)
console.log(`| tracing | ingest req/s (median of ${ROUNDS}) | ÷ off |\n| --- | --- | --- |`)
for (const [mode, runs] of results) console.log(`| ${mode} | ${Math.round(median(runs))} | ${(median(runs) / off).toFixed(2)}× |`)
