// Load: wrk runs (and the parsing of what wrk prints), the Lua scripts that make
// wrk's per-request bodies, and the few plain HTTP requests the harness sends
// itself (populating a fleet, timing scrapes).
import { spawn } from 'node:child_process'
import { writeFileSync } from 'node:fs'
import http from 'node:http'
import { join } from 'node:path'
import { gzipSync } from 'node:zlib'

/** Agent ids of a fleet of n: agent-1 … agent-n, the same in every system. */
export const AGENT_PREFIX = 'agent-'
export const agentId = (i: number) => `${AGENT_PREFIX}${i}`

// ---------------------------------------------------------------------------
// wrk

export interface WrkOptions {
  url: string
  seconds: number
  connections: number
  threads: number
  /** A Lua script (see cyclingScript); without one wrk GETs `url`. */
  script?: string
}

export interface WrkResult {
  requests: number
  rps: number
  p50Ms: number
  p99Ms: number
  /** Answers outside 2xx/3xx: a run with any is suspect and the report says so. */
  non2xx: number
  /** connect + read + write + timeout errors. */
  socketErrors: number
}

const UNIT_MS: Record<string, number> = { us: 0.001, ms: 1, s: 1000, m: 60_000, h: 3_600_000 }

function latencyMs(text: string, percentile: string): number {
  const match = new RegExp(`^\\s*${percentile}%\\s+([\\d.]+)(us|ms|s|m|h)\\s*$`, 'm').exec(text)
  if (!match) throw new Error(`wrk printed no ${percentile}% latency:\n${text}`)
  return Number(match[1]) * UNIT_MS[match[2]!]!
}

/** Read what `wrk --latency` prints. */
export function parseWrk(text: string): WrkResult {
  const number = (re: RegExp) => Number(re.exec(text)?.[1] ?? 0)
  const socket = /Socket errors: connect (\d+), read (\d+), write (\d+), timeout (\d+)/.exec(text)
  const rps = /Requests\/sec:\s+([\d.]+)/.exec(text)
  if (!rps) throw new Error(`wrk printed no Requests/sec:\n${text}`)
  return {
    requests: number(/(\d+) requests in/),
    rps: Number(rps[1]),
    p50Ms: latencyMs(text, '50'),
    p99Ms: latencyMs(text, '99'),
    non2xx: number(/Non-2xx or 3xx responses: (\d+)/),
    socketErrors: socket ? socket.slice(1).reduce((sum, n) => sum + Number(n), 0) : 0,
  }
}

/** Run wrk once; it is killed (by its pid) if it overruns its duration by 30 s. */
export function runWrk(options: WrkOptions): Promise<WrkResult> {
  const args = [
    `-t${options.threads}`, `-c${options.connections}`, `-d${options.seconds}s`,
    '--timeout', '10s', '--latency',
    ...(options.script ? ['-s', options.script] : []),
    options.url,
  ]
  return new Promise((resolve, reject) => {
    const child = spawn('wrk', args, { stdio: ['ignore', 'pipe', 'pipe'] })
    let output = ''
    child.stdout.on('data', (d) => (output += d))
    child.stderr.on('data', (d) => (output += d))
    const timer = setTimeout(() => child.kill('SIGKILL'), (options.seconds + 30) * 1000)
    child.on('error', reject)
    child.on('exit', (code, signal) => {
      clearTimeout(timer)
      if (code !== 0) return reject(new Error(`wrk ${args.join(' ')} ended with ${code ?? signal}:\n${output}`))
      try {
        resolve(parseWrk(output))
      } catch (error) {
        reject(error)
      }
    })
  })
}

/** One request as Lua expressions over `id`, the agent id of this request. */
export interface LuaRequest {
  method: 'GET' | 'POST'
  /** Lua expression of the path. */
  path: string
  /** Lua expression of the body (absent: none). */
  body?: string
  headers?: Record<string, string>
  /** Components per agent: the script then cycles through every (agent, component), the Lua variable `component` being c0, c1, … */
  components?: number
}

/**
 * Write a wrk script that cycles through the ids of a fleet of `fleet` agents, so
 * every request names an agent that already exists. Each wrk thread has its own Lua
 * state; each starts at its own share of the fleet.
 */
