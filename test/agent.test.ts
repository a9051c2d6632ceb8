// pulsegate-agent: the timing, backoff and queue with an injected clock against the
// real app (no real waiting), then the CLI as a process against the real Node server.
import { type ChildProcess, spawn } from 'node:child_process'
import { type Server, type ServerResponse, createServer } from 'node:http'
import type { AddressInfo } from 'node:net'
import { join } from 'node:path'
import { afterEach, describe, expect, it } from 'vitest'
import { createApp } from '../lib/app.ts'
import { backoffDelay, LatestQueue } from '../agent/backoff.ts'
import { execCheck, formatDuration, httpCheck, lastLine, type Probe, truncateUtf8 } from '../agent/checks.ts'
import type { Clock } from '../agent/clock.ts'
import { parseCommandLine, UsageError } from '../agent/config.ts'
import { type JobConfig, runJob } from '../agent/job.ts'
import { type AgentDeps, Reporter } from '../agent/reporter.ts'
import { runSidecar, type SidecarConfig } from '../agent/sidecar.ts'
import { type FetchLike, type Heartbeat, createClient } from '../lib/client.ts'
import { MAX_MESSAGE_BYTES } from '../lib/heartbeat.ts'
import { loadSettings } from '../lib/settings.ts'
import { MemoryStore } from '../lib/stores/memory.ts'
import { ROOT, type RunningServer, startServer, tempDataDir } from './support/server.ts'

const T0 = 1_800_000_000_000
const utf8 = new TextEncoder()

describe('backoff', () => {
  const policy = (random: () => number) => ({ baseMs: 1000, capMs: 60_000, random })

  it('draws each wait from [0, min(cap, base × 2^attempt)) — full jitter', () => {
    for (let attempt = 0; attempt < 12; attempt++) {
      const ceiling = Math.min(60_000, 1000 * 2 ** attempt)
      expect(backoffDelay(attempt, policy(() => 0))).toBe(0)
      expect(backoffDelay(attempt, policy(() => 0.5))).toBe(ceiling / 2)
      const high = backoffDelay(attempt, policy(() => 1 - 2 ** -40))
      expect(high).toBeLessThan(ceiling)
      expect(high).toBeGreaterThan(ceiling * 0.999)
    }
    expect(backoffDelay(5000, policy(() => 0.5))).toBe(30_000)
  })

  it('never comes back sooner than Retry-After', () => {
    expect(backoffDelay(0, policy(() => 0.1), 7000)).toBe(7000)
    expect(backoffDelay(10, policy(() => 0.5), 7000)).toBe(30_000)
  })

  it('keeps only the latest item per key, and what came after a send', () => {
    const queue = new LatestQueue<string>()
    for (let i = 0; i < 1000; i++) {
      queue.put('web', `web ${i}`)
      queue.put('db', `db ${i}`)
    }
    expect(queue.size).toBe(2)
    const sent = queue.pending()
    expect([...sent.values()]).toEqual(['web 999', 'db 999'])
    queue.put('db', 'db newer')
    queue.delivered(sent)
    expect([...queue.pending().values()]).toEqual(['db newer'])
  })
})

describe('messages', () => {
  it('cuts to 1 KiB of UTF-8 on a character boundary', () => {
    const cut = truncateUtf8('é'.repeat(600) + '🙂'.repeat(10))
    expect(utf8.encode(cut).byteLength).toBeLessThanOrEqual(MAX_MESSAGE_BYTES)
    expect(cut.endsWith('é…')).toBe(true)
    const emoji = truncateUtf8('🙂'.repeat(300))
    expect(utf8.encode(emoji).byteLength).toBeLessThanOrEqual(MAX_MESSAGE_BYTES)
    expect(emoji).not.toContain('\uFFFD')
    expect(truncateUtf8('short')).toBe('short')
  })

  it('takes the last line that holds something', () => {
    expect(lastLine('one\ntwo\r\n\n  \n')).toBe('two')
    expect(lastLine('')).toBeUndefined()
    expect(formatDuration(1234)).toBe('1.23s')
    expect(formatDuration(42_000)).toBe('42s')
    expect(formatDuration(90_000)).toBe('1m30s')
    expect(formatDuration(3_720_000)).toBe('1h2m')
  })
})

