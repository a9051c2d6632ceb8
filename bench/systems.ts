// The systems under test and the references: how each is started (on 127.0.0.1
// only), fed a fleet, loaded, measured and stopped — always by its own pid, or
// `wrangler dev` by its own process group.
import { type ChildProcess, execFileSync, spawn } from 'node:child_process'
import { existsSync, mkdtempSync, readdirSync, readFileSync, rmSync, statSync } from 'node:fs'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import { gzipSync } from 'node:zlib'
import { OFFLINE_ENV, WRANGLER, freePort, startWranglerDev } from '../test/support/wrangler.ts'
import { type LuaRequest, agentId, inParallel, send, sendOk } from './load.ts'

export const ROOT = new URL('..', import.meta.url).pathname

export type Kind = 'pulsegate' | 'pulsegate-deployed' | 'pushgateway' | 'pushgateway-nocheck' | 'raw' | 'workers-do' | 'workers-cache'
export const KINDS: readonly Kind[] = ['pulsegate', 'pulsegate-deployed', 'pushgateway', 'pushgateway-nocheck', 'raw', 'workers-do', 'workers-cache']

/** The start of every Workers label, and of the row that stands for Workers when it was not measured. */
export const WORKERS_LABEL = 'pulsegate on Workers'

export const LABEL: Record<Kind, string> = {
  pulsegate: 'pulsegate (Node, SQLite)',
  'pulsegate-deployed': 'pulsegate, deployed shape (token, full body, default rate limit)',
  pushgateway: 'Pushgateway',
  'pushgateway-nocheck': 'Pushgateway, no consistency check',
  raw: 'raw limit (node:http + Map)',
  'workers-do': `${WORKERS_LABEL} (wrangler dev, PROBE_SOURCE=do)`,
  'workers-cache': `${WORKERS_LABEL} (wrangler dev, PROBE_SOURCE=cache)`,
}

/**
 * Workers runs at 1k agents only: `wrangler dev` simulates one Durable Object on this
 * machine, and populating larger fleets through it tells little about Cloudflare's edge.
 */
export const WORKERS_FLEET = 1000

/** pulsegate under `wrangler dev` (workerd, a local Durable Object and Cache API), probes read from the object or from cached copies. */
export const isWorkers = (kind: Kind) => kind === 'workers-do' || kind === 'workers-cache'

export interface Running {
  kind: Kind
  url: string
  pid: number
  /** pulsegate's DATA_DIR. */
  dataDir?: string
  /** Workers: milliseconds from spawning `wrangler dev` to its first answer. */
  startupMs?: number
  stop(): Promise<void>
}

// ---------------------------------------------------------------------------
// Processes

const live = new Set<ChildProcess>()
/** Process groups of `wrangler dev`: wrangler and the workerd processes it runs. */
const liveGroups = new Set<number>()
// Whatever happens to the harness, nothing it started outlives it.
process.on('exit', () => {
  for (const child of live) child.kill('SIGKILL')
  for (const group of liveGroups) {
    try {
      process.kill(-group, 'SIGKILL')
    } catch {
      // already gone
    }
  }
})

interface Tracked {
  child: ChildProcess
  output: () => string
  exited: Promise<unknown>
}

function spawnTracked(command: string, args: string[], env: Record<string, string>): Tracked {
  const child = spawn(command, args, { cwd: ROOT, env: { ...process.env, ...env }, stdio: ['ignore', 'pipe', 'pipe'] })
  live.add(child)
  let output = ''
  // Keep only the tail: a server that logs a lot must not grow the harness.
  const keep = (d: Buffer) => (output = (output + d).slice(-16_384))
  child.stdout!.on('data', keep)
  child.stderr!.on('data', keep)
  const exited = new Promise((resolve) => child.on('exit', resolve))
  void exited.then(() => live.delete(child))
  return { child, output: () => output, exited }
}

/** SIGTERM by pid; SIGKILL if it is still there 5 s later. */
async function stopTracked({ child, exited }: Tracked): Promise<void> {
  if (child.exitCode !== null || child.signalCode !== null) return
  child.kill('SIGTERM')
  const timer = setTimeout(() => child.kill('SIGKILL'), 5000)
  await exited
  clearTimeout(timer)
}

