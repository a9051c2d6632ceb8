// Reads that cannot stall the server. The fleet-wide reads (/metrics, ?verbose,
// /v1/agents) build their view, and /metrics its per-component lines, in slices
// with the event loop let through between them: proven by counting how often the
// loop got to run other work during one such read. And, against the real server,
// how long probes wait while two clients read the largest answers in a loop:
// measured with wrk and reported, never asserted (this machine's timings are too
// noisy for that).
import { spawn } from 'node:child_process'
import http from 'node:http'
import { afterAll, beforeAll, describe, expect, it } from 'vitest'
import { createApp } from '../lib/app.ts'
import { loadSettings } from '../lib/settings.ts'
import { SLICE } from '../lib/slices.ts'
import { MemoryStore } from '../lib/stores/memory.ts'
import { client } from './support/burst.ts'
import { type RunningServer, startServer } from './support/server.ts'

const UNCAPPED = { MAX_AGENTS: '0', MAX_COMPONENTS: '0', MAX_COMPONENTS_PER_AGENT: '0', RATE_LIMIT_PER_SECOND: '0', EXPIRE_SECONDS: '0' }
const labels = Object.fromEntries(Array.from({ length: 8 }, (_, i) => [`label_${i}`, 'v'.repeat(120)]))
/** Agent a's five components, with large fields. */
const beats = (a: number) =>
  Array.from({ length: 5 }, (_, c) => ({
    agent: `agent-${a}`, component: `c${c}`, status: 'ok' as const, message: 'm'.repeat(400), version: `v${a % 90}`, labels,
    interval_seconds: 86_400,
  }))

describe('a fleet-wide read lets the event loop through', () => {
  it.each(['/metrics', '/readyz?verbose', '/v1/agents'])('%s of 20,000 components, in slices', async (path) => {
    const settings = loadSettings(UNCAPPED)
    const store = new MemoryStore(settings)
    for (let a = 0; a < 4000; a += 20) await store.apply(Array.from({ length: 20 }, (_, i) => beats(a + i)).flat(), Date.now())
    const app = createApp({ store, settings, runtime: 'test' })
    // Other work, waiting its turn: a read done in one piece would let it run only once it is over.
    let turns = 0
    let reading = true
    const other = () => {
      if (!reading) return
      turns++
      setImmediate(other)
    }
    setImmediate(other)
    const res = await app.request(`http://pulsegate.test${path}`, { headers: { 'Accept-Encoding': 'identity' } })
    expect(res.status).toBe(200)
    await res.text()
    reading = false
    expect(turns).toBeGreaterThanOrEqual(20_000 / SLICE)
  })
})

describe('probes while two clients read the largest answers in a loop (real server)', () => {
  let server: RunningServer
  beforeAll(async () => {
    server = await startServer(UNCAPPED)
    const { beat } = client(server.url)
    for (let a = 0; a < 4000; a += 2) expect((await beat([...beats(a), ...beats(a + 1)])).status).toBe(200)
  }, 120_000)
  afterAll(async () => {
    await server?.stop()
  })

  it('answers /readyz throughout, and says how long it took', async () => {
    const seconds = 6
    const until = performance.now() + seconds * 1000
    const keepAlive = new http.Agent({ keepAlive: true })
    const get = (path: string, gzip: boolean) =>
      new Promise<number>((resolve, reject) => {
        http
          .get(`${server.url}${path}`, { agent: keepAlive, headers: { 'Accept-Encoding': gzip ? 'gzip' : 'identity' } }, (res) => {
            res.resume()
            res.on('end', () => resolve(res.statusCode ?? 0))
          })
          .on('error', reject)
      })
    const loop = async (paths: [string, boolean][]) => {
      let reads = 0
      while (performance.now() < until) expect(await get(...paths[reads++ % paths.length]!)).toBe(200)
      return reads
    }
    // The probes come from another process, wrk, so that this one's own work is not counted in their wait.
    const wrk = new Promise<string>((resolve, reject) => {
      const child = spawn('wrk', ['-t1', '-c2', `-d${seconds}s`, '--latency', `${server.url}/readyz`])
      let output = ''
      child.stdout.on('data', (d) => (output += d))
      child.on('error', reject)
      child.on('exit', () => resolve(output))
    })
    const [reads, other, report] = await Promise.all([
      loop([['/metrics', false], ['/metrics', true]]),
      loop([['/readyz?verbose', false], ['/v1/agents?limit=500', false], ['/metrics', true]]),
      wrk,
    ])
    const latency = (p: string) => new RegExp(`^\\s*${p}%\\s+(\\S+)$`, 'm').exec(report)?.[1]
    const max = /Latency\s+\S+\s+\S+\s+(\S+)/.exec(report)?.[1]
    console.log(`/readyz while large reads loop: p50 ${latency('50')}, p99 ${latency('99')}, max ${max}; ${reads + other} large reads in ${seconds} s`)
    expect(report).toMatch(/Requests\/sec/)
    expect(report).not.toMatch(/Non-2xx|Socket errors/) // wrk counts /readyz's 400 (a starting fleet) as non-2xx: the fleet is ok
  }, 60_000)
})