describe('the command line', () => {
  const env = {}
  it('reads defaults, flags and env', () => {
    const cmd = parseCommandLine(['--agent', 'web-1', '--check', 'http://127.0.0.1:3000/health'], env)
    expect(cmd.kind).toBe('sidecar')
    if (cmd.kind !== 'sidecar') return
    expect(cmd).toMatchObject({ url: 'http://127.0.0.1:8787', token: undefined, timeoutMs: 5000 })
    expect(cmd.config).toMatchObject({ agent: 'web-1', intervalMs: 60_000, fastIntervalMs: 5000, keep: false, once: false })
    expect(cmd.config.components.map((c) => [c.name, c.describe])).toEqual([['main', 'GET http://127.0.0.1:3000/health']])

    const many = parseCommandLine(
      ['--agent', 'db-1', '--exec', 'pg_isready', '--component', 'postgres', '--component', 'web=https://x.test/h',
        '--component', 'disk=exec:test -w /', '--label', 'region=eu-west', '--interval', '30', '--keep'],
      { PULSEGATE_URL: 'http://pg.test:9000', PULSEGATE_TOKEN: 't' },
    )
    if (many.kind !== 'sidecar') throw new Error('not a sidecar')
    expect(many).toMatchObject({ url: 'http://pg.test:9000', token: 't' })
    expect(many.config).toMatchObject({ labels: { region: 'eu-west' }, intervalMs: 30_000, keep: true, tokenSet: true })
    expect(many.config.components.map((c) => c.name)).toEqual(['postgres', 'web', 'disk'])

    const run = parseCommandLine(['run', '--agent', 'h', '--component', 'backup', '--', 'backup.sh', '--full'], env)
    expect(run).toMatchObject({ kind: 'run', config: { component: 'backup', command: ['backup.sh', '--full'] } })
    const scheduled = parseCommandLine(['run', '--agent', 'h', '--schedule', '30 2 * * 1-5', '--tz', 'Europe/Berlin', '--max-run', '3600', '--', 'b.sh'], env)
    expect(scheduled).toMatchObject({ kind: 'run', config: { schedule: '30 2 * * 1-5', tz: 'Europe/Berlin', maxRunSeconds: 3600 } })
    expect(parseCommandLine(['--agent', 'h'], env)).toMatchObject({ config: { components: [{ name: 'main', describe: 'heartbeat only' }] } })
    expect(parseCommandLine(['--help'], env)).toEqual({ kind: 'help' })
  })

  it.each([
    [[], /--agent ID is required/],
    [['--agent', 'a b'], /agent: may hold only/],
    [['--agent', 'a', '--check', 'ftp://x'], /http or https/],
    [['--agent', 'a', '--check', 'http://x', '--exec', 'true'], /not both/],
    [['--agent', 'a', '--interval', '0'], /--interval takes seconds/],
    [['--agent', 'a', '--component', 'x=exec:true', '--component', 'x=exec:false'], /"x" is given twice/],
    [['--agent', 'a', '--label', 'agent=x'], /reserved/],
    [['run', '--agent', 'a'], /needs a command after --/],
    [['run', '--agent', 'a', '--check', 'http://x', '--', 'true'], /--check does not go with run/],
    [['run', '--agent', 'a', '--schedule', '0 3 * * *', '--interval', '60', '--', 'true'], /--interval or --schedule, not both/],
    [['run', '--agent', 'a', '--tz', 'Europe/Berlin', '--', 'true'], /--tz is the time zone of --schedule/],
    [['run', '--agent', 'a', '--schedule', '0 25 * * *', '--', 'true'], /schedule: schedule "0 25 \* \* \*" is not a cron expression/],
    [['run', '--agent', 'a', '--schedule', '@daily', '--tz', 'Mars/Olympus', '--', 'true'], /tz: tz "Mars\/Olympus" is not a time zone/],
    [['run', '--agent', 'a', '--max-run', '0', '--', 'true'], /--max-run takes seconds/],
    [['--agent', 'a', '--schedule', '@daily'], /--schedule goes with run/],
    [['--agent', 'a', '--', 'true'], /goes with run/],
    [['--agent', 'a', '--bogus'], /Unknown option '--bogus'/],
  ])('refuses %j', (argv, message) => {
    expect(() => parseCommandLine(argv, env)).toThrow(UsageError)
    expect(() => parseCommandLine(argv, env)).toThrow(message)
  })

  it('refuses a token that cannot travel as a bearer token, without showing it', () => {
    const parse = () => parseCommandLine(['--agent', 'a'], { PULSEGATE_TOKEN: 'pa$$word!' })
    expect(parse).toThrow(/PULSEGATE_TOKEN holds characters a bearer token cannot have/)
    expect(parse).not.toThrow(/pa\$\$word/)
    expect(parseCommandLine(['--agent', 'a'], { PULSEGATE_TOKEN: 'aB3-._~+/x==' })).toMatchObject({ token: 'aB3-._~+/x==' })
  })
})