/** Resolve once `ready` finds the server's URL; fail if it exits or takes more than 20 s. */
function whenReady(tracked: Tracked, what: string, ready: () => Promise<string | undefined>): Promise<string> {
  return new Promise((resolve, reject) => {
    let done = false
    const finish = (error?: Error, url?: string) => {
      if (done) return
      done = true
      clearTimeout(timer)
      if (error) {
        void stopTracked(tracked)
        reject(error)
      } else resolve(url!)
    }
    const timer = setTimeout(() => finish(new Error(`${what} did not start in 20 s:\n${tracked.output()}`)), 20_000)
    void tracked.exited.then((code) => finish(new Error(`${what} exited (${code}) before it was ready:\n${tracked.output()}`)))
    const poll = async () => {
      while (!done) {
        const url = await ready()
        if (url) return finish(undefined, url)
        await new Promise((r) => setTimeout(r, 50))
      }
    }
    poll().catch((error: Error) => finish(error))
  })
}

/** A node server that prints `listening on http://127.0.0.1:PORT`. */
async function startNode(kind: Kind, script: string, env: Record<string, string>, dataDir?: string): Promise<Running> {
  const tracked = spawnTracked(process.execPath, [script], { HOST: '127.0.0.1', PORT: '0', ...env })
  const url = await whenReady(tracked, script, async () => /listening on (http:\/\/127\.0\.0\.1:\d+)/.exec(tracked.output())?.[1])
  return {
    kind,
    url,
    pid: tracked.child.pid!,
    ...(dataDir ? { dataDir } : {}),
    stop: async () => {
      await stopTracked(tracked)
      if (dataDir) rmSync(dataDir, { recursive: true, force: true })
    },
  }
}

async function startPushgateway(kind: Kind, flags: string[]): Promise<Running> {
  // The port is free when asked for and taken a moment later: another engineer's
  // server may take it in between, so try a few.
  for (let attempt = 1; ; attempt++) {
    const port = await freePort()
    const url = `http://127.0.0.1:${port}`
    const tracked = spawnTracked('prometheus-pushgateway', ['--persistence.file=', `--web.listen-address=127.0.0.1:${port}`, ...flags], {})
    try {
      await whenReady(tracked, 'prometheus-pushgateway', async () => {
        const answer = await send(`${url}/-/ready`, { timeoutMs: 1000 }).catch(() => undefined)
        return answer?.status === 200 ? url : undefined
      })
      return { kind, url, pid: tracked.child.pid!, stop: () => stopTracked(tracked) }
    } catch (error) {
      if (attempt === 3) throw error
    }
  }
}

/**
 * pulsegate's abuse limits stay on (their checks are part of the cost of a heartbeat)
 * but so high that they never trigger: the default caps of 10k agents and 50k
 * components would refuse the 100k fleet, and a cycling load sends each agent more
 * than the default 10 beats/s.
 */
export const PULSEGATE_LIMITS = { MAX_AGENTS: '1000000', MAX_COMPONENTS: '0', RATE_LIMIT_PER_SECOND: '1000000' }

/**
 * The shape a deployment off loopback has: a bearer token on every heartbeat, the
 * body a real agent sends (component, version, labels, a message, its interval),
 * and the default rate limit, with a fleet that stays under it: each agent has
 * DEPLOYED_COMPONENTS components, and the load cycles through all of them.
 */
export const DEPLOYED_TOKEN = 'bench-8f3a1c9e2b7d4f60a5e1c3b9d7f2a4e6'
export const DEPLOYED_COMPONENTS = 4
const DEPLOYED_BODY = {
  status: 'ok',
  version: '19.1.2',
  interval_seconds: 60,
  labels: { region: 'eu-west', team: 'platform' },
  message: 'joined cluster; 3 peers, replication lag 12 ms, last backup 02:00 UTC',
}

/**
 * `wrangler dev` (test/support/wrangler.ts: detached, stopped by its process group).
 * WRANGLER_LOG=warn, unless set already: at info level wrangler logs every request,
 * which costs its proxy more than some of the requests themselves.
 */