export function cyclingScript(dir: string, name: string, fleet: number, threads: number, request: LuaRequest): string {
  const headers = Object.entries(request.headers ?? {})
    .map(([key, value]) => `[${JSON.stringify(key)}] = ${JSON.stringify(value)}`)
    .join(', ')
  const k = request.components ?? 1
  const script = `-- ${name}: written by bench/load.ts; cycles through ${AGENT_PREFIX}1 .. ${AGENT_PREFIX}${fleet}${k > 1 ? `, ${k} components each` : ''}
local k = ${k}
local n = ${fleet} * k
local started = 0
function setup(thread)
  thread:set("share", started)
  started = started + 1
end
local i = 0
local headers = { ${headers} }
function init(args)
  i = math.floor((share or 0) * n / ${threads})
end
function request()
  i = i % n + 1
  local id = ${JSON.stringify(AGENT_PREFIX)} .. (math.floor((i - 1) / k) + 1)
  local component = "c" .. ((i - 1) % k)
  return wrk.format(${JSON.stringify(request.method)}, ${request.path}, headers, ${request.body ?? 'nil'})
end
`
  const path = join(dir, `${name}.lua`)
  writeFileSync(path, script)
  return path
}

// ---------------------------------------------------------------------------
// Plain HTTP from the harness itself

const keepAlive = new http.Agent({ keepAlive: true, maxSockets: 16 })

export interface Answer {
  status: number
  headers: http.IncomingHttpHeaders
  /** The body as it came over the wire (still compressed when it was). */
  body: Buffer
  ms: number
}

export function send(
  url: string,
  init: { method?: string; headers?: Record<string, string>; body?: string; timeoutMs?: number } = {},
): Promise<Answer> {
  return new Promise((resolve, reject) => {
    const started = performance.now()
    const request = http.request(url, { method: init.method ?? 'GET', headers: init.headers, agent: keepAlive }, (res) => {
      const chunks: Buffer[] = []
      res.on('data', (chunk: Buffer) => chunks.push(chunk))
      res.on('end', () =>
        resolve({ status: res.statusCode ?? 0, headers: res.headers, body: Buffer.concat(chunks), ms: performance.now() - started }),
      )
      res.on('error', reject)
    })
    request.setTimeout(init.timeoutMs ?? 60_000, () => request.destroy(new Error(`${url}: no answer in time`)))
    request.on('error', reject)
    request.end(init.body)
  })
}

/** Send and insist on a 2xx. */
export async function sendOk(url: string, init: Parameters<typeof send>[1] = {}): Promise<Answer> {
  const answer = await send(url, init)
  if (answer.status < 200 || answer.status > 299) {
    throw new Error(`${init.method ?? 'GET'} ${url} answered ${answer.status}: ${answer.body.toString('utf8', 0, 500)}`)
  }
  return answer
}

export function closeConnections(): void {
  keepAlive.destroy()
}

/** Run `count` tasks, at most `width` at a time. */
export async function inParallel(count: number, width: number, task: (i: number) => Promise<unknown>): Promise<void> {
  let next = 0
  const worker = async () => {
    while (next < count) await task(next++)
  }
  await Promise.all(Array.from({ length: Math.min(width, count) }, worker))
}

export function median(values: readonly number[]): number {
  const sorted = [...values].sort((a, b) => a - b)
  const mid = sorted.length >> 1
  return sorted.length % 2 ? sorted[mid]! : (sorted[mid - 1]! + sorted[mid]!) / 2
}

export interface ScrapeSeries {
  medianMs: number
  gets: number
  /** Bytes of the last answer's body on the wire. */
  bytes: number
  /** gzip asked for but not given: `bytes` is what gzip of the body would be (node:zlib). */
  computed: boolean
}

/** Sequential GETs (at most `gets`, and no more once `maxSeconds` have gone by); the median time to the last byte. */
export async function scrapeSeries(url: string, gets: number, gzip: boolean, maxSeconds: number): Promise<ScrapeSeries> {
  const times: number[] = []
  const deadline = performance.now() + maxSeconds * 1000
  let last: Answer | undefined
  while (times.length < gets && (times.length === 0 || performance.now() < deadline)) {
    last = await sendOk(url, { headers: gzip ? { 'Accept-Encoding': 'gzip' } : {} })
    times.push(last.ms)
  }
  const encoded = last!.headers['content-encoding'] === 'gzip'
  const computed = gzip && !encoded
  return { medianMs: median(times), gets: times.length, bytes: computed ? gzipSync(last!.body).length : last!.body.length, computed }
}