/**
 * The real app on an injected clock, and an agent around it whose clock is the
 * same: sleeping only moves time on. `down` makes every request fail as if
 * pulsegate were unreachable; `answer` replaces the app's answer.
 */
function world(env: Record<string, string> = {}, token?: string) {
  let now = T0
  const settings = loadSettings(env)
  const store = new MemoryStore(settings)
  const app = createApp({ store, settings, runtime: 'test', clock: () => now })
  const w = {
    down: false,
    answer: undefined as (() => Response) | undefined,
    /** Every heartbeat batch the agent tried to send, delivered or not. */
    batches: [] as Heartbeat[][],
    deletes: 0,
    sleeps: [] as number[],
    logs: [] as string[],
    stop: new AbortController(),
    /** Called after each sleep with the count so far: change the world, or stop. */
    onSleep: (_count: number) => {},
    now: () => now,
    app,
  }
  const fetch: FetchLike = async (url, init) => {
    if (init.method === 'POST') w.batches.push(JSON.parse(String(init.body)))
    if (init.method === 'DELETE') w.deletes++
    if (w.down) throw new TypeError('fetch failed', { cause: new Error('connect ECONNREFUSED 127.0.0.1:8787') })
    if (w.answer) return w.answer()
    return app.request(url, init)
  }
  const clock: Clock = {
    now: () => now,
    sleep: async (ms) => {
      w.sleeps.push(ms)
      now += Math.max(0, ms)
      if (w.sleeps.length > 500) w.stop.abort() // a runaway loop ends the test, not the machine
      w.onSleep(w.sleeps.length)
    },
  }
  const deps: AgentDeps = {
    client: createClient({ baseUrl: 'http://pulsegate.test', token, fetch }),
    clock,
    random: () => 0.5,
    log: (line) => w.logs.push(line),
  }
  const readyz = async (agent: string) => {
    const res = await app.request(`http://pulsegate.test/readyz/${agent}`)
    return res.status === 404 ? 'absent' : ((await res.json()) as { state: string }).state
  }
  return { w, deps, readyz }
}

/** A component whose check answers whatever `health.probe` holds. */
function switchable(name = 'main') {
  const health = { probe: { status: 'ok' } as Probe }
  return { health, component: { name, describe: 'test', check: async () => health.probe } }
}

function sidecar(components: SidecarConfig['components'], extra: Partial<SidecarConfig> = {}): SidecarConfig {
  return {
    agent: 'node-17',
    components,
    intervalMs: 60_000,
    fastIntervalMs: 5000,
    keep: false,
    once: false,
    verbose: false,
    tokenSet: false,
    ...extra,
  }
}

