// Real clients against pulsegate: Prometheus, the blackbox exporter, promtool,
// curl and the kubelet's probe rule. Daemons run on 127.0.0.1 with a generated
// config in a temp dir of their own and are stopped by their own pid.
//
// The configs and commands are the snippets of docs/scrape-and-probe.md, kept
// here as files; tests swap in only the addresses and the interval, and each
// swap must hit, so the doc and what the tests run cannot drift apart.
import { spawn, spawnSync } from 'node:child_process'
import { mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs'
import { createServer, request } from 'node:http'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import { expect, vi } from 'vitest'
import { ROOT } from '../support/server.ts'
import { freePort } from '../support/wrangler.ts'

export const DOC_PATH = join(ROOT, 'README.md')

/** Where the snippets say pulsegate and the blackbox exporter listen. */
export const PULSEGATE_ADDRESS = '127.0.0.1:8787'
export const BLACKBOX_ADDRESS = '127.0.0.1:9115'
/** The METRICS_TOKEN the scrape config of the doc carries. */
export const METRICS_TOKEN = 'scrape-secret'
/** The doc's interval, and the one the tests scrape and probe at instead. */
export const DOC_INTERVAL = 'scrape_interval: 15s'
export const TEST_INTERVAL = 'scrape_interval: 1s'

/** Snippet files of the doc, quoted there verbatim. */
export const SNIPPET_FILES = ['prometheus.yml', 'blackbox.yml', 'prometheus-probes.yml', 'kubernetes-probes.yml'] as const
export type SnippetFile = (typeof SNIPPET_FILES)[number]

/** The uptime-monitor commands of the doc; tests run them with another URL in place of this one. */
export const CURL_URL = `http://${PULSEGATE_ADDRESS}/readyz`
export const CURL_GET = `curl -fsS -m 10 -o /dev/null ${CURL_URL}`
export const CURL_HEAD = `curl -fsSI -m 10 ${CURL_URL}`

export function snippet(name: SnippetFile): string {
  return readFileSync(join(import.meta.dirname, name), 'utf8')
}

/** Replace text in a snippet; every text replaced must occur in it. */
export function fill(text: string, swaps: [from: string, to: string][]): string {
  for (const [from, to] of swaps) {
    if (!text.includes(from)) throw new Error(`the snippet no longer contains ${JSON.stringify(from)}:\n${text}`)
    text = text.replaceAll(from, to)
  }
  return text
}

export const hostOf = (url: string) => new URL(url).host

// ---------------------------------------------------------------- binaries

function missing(names: string[]): string[] {
  return names.filter((name) => spawnSync(name, ['--version'], { stdio: 'ignore' }).status !== 0)
}

/**
 * For describe.skipIf: true (with a loud warning) when a client is not
 * installed on a laptop; never in CI, where the test then fails on the start.
 */
export function skipWithout(...names: string[]): boolean {
  const absent = missing(names)
  if (absent.length === 0 || process.env.CI === 'true') return false
  console.warn(`\n*** ${absent.join(', ')} not found: skipping (apt-get install prometheus prometheus-blackbox-exporter curl) ***\n`)
  return true
}

/** `promtool check metrics` on a text exposition: its whole output, empty when clean. */
export function promtoolCheck(exposition: string): { status: number | null; output: string } {
  const check = spawnSync('promtool', ['check', 'metrics'], { input: exposition, encoding: 'utf8' })
  return { status: check.status, output: check.stdout + check.stderr }
}

/** A command line of the doc run through sh: exit code and output. */
export function sh(command: string): { code: number | null; stdout: string; stderr: string } {
  const run = spawnSync('sh', ['-c', command], { encoding: 'utf8', timeout: 15_000 })
  return { code: run.status, stdout: run.stdout, stderr: run.stderr }
}

// ---------------------------------------------------------------- daemons

export interface Daemon {
  url: string
  pid: number
  output: () => string
  /** SIGTERM by pid, SIGKILL after 5 s, then the temp dir goes. */
  stop: () => Promise<void>
}

/** Start a daemon on a free port with `config` written to a temp dir; resolve once `readyPath` answers 200. */
async function startDaemon(
  command: string,
  config: string,
  args: (paths: { config: string; dir: string; listen: string }) => string[],
  readyPath: string,
): Promise<Daemon> {
  const dir = mkdtempSync(join(tmpdir(), `pulsegate-${command}-`))
  const configPath = join(dir, 'config.yml')
  writeFileSync(configPath, config)
  const listen = `127.0.0.1:${await freePort()}`
  const child = spawn(command, args({ config: configPath, dir, listen }), { cwd: dir, stdio: ['ignore', 'pipe', 'pipe'] })
  let output = ''
  child.stdout.on('data', (d) => (output += d))
  child.stderr.on('data', (d) => (output += d))
  let failed = false // not installed, for one
  child.on('error', (error) => {
    failed = true
    output += String(error)
  })
  const exited = new Promise<void>((resolve) => child.on('exit', () => resolve()))
  const stop = async () => {
    if (!failed && child.exitCode === null && child.signalCode === null) {
      child.kill('SIGTERM')
      const timer = setTimeout(() => child.kill('SIGKILL'), 5000)
      await exited
      clearTimeout(timer)
    }
    rmSync(dir, { recursive: true, force: true })
  }
  const url = `http://${listen}`
  const deadline = Date.now() + 20_000
  while (Date.now() < deadline) {
    if (failed || child.exitCode !== null) break
    try {
      if ((await fetch(`${url}${readyPath}`)).ok) return { url, pid: child.pid!, output: () => output, stop }
    } catch {
      // not listening yet
    }
    await new Promise((resolve) => setTimeout(resolve, 100))
  }
  await stop()
  throw new Error(`${command} did not become ready:\n${output}`)
}

export interface PromSample {
  metric: Record<string, string>
  value: [number, string]
}

export interface Prometheus extends Daemon {
  /** GET an API path; the `data` of a successful answer. */
  api: <T>(path: string, params?: Record<string, string>) => Promise<T>
  query: (expr: string) => Promise<PromSample[]>
  /** Each series of `expr` as a number, keyed by its values of the `by` labels joined with `/`. */
  values: (expr: string, ...by: string[]) => Promise<Record<string, number>>
  /** Prometheus' own /metrics, parsed. */
  selfMetrics: () => Promise<Map<string, number>>
}

export async function startPrometheus(config: string): Promise<Prometheus> {
  const daemon = await startDaemon(
    'prometheus',
    config,
    ({ config, dir, listen }) => [`--config.file=${config}`, `--storage.tsdb.path=${join(dir, 'data')}`, `--web.listen-address=${listen}`],
    '/-/ready',
  )
  const api = async <T>(path: string, params: Record<string, string> = {}): Promise<T> => {
    const res = await fetch(`${daemon.url}${path}?${new URLSearchParams(params)}`)
    const body = (await res.json()) as { status: string; data: T; error?: string }
    if (body.status !== 'success') throw new Error(`Prometheus ${path} ${JSON.stringify(params)}: ${body.error}`)
    return body.data
  }
  const query = async (expr: string) => (await api<{ result: PromSample[] }>('/api/v1/query', { query: expr })).result
  return {
    ...daemon,
    api,
    query,
    values: async (expr, ...by) =>
      Object.fromEntries((await query(expr)).map((s) => [by.map((l) => s.metric[l]).join('/'), Number(s.value[1])])),
    selfMetrics: async () => parseExposition(await (await fetch(`${daemon.url}/metrics`)).text()),
  }
}

export interface Blackbox extends Daemon {
  /** GET /probe?module=…&target=…, parsed. */
  probe: (target: string, module?: string) => Promise<Map<string, number>>
}

export async function startBlackbox(config: string): Promise<Blackbox> {
  const daemon = await startDaemon(
    'prometheus-blackbox-exporter',
    config,
    ({ config, listen }) => [`--config.file=${config}`, `--web.listen-address=${listen}`],
    '/-/healthy',
  )
  return {
    ...daemon,
    probe: async (target, module = 'http_2xx') =>
      parseExposition(await (await fetch(`${daemon.url}/probe?${new URLSearchParams({ module, target })}`)).text()),
  }
}

/** Sample lines of a text exposition (no timestamps), keyed by `name{labels}` as written. */
export function parseExposition(text: string): Map<string, number> {
  const samples = new Map<string, number>()
  for (const line of text.split('\n')) {
    if (line === '' || line.startsWith('#')) continue
    const at = line.lastIndexOf(' ')
    samples.set(line.slice(0, at), Number(line.slice(at + 1)))
  }
  return samples
}

// ---------------------------------------------------------------- the rest

/** Retry a block of expectations until it passes or the deadline comes: no fixed sleeps. */
export function eventually<T>(check: () => Promise<T>, timeout = 20_000): Promise<T> {
  return vi.waitFor(check, { timeout, interval: 200 })
}

export async function beat(url: string, body: unknown): Promise<void> {
  const res = await fetch(`${url}/v1/heartbeat`, {
    method: 'POST',
    headers: { 'Content-Type': 'application/json' },
    body: JSON.stringify(body),
  })
  expect(res.status, await res.text()).toBe(200)
}

export interface Exchange {
  accept: string | undefined
  status: number
  contentType: string | undefined
}

export interface Tap {
  address: string
  exchanges: Exchange[]
  close: () => Promise<void>
}

/**
 * A transparent pipe in front of `target` that writes down what each request
 * asked for (Accept) and what it got (status, Content-Type). Bytes pass unchanged.
 */
export async function startTap(target: string): Promise<Tap> {
  const { hostname, port } = new URL(target)
  const exchanges: Exchange[] = []
  const server = createServer((req, res) => {
    const upstream = request({ hostname, port, method: req.method, path: req.url, headers: req.headers }, (answer) => {
      exchanges.push({ accept: req.headers.accept, status: answer.statusCode!, contentType: answer.headers['content-type'] })
      res.writeHead(answer.statusCode!, answer.headers)
      answer.pipe(res)
    })
    upstream.on('error', () => res.destroy())
    req.pipe(upstream)
  })
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve))
  const { port: own } = server.address() as { port: number }
  return {
    address: `127.0.0.1:${own}`,
    exchanges,
    close: () =>
      new Promise<void>((resolve) => {
        server.close(() => resolve())
        server.closeAllConnections() // Prometheus keeps its scrape connection open
      }),
  }
}

/** The kubelet's HTTP probe: it sends these headers and counts any status from 200 to 399 as success. */
export async function kubeletProbe(url: string): Promise<{ status: number; success: boolean }> {
  const res = await fetch(url, { headers: { 'User-Agent': 'kube-probe/1.33', Accept: '*/*' }, redirect: 'manual' })
  await res.arrayBuffer()
  return { status: res.status, success: res.status >= 200 && res.status < 400 }
}