async function startWorkers(kind: Kind, probeSource: 'do' | 'cache'): Promise<Running> {
  const before = process.env.WRANGLER_LOG
  process.env.WRANGLER_LOG ??= 'warn'
  let wrangler: Awaited<ReturnType<typeof startWranglerDev>>
  try {
    wrangler = await startWranglerDev({ PROBE_SOURCE: probeSource, EXPIRE_SECONDS: '0', ...PULSEGATE_LIMITS })
  } finally {
    if (before === undefined) delete process.env.WRANGLER_LOG
  }
  const group = wrangler.child.pid!
  liveGroups.add(group)
  return {
    kind,
    url: wrangler.url,
    pid: group,
    startupMs: wrangler.startupMs,
    stop: async () => {
      await wrangler.stop()
      liveGroups.delete(group)
    },
  }
}

/** Start a system; `env` adds settings to pulsegate's (bench/tracing.ts turns tracing on with it). */
export function start(kind: Kind, env: Record<string, string> = {}): Promise<Running> {
  switch (kind) {
    case 'pulsegate': {
      const dataDir = mkdtempSync(join(tmpdir(), 'pulsegate-bench-'))
      return startNode(kind, 'functions/node.ts', { DATA_DIR: dataDir, EXPIRE_SECONDS: '0', ...PULSEGATE_LIMITS, ...env }, dataDir)
    }
    case 'pulsegate-deployed': {
      const dataDir = mkdtempSync(join(tmpdir(), 'pulsegate-bench-'))
      // MAX_AGENTS is sized for the fleet, as a deployment would; the rate limit is the default.
      const env = { DATA_DIR: dataDir, EXPIRE_SECONDS: '0', MAX_AGENTS: '1000000', MAX_COMPONENTS: '0', HEARTBEAT_TOKEN: DEPLOYED_TOKEN }
      return startNode(kind, 'functions/node.ts', env, dataDir)
    }
    case 'pushgateway':
      return startPushgateway(kind, [])
    case 'pushgateway-nocheck':
      return startPushgateway(kind, ['--push.disable-consistency-check'])
    case 'raw':
      return startNode(kind, 'bench/raw-limit.ts', {})
    case 'workers-do':
      return startWorkers(kind, 'do')
    case 'workers-cache':
      return startWorkers(kind, 'cache')
  }
}

/** The wrangler that runs `wrangler dev`, and the workerd it pins. */
export function wranglerVersion(): string {
  const pkg = JSON.parse(readFileSync(join(ROOT, 'node_modules/wrangler/package.json'), 'utf8')) as {
    version: string
    dependencies?: Record<string, string>
  }
  const workerd = pkg.dependencies?.workerd
  return `${pkg.version}${workerd ? ` (workerd ${workerd})` : ''}`
}

/** The Worker as `wrangler deploy` would upload it (`--dry-run`, as test/bundle.test.ts builds it): bytes raw and gzipped. */
export function workerBundle(): { rawBytes: number; gzipBytes: number } {
  const outdir = mkdtempSync(join(tmpdir(), 'pulsegate-bench-bundle-'))
  try {
    execFileSync(process.execPath, [WRANGLER, 'deploy', '--dry-run', '--outdir', outdir], {
      cwd: ROOT,
      env: { ...process.env, ...OFFLINE_ENV },
      stdio: 'pipe',
    })
    const script = readdirSync(outdir).find((f) => f.endsWith('.js'))
    if (!script) throw new Error(`wrangler deploy --dry-run wrote no .js into ${outdir}`)
    const bundle = readFileSync(join(outdir, script))
    return { rawBytes: bundle.byteLength, gzipBytes: gzipSync(bundle).byteLength }
  } finally {
    rmSync(outdir, { recursive: true, force: true })
  }
}

// ---------------------------------------------------------------------------
// Feeding and loading

const JSON_HEADERS = { 'Content-Type': 'application/json' }
const isPushgateway = (kind: Kind) => kind === 'pushgateway' || kind === 'pushgateway-nocheck'