describe('the sidecar loop (injected clock)', () => {
  it('beats every interval while ok and every fast interval while degraded or recovering', async () => {
    const { w, deps, readyz } = world({ RECOVERY_SECONDS: '10' })
    const { health, component } = switchable()
    w.onSleep = (n) => {
      if (n === 2) health.probe = { status: 'degraded', message: 'HTTP 500' }
      if (n === 3) health.probe = { status: 'ok' }
      if (n === 7) w.stop.abort()
    }
    expect(await runSidecar(sidecar([component]), deps, w.stop.signal)).toBe(0)

    // Registered as starting, then at once the first probe; ok → 60 s; degraded and recovering → 5 s.
    expect(w.batches.map((b) => [b[0]!.status, b[0]!.interval_seconds])).toEqual([
      ['starting', 5], ['ok', 60], ['degraded', 5], ['ok', 5], ['ok', 5], ['ok', 5], ['ok', 60],
    ])
    expect(w.sleeps).toEqual([0, 60_000, 5000, 5000, 5000, 5000, 60_000])
    // One log line per state change, not per beat; then the deregistering.
    expect(w.logs).toEqual([
      'node-17/main starting',
      'node-17/main starting → ok',
      'node-17/main ok → degraded: HTTP 500',
      'node-17/main degraded → recovering',
      'node-17/main recovering → ok',
      'deregistered node-17',
    ])
    expect(await readyz('node-17')).toBe('absent')
  })

  it('beats at the stated interval at the latest, even when the server says ok sooner than expected', async () => {
    const { w, deps } = world({ RECOVERY_SECONDS: '0' })
    const { health, component } = switchable()
    health.probe = { status: 'degraded' }
    w.onSleep = (n) => {
      if (n === 2) health.probe = { status: 'ok' }
      if (n === 5) w.stop.abort()
    }
    await runSidecar(sidecar([component], { keep: true }), deps, w.stop.signal)
    // degraded (5) → recovering, stated 5 → ok (window 0), stated 5 so the next comes in 5 → then 60.
    expect(w.batches.slice(1).map((b) => b[0]!.interval_seconds)).toEqual([5, 5, 5, 60])
    expect(w.sleeps.slice(1)).toEqual([5000, 5000, 5000, 60_000])
    expect(w.deletes).toBe(0) // --keep
  })

  it('backs off with full jitter capped at the interval, then reports the current state', async () => {
    const { w, deps, readyz } = world()
    const web = switchable('web')
    const db = switchable('db')
    w.onSleep = (n) => {
      if (n === 2) w.down = true
      if (n > 2) db.health.probe = { status: n >= 11 ? 'degraded' : 'ok', message: `round ${n}` }
      if (n === 12) w.down = false
      if (n === 13) w.stop.abort()
    }
    await runSidecar(sidecar([web.component, db.component], { keep: true }), deps, w.stop.signal)
    // random() = 0.5: half of 1 s, 2 s, 4 s … capped at the 60 s interval; once degraded, at the 5 s one.
    expect(w.sleeps.slice(2, 12)).toEqual([500, 1000, 2000, 4000, 8000, 16_000, 30_000, 30_000, 30_000, 2500])
    // Every attempt carried one heartbeat per component — the latest — never a backlog.
    expect(w.batches.every((b) => b.length === 2)).toBe(true)
    const delivered = w.batches.at(-1)!
    expect(delivered.map((b) => `${b.component} ${b.status} ${b.message ?? ''}`)).toEqual(['web ok ', 'db degraded round 12'])
    expect(await readyz('node-17')).toBe('degraded')
    expect(w.logs.filter((l) => /reachable/.test(l))).toEqual([
      'pulsegate unreachable: connect ECONNREFUSED 127.0.0.1:8787; retrying, keeping only the latest state',
      'pulsegate reachable again',
    ])
  })

  it('waits at least as long as Retry-After says', async () => {
    const { w, deps } = world()
    w.answer = () => Response.json({ error: { code: 'rate_limited', message: 'slow down' } }, { status: 429, headers: { 'Retry-After': '42' } })
    w.onSleep = (n) => n === 3 && w.stop.abort()
    await runSidecar(sidecar([switchable().component], { keep: true }), deps, w.stop.signal)
    expect(w.sleeps).toEqual([42_000, 42_000, 42_000])
  })

  it('keeps the latest state per component however long pulsegate is away', async () => {
    const { w, deps } = world()
    const reporter = new Reporter({ agent: 'a', verbose: false, tokenSet: false }, deps)
    w.down = true
    for (let i = 0; i < 200; i++) {
      reporter.put('web', i % 2 ? 'ok' : 'degraded', `try ${i}`, 5)
      reporter.put('db', 'ok', undefined, 5)
      expect((await reporter.flush()).kind).toBe('retry')
      expect(reporter.queue.size).toBe(2)
    }
    w.down = false
    expect(await reporter.flush()).toMatchObject({ kind: 'sent', results: [{ component: 'web', state: 'ok' }, { component: 'db' }] })
    expect(w.batches.at(-1)![0]!.message).toBe('try 199')
    expect(reporter.queue.size).toBe(0)
  })

  it('stops with 2 on a wrong or missing token, saying so without the token', async () => {
    for (const [token, said] of [['hunter2-wrong', 'the token in PULSEGATE_TOKEN is wrong'], [undefined, 'no token was given: set PULSEGATE_TOKEN']] as const) {
      const { w, deps } = world({ HEARTBEAT_TOKEN: 'right' }, token)
      expect(await runSidecar(sidecar([switchable().component], { tokenSet: token !== undefined }), deps, w.stop.signal)).toBe(2)
      expect(w.logs).toEqual([`pulsegate refused the heartbeat (HTTP 401 unauthorized): ${said}`])
      expect(w.logs.join()).not.toContain('hunter2')
      expect(w.batches).toHaveLength(1)
    }
  })

  it('stops with 2 and the server message when the heartbeat is rejected', async () => {
    const { w, deps } = world()
    w.answer = () =>
      Response.json(
        { error: { code: 'invalid_heartbeat', message: 'the heartbeat is not valid; nothing was stored', issues: [{ path: [0, 'labels'], message: 'too many' }] } },
        { status: 400 },
      )
    expect(await runSidecar(sidecar([switchable().component]), deps, w.stop.signal)).toBe(2)
    expect(w.logs).toEqual([
      'pulsegate rejected the heartbeat (HTTP 400 invalid_heartbeat): the heartbeat is not valid; nothing was stored (0.labels: too many)',
    ])
  })

  it('--once: one round without registering, 0 when delivered and 1 when pulsegate stays away', async () => {
    const ok = world()
    expect(await runSidecar(sidecar([switchable().component], { once: true }), ok.deps, ok.w.stop.signal)).toBe(0)
    expect(ok.w.batches.map((b) => b[0]!.status)).toEqual(['ok'])
    expect([ok.w.sleeps, ok.w.deletes]).toEqual([[], 0])

    const away = world()
    away.w.down = true
    expect(await runSidecar(sidecar([switchable().component], { once: true, intervalMs: 10_000 }), away.deps, away.w.stop.signal)).toBe(1)
    expect(away.w.now() - T0).toBeLessThanOrEqual(10_000)
    expect(away.w.logs.at(-1)).toMatch(/^gave up: pulsegate did not take the heartbeat \(connect ECONNREFUSED/)
  })

  // Waits of 800, 800 and then 1500 ms: the third would end at 3.1 s, past a 3 s budget.
  const draws = () => {
    const values = [0.8, 0.4, 0.5]
    return () => values.shift() ?? 0.5
  }

  it('--once keeps trying for the whole of min(--interval, 60 s): the last wait is cut to end at the budget', async () => {
    const away = world()
    away.w.down = true
    const deps = { ...away.deps, random: draws() }
    expect(await runSidecar(sidecar([switchable().component], { once: true, intervalMs: 3000 }), deps, away.w.stop.signal)).toBe(1)
    // It used to give up at 1.6 s, as soon as the next jittered wait would overshoot.
    expect(away.w.sleeps).toEqual([800, 800, 1400])
    expect(away.w.batches).toHaveLength(4)
    expect(away.w.now() - T0).toBe(3000)
    expect(away.w.logs.filter((l) => l.startsWith('gave up'))).toHaveLength(1)
  })

  it('--once delivers when pulsegate is back before the budget ends', async () => {
    const { w, deps, readyz } = world()
    w.down = true
    w.onSleep = () => {
      if (w.now() >= T0 + 2500) w.down = false
    }
    expect(await runSidecar(sidecar([switchable().component], { once: true, intervalMs: 3000 }), { ...deps, random: draws() }, w.stop.signal)).toBe(0)
    expect(w.now() - T0).toBe(3000)
    expect(await readyz('node-17')).toBe('ok')
  })

  it('--once gives up at once when Retry-After points past the budget, rather than come back sooner than asked', async () => {
    const { w, deps } = world()
    w.answer = () => Response.json({ error: { code: 'rate_limited', message: 'slow down' } }, { status: 429, headers: { 'Retry-After': '5' } })
    expect(await runSidecar(sidecar([switchable().component], { once: true, intervalMs: 3000 }), deps, w.stop.signal)).toBe(1)
    expect([w.batches.length, w.sleeps]).toEqual([1, []])
  })
})

describe('run: the final report (injected clock, a real job)', () => {
  const job = (command: string[]): JobConfig => ({ agent: 'job-9', component: 'main', intervalMs: 3000, command, verbose: false, tokenSet: false, quiet: true })

  it('is retried for the whole of min(--interval, 60 s), then the job\'s exit code is passed through', async () => {
    const { w, deps } = world()
    w.down = true
    const values = [0.8, 0.4, 0.5]
    expect(await runJob(job(['sh', '-c', 'exit 3']), { ...deps, random: () => values.shift() ?? 0.5 })).toBe(3)
    // The run's start while the job ran, then its finish at 0, 0.8, 1.6 and 3 s: the same run id, the exit code.
    const beats = w.batches.map((b) => b[0]!)
    expect(beats.map((b) => b.run)).toEqual(['start', 'finish', 'finish', 'finish', 'finish'])
    expect(beats.map((b) => b.exit_code)).toEqual([undefined, 3, 3, 3, 3])
    expect(new Set(beats.map((b) => b.run_id)).size).toBe(1)
    expect(beats[0]!.status).toBeUndefined()
    expect(w.sleeps).toEqual([800, 800, 1400])
    expect(w.now() - T0).toBe(3000)
  })

  it('is delivered when pulsegate is back before the budget ends', async () => {
    const { w, deps, readyz } = world()
    w.down = true
    w.onSleep = () => {
      if (w.now() >= T0 + 2500) w.down = false
    }
    const values = [0.8, 0.4, 0.5]
    expect(await runJob(job(['true']), { ...deps, random: () => values.shift() ?? 0.5 })).toBe(0)
    expect(await readyz('job-9')).toBe('ok')
  })
})

// ---------------------------------------------------------------- the CLI as a process

const AGENT = join(ROOT, 'bin/pulsegate-agent.ts')

interface RunningAgent {
  child: ChildProcess
  output: () => string
  exited: Promise<number | null>
}

const servers: RunningServer[] = []
const agents: RunningAgent[] = []
const endpoints: Server[] = []
afterEach(async () => {
  for (const agent of agents.splice(0)) {
    if (agent.child.exitCode === null && agent.child.signalCode === null) agent.child.kill('SIGKILL')
    await agent.exited
  }
  for (const server of servers.splice(0)) if (server.child.exitCode === null) await server.kill()
  for (const endpoint of endpoints.splice(0)) {
    endpoint.closeAllConnections()
    endpoint.close()
  }
})

async function start(env: Record<string, string> = {}, dataDir?: string) {
  const server = await startServer(env, dataDir)
  servers.push(server)
  return server
}

function agent(args: string[], env: Record<string, string> = {}): RunningAgent {
  const { PULSEGATE_TOKEN: _t, PULSEGATE_URL: _u, ...inherited } = process.env
  const child = spawn(process.execPath, [AGENT, ...args], { cwd: ROOT, env: { ...inherited, ...env }, stdio: ['ignore', 'pipe', 'pipe'] })
  let output = ''
  child.stdout!.on('data', (d) => (output += d))
  child.stderr!.on('data', (d) => (output += d))
  const exited = new Promise<number | null>((resolve) => child.on('exit', (code) => resolve(code)))
  const running = { child, output: () => output, exited }
  agents.push(running)
  return running
}

/** Poll until `probe` answers something `accept`s; fails with the last answer at the deadline. */
async function until<T>(probe: () => Promise<T>, accept: (value: T) => boolean, what: string, ms = 10_000): Promise<T> {
  const deadline = Date.now() + ms
  let last: T | undefined
  while (Date.now() < deadline) {
    last = await probe()
    if (accept(last)) return last
    await new Promise((resolve) => setTimeout(resolve, 25))
  }
  throw new Error(`timed out waiting for ${what}; last: ${JSON.stringify(last)}`)
}

/** A local health endpoint whose answer the test switches; 'hold' keeps requests waiting. */
async function healthEndpoint() {
  let mode: number | 'hold' = 200
  const held: ServerResponse[] = []
  const server = createServer((_req, res) => (mode === 'hold' ? held.push(res) : res.writeHead(mode).end()))
  endpoints.push(server)
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve))
  return {
    url: `http://127.0.0.1:${(server.address() as AddressInfo).port}/health`,
    set(next: number | 'hold') {
      mode = next
      if (next !== 'hold') for (const res of held.splice(0)) res.writeHead(next).end()
    },
  }
}