/** One heartbeat of the agent whose id is the Lua variable `id`, as wrk sends it. */
export function ingestRequest(kind: Kind): LuaRequest {
  if (isPushgateway(kind)) {
    return { method: 'POST', path: '"/metrics/job/heartbeat/instance/" .. id', body: '"process_state 0\\n"' }
  }
  if (kind === 'pulsegate-deployed') {
    const rest = JSON.stringify(DEPLOYED_BODY).slice(1)
    return {
      method: 'POST',
      path: '"/v1/heartbeat"',
      body: `'{"agent":"' .. id .. '","component":"' .. component .. '",${rest}'`,
      headers: { ...JSON_HEADERS, Authorization: `Bearer ${DEPLOYED_TOKEN}` },
      components: DEPLOYED_COMPONENTS,
    }
  }
  return { method: 'POST', path: '"/v1/heartbeat"', body: `'{"agent":"' .. id .. '","status":"ok"}'`, headers: JSON_HEADERS }
}

/** The component names of the deployed shape: c0 … c3, as the Lua script makes them. */
const deployedComponent = (i: number) => `c${i}`

/**
 * Register agents 1..fleet: pulsegate and the raw limit in batches of 100, the
 * Pushgateway one group per push (it has no batch). The populating heartbeats state
 * a one-day interval (sticky in pulsegate), so no agent goes overdue during a long
 * run while the load itself sends the minimal `{"agent","status"}` body.
 */
export async function populate(system: Running, fleet: number): Promise<void> {
  if (isPushgateway(system.kind)) {
    await inParallel(fleet, 16, (i) =>
      sendOk(`${system.url}/metrics/job/heartbeat/instance/${agentId(i + 1)}`, { method: 'POST', body: 'process_state 0\n' }),
    )
    return
  }
  const deployed = system.kind === 'pulsegate-deployed'
  const components = deployed ? DEPLOYED_COMPONENTS : 1
  const headers = deployed ? { ...JSON_HEADERS, Authorization: `Bearer ${DEPLOYED_TOKEN}` } : JSON_HEADERS
  const beats = fleet * components
  // The full body is about 230 bytes: 50 of them stay within the 16 KiB a request may carry.
  const size = deployed ? 50 : 100
  await inParallel(Math.ceil(beats / size), 4, (b) => {
    const batch = []
    for (let j = b * size; j < Math.min(beats, (b + 1) * size); j++) {
      const agent = agentId(Math.floor(j / components) + 1)
      batch.push(deployed ? { ...DEPLOYED_BODY, agent, component: deployedComponent(j % components) } : { agent, status: 'ok', interval_seconds: 86_400 })
    }
    return sendOk(`${system.url}/v1/heartbeat`, { method: 'POST', headers, body: JSON.stringify(batch) })
  })
}

/** Which systems answer a Prometheus scrape at /metrics. */
export const scrapes = (kind: Kind) => kind !== 'raw' && kind !== 'pulsegate-deployed'

/**
 * Which systems get the ingest load. On Workers every write goes to the Durable
 * Object whatever PROBE_SOURCE says, so ingest is loaded once, with PROBE_SOURCE=do.
 */
export const ingests = (kind: Kind) => kind !== 'workers-cache'

/**
 * Whose RSS means something here. `wrangler dev` is wrangler's Node, a proxy workerd
 * and the workerd that runs the Worker: the simulator's memory, not the edge's.
 */
export const measuresMemory = (kind: Kind) => !isWorkers(kind) && kind !== 'pulsegate-deployed'

// ---------------------------------------------------------------------------
// Measuring from outside

/** VmRSS of a process, in KiB. */
export function rssKiB(pid: number): number {
  const match = /^VmRSS:\s+(\d+) kB/m.exec(readFileSync(`/proc/${pid}/status`, 'utf8'))
  if (!match) throw new Error(`no VmRSS for pid ${pid}`)
  return Number(match[1])
}

/** pulsegate.sqlite + pulsegate.sqlite-wal, as they are on disk (no checkpoint can be forced from outside). */
export function sqliteBytes(dataDir: string): number {
  let bytes = 0
  for (const name of ['pulsegate.sqlite', 'pulsegate.sqlite-wal']) {
    const path = join(dataDir, name)
    if (existsSync(path)) bytes += statSync(path).size
  }
  return bytes
}