function api(url: string) {
  return {
    state: async (agentId: string) => {
      const res = await fetch(`${url}/readyz/${agentId}`)
      return res.status === 404 ? 'absent' : ((await res.json()) as { state: string }).state
    },
    component: async (agentId: string) => {
      const res = await fetch(`${url}/v1/agents/${agentId}`)
      return res.ok ? ((await res.json()) as any).components[0] : undefined
    },
  }
}

const fast = ['--interval', '0.2', '--fast-interval', '0.2']

describe('checks (real HTTP and /bin/sh)', () => {
  const never = new AbortController().signal

  it('http: ok on 200–399, the status or the reason otherwise', async () => {
    const health = await healthEndpoint()
    const check = httpCheck(health.url, 200)
    expect(await check(never)).toEqual({ status: 'ok' })
    health.set(302)
    expect(await check(never)).toEqual({ status: 'ok' })
    health.set(500)
    expect(await check(never)).toEqual({ status: 'degraded', message: 'HTTP 500' })
    health.set('hold')
    expect(await check(never)).toEqual({ status: 'degraded', message: 'timeout after 0.2s' })
    const closed = await healthEndpoint()
    endpoints.pop()!.close()
    expect((await httpCheck(closed.url, 1000)(never)).message).toMatch(/^connect ECONNREFUSED 127\.0\.0\.1:\d+$/)
  })

  it('exec: ok on exit 0; the last line of output is the message; a timeout kills what it started', async () => {
    expect(await execCheck('echo starting; echo "replication lag 2s" >&2', 2000)(never)).toEqual({ status: 'ok', message: 'replication lag 2s' })
    expect(await execCheck('true', 2000)(never)).toEqual({ status: 'ok', message: undefined })
    expect(await execCheck('echo "disk 97% full"; exit 1', 2000)(never)).toEqual({ status: 'degraded', message: 'disk 97% full' })
    expect(await execCheck('exit 4', 2000)(never)).toEqual({ status: 'degraded', message: 'exit code 4' })
    expect(await execCheck(`printf '%05000d' 0`, 2000)(never)).toMatchObject({ message: expect.stringMatching(/^0+…$/) })
    const started = Date.now()
    expect(await execCheck('sleep 5 & sleep 5', 150)(never)).toEqual({ status: 'degraded', message: 'timeout after 0.15s' })
    expect(Date.now() - started).toBeLessThan(2000)
  })
})

describe('pulsegate-agent, the process, against the real server', () => {
  it('follows a flipping check through starting → ok → degraded → recovering → ok, and deregisters on SIGTERM', async () => {
    const server = await start({ RECOVERY_SECONDS: '1' })
    const { state, component } = api(server.url)
    const health = await healthEndpoint()
    health.set('hold') // the first probe hangs, so "starting" stays visible
    const a = agent(['--agent', 'flip-1', '--check', health.url, ...fast], { PULSEGATE_URL: server.url })
    const seen = (wanted: string) => until(() => state('flip-1'), (s) => s === wanted, wanted)

    await seen('starting')
    health.set(200)
    await seen('ok')
    health.set(500)
    await seen('degraded')
    expect((await component('flip-1')).message).toBe('HTTP 500')
    health.set(200)
    await seen('recovering')
    await seen('ok')

    a.child.kill('SIGTERM')
    expect(await a.exited).toBe(0)
    expect(await state('flip-1')).toBe('absent')
    const changes = a.output().split('\n').filter((l) => l.includes('flip-1/main')).map((l) => l.replace(/^\S+ pulsegate-agent: /, ''))
    expect(changes).toEqual([
      'flip-1/main starting',
      'flip-1/main starting → ok',
      'flip-1/main ok → degraded: HTTP 500',
      'flip-1/main degraded → recovering',
      'flip-1/main recovering → ok',
    ])
    expect(a.output()).toMatch(/^\d{4}-\d\d-\d\dT[\d:.]+Z pulsegate-agent: SIGTERM: stopping, deregistering$/m)
    expect(a.output()).toContain('deregistered flip-1')
  })

  it('survives the server going away and reports the current state when it is back', async () => {
    const dataDir = tempDataDir()
    const first = await start({}, dataDir)
    const port = new URL(first.url).port
    const health = await healthEndpoint()
    const a = agent(['--agent', 'away-1', '--check', health.url, ...fast], { PULSEGATE_URL: first.url })
    await until(() => api(first.url).state('away-1'), (s) => s === 'ok', 'ok')

    expect(await first.stop()).toBe(0)
    health.set(500) // changes while pulsegate is away
    await until(async () => a.output(), (out) => out.includes('pulsegate unreachable'), 'the agent to notice')

    const again = await start({ PORT: port }, dataDir)
    expect(again.url).toBe(first.url)
    const back = await until(() => api(again.url).component('away-1'), (c) => c?.state === 'degraded', 'degraded')
    expect(back.message).toBe('HTTP 500')
    expect(a.child.exitCode).toBeNull()
    // The server may answer /v1/agents before the agent has read the POST's answer.
    await until(async () => a.output(), (out) => /reachable again\n.*away-1\/main ok → degraded: HTTP 500\n/.test(out), 'the log')
  })

  it('run -- reports the job, passes its exit code through, and lets its output through', async () => {
    const server = await start()
    const { component } = api(server.url)
    const env = { PULSEGATE_URL: server.url }
    const failing = agent(['run', '--agent', 'job-1', '--interval', '0.2', '--', 'sh', '-c', 'echo working; exit 3'], env)
    const killed = agent(['run', '--agent', 'job-2', '--component', 'backup', '--', 'sh', '-c', 'kill -TERM $$'], env)
    const passing = agent(['run', '--agent', 'job-3', '--', 'true'], env)

    expect(await failing.exited).toBe(3)
    expect(failing.output()).toContain('working\n')
    expect(await component('job-1')).toMatchObject({ component: 'main', state: 'degraded', interval_seconds: 0.2 })
    expect((await component('job-1')).message).toMatch(/^exit code 3 after \d+(\.\d+)?s$/)

    expect(await killed.exited).toBe(143)
    expect(await component('job-2')).toMatchObject({ component: 'backup', state: 'degraded' })
    expect((await component('job-2')).message).toMatch(/^killed by SIGTERM \(exit code 143\) after /)

    expect(await passing.exited).toBe(0)
    expect(await component('job-3')).toMatchObject({ state: 'ok', message: expect.stringMatching(/^exit code 0 after /) })
  })

  it('exits 2 at once on a wrong or missing token, without printing it', async () => {
    const server = await start({ HEARTBEAT_TOKEN: 'right-token' })
    const env = { PULSEGATE_URL: server.url }
    const wrong = agent(['--agent', 'tok-1'], { ...env, PULSEGATE_TOKEN: 'not-the-token-xyz' })
    const missing = agent(['--agent', 'tok-1'], env)
    const job = agent(['run', '--agent', 'tok-2', '--', 'true'], { ...env, PULSEGATE_TOKEN: 'not-the-token-xyz' })
    const right = agent(['--agent', 'tok-3', '--once'], { ...env, PULSEGATE_TOKEN: 'right-token' })

    expect(await wrong.exited).toBe(2)
    expect(wrong.output()).toMatch(/pulsegate refused the heartbeat \(HTTP 401 unauthorized\): the token in PULSEGATE_TOKEN is wrong/)
    expect(await missing.exited).toBe(2)
    expect(missing.output()).toMatch(/no token was given: set PULSEGATE_TOKEN/)
    expect(await job.exited).toBe(2) // the job ran and succeeded; the report could not be made
    expect(await right.exited).toBe(0)
    for (const a of [wrong, missing, job, right]) expect(a.output()).not.toMatch(/not-the-token|right-token/)
    expect(await api(server.url).state('tok-3')).toBe('ok')
  })
})
