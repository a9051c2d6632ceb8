// Profiles: the V8 → pprof converters on hand-made profiles; then the real Node server,
// with DEBUG=true's /debug/pprof/ on the main port (loopback clients only) and the
// always-on debug socket, as `pulsegate debug profile` (node_modules/.bin) uses it.
import { type ChildProcess, spawn, spawnSync } from 'node:child_process'
import { existsSync, readFileSync, readdirSync, statSync } from 'node:fs'
import { join } from 'node:path'
import { gunzipSync } from 'node:zlib'
import { Profile, type ValueType } from 'pprof-format'
import { afterEach, describe, expect, it } from 'vitest'
import { type CpuProfile, cpuProfileToPprof, type HeapProfile, heapProfileToPprof } from '../lib/server/pprof.ts'
import { ROOT, type RunningServer, startServer, tempDataDir, tempDir } from './support/server.ts'

const PULSEGATE = join(ROOT, 'node_modules/.bin/pulsegate')

/** A profile's samples as readable rows: the stack's function names, leaf first, and the values. */
function rows(profile: Profile) {
  const strings = profile.stringTable.strings
  const functions = new Map(profile.function.map((f) => [Number(f.id), f]))
  const locations = new Map(profile.location.map((l) => [Number(l.id), l]))
  const nameOf = (locationId: unknown) => strings[Number(functions.get(Number(locations.get(Number(locationId))!.line[0]!.functionId))!.name)]
  return profile.sample.map((s) => ({ stack: s.locationId.map(nameOf), values: s.value.map(Number) }))
}

const typeOf = (profile: Profile, t: ValueType) => `${profile.stringTable.strings[Number(t.type)]}/${profile.stringTable.strings[Number(t.unit)]}`
const sampleTypes = (profile: Profile) => profile.sampleType.map((t) => typeOf(profile, t))

/** The files of a profile's functions, relative to the repository. */
function filesOf(profile: Profile): Set<string> {
  return new Set(profile.function.map((f) => profile.stringTable.strings[Number(f.filename)]!.replace(ROOT, '')))
}

/**
 * pulsegate's files that take heartbeats in and keep them: not those every request passes
 * (lib/serve.ts, lib/app.ts), which the profile's own request is in.
 */
const heartbeatFiles = (profile: Profile) => [...filesOf(profile)].filter((file) => /^lib\/(stores\/|heartbeat\.ts|routes\/agents\.ts)/.test(file))

const frame = (functionName: string, lineNumber = -1, url = '') => ({ functionName, url, lineNumber, columnNumber: lineNumber < 0 ? -1 : 2 })

describe('cpuProfileToPprof', () => {
  // (root) → main → beat, and main → retry → beat again; idle and GC beside them.
  const v8: CpuProfile = {
    nodes: [
      { id: 1, callFrame: frame('(root)'), children: [2, 4, 5] },
      { id: 2, callFrame: frame('main', 9, 'file:///srv/lib/my%20app.ts'), children: [3, 6] },
      { id: 3, callFrame: frame('beat', 19, 'file:///srv/lib/my%20app.ts') },
      { id: 4, callFrame: frame('(idle)') },
      { id: 5, callFrame: frame('(garbage collector)') },
      { id: 6, callFrame: frame('', 29, 'file:///srv/lib/my%20app.ts'), children: [7] },
      { id: 7, callFrame: frame('beat', 19, 'file:///srv/lib/my%20app.ts') },
    ],
    startTime: 1_000,
    endTime: 8_000,
    // At 1100, 2100, 3100 (beat, beat, main), 5100 (idle), 5600 (GC), 6000 (beat via the anonymous retry).
    samples: [3, 3, 2, 4, 5, 7],
    timeDeltas: [100, 1000, 1000, 2000, 500, 400],
  }
  const decoded = () => Profile.decode(cpuProfileToPprof(v8, { startedAt: 1_700_000_000_123, intervalMicros: 1000 }))

  it('makes one sample per stack, leaf first, counting samples and the time until the next one, without idle', () => {
    const profile = decoded()
    expect(sampleTypes(profile)).toEqual(['samples/count', 'cpu/nanoseconds'])
    expect(rows(profile)).toEqual([
      { stack: ['beat', 'main'], values: [2, 2_000_000] },
      { stack: ['main'], values: [1, 2_000_000] },
      { stack: ['(garbage collector)'], values: [1, 400_000] },
      { stack: ['beat', '(anonymous)', 'main'], values: [1, 2_000_000] },
    ])
  })

  it('says where each function is, once per function, with the period and the times', () => {
    const profile = decoded()
    const strings = profile.stringTable.strings
    const functions = profile.function.map((f) => [strings[Number(f.name)], strings[Number(f.filename)], Number(f.startLine)])
    expect(functions).toEqual([
      ['beat', '/srv/lib/my app.ts', 20],
      ['main', '/srv/lib/my app.ts', 10],
      ['(garbage collector)', '', 0],
      ['(anonymous)', '/srv/lib/my app.ts', 30],
    ])
    expect(profile.location.map((l) => Number(l.line[0]!.line))).toEqual([20, 10, 0, 30])
    expect(typeOf(profile, profile.periodType!)).toBe('cpu/nanoseconds')
    expect(Number(profile.period)).toBe(1_000_000)
    expect(Number(profile.durationNanos)).toBe(7_000_000)
    expect(BigInt(profile.timeNanos)).toBe(1_700_000_000_123_000_000n)
  })

  it('makes an empty profile of one with no samples', () => {
    const profile = Profile.decode(cpuProfileToPprof({ nodes: [{ id: 1, callFrame: frame('(root)') }], startTime: 0, endTime: 0 }, { startedAt: 0, intervalMicros: 1000 }))
    expect(profile.sample).toEqual([])
  })
})

describe('heapProfileToPprof', () => {
  it('makes one inuse_space sample per frame that still holds bytes, with its callers', () => {
    const v8: HeapProfile = {
      head: {
        callFrame: frame('(root)'),
        selfSize: 0,
        children: [
          { callFrame: frame('load', 4, 'file:///srv/lib/a.ts'), selfSize: 4096, children: [{ callFrame: frame('parse', 14, 'file:///srv/lib/a.ts'), selfSize: 1024, children: [] }] },
          { callFrame: frame('idle', 24, 'file:///srv/lib/a.ts'), selfSize: 0, children: [] },
        ],
      },
    }
    const profile = Profile.decode(heapProfileToPprof(v8, { takenAt: 5, intervalBytes: 524_288 }))
    expect(sampleTypes(profile)).toEqual(['inuse_space/bytes'])
    expect(rows(profile).sort((a, b) => a.values[0]! - b.values[0]!)).toEqual([
      { stack: ['parse', 'load'], values: [1024] },
      { stack: ['load'], values: [4096] },
    ])
    expect(Number(profile.period)).toBe(524_288)
    expect(BigInt(profile.timeNanos)).toBe(5_000_000n)
  })
})

// ---- the real server ----

const servers: RunningServer[] = []
const children: ChildProcess[] = []
afterEach(async () => {
  for (const server of servers.splice(0)) if (server.child.exitCode === null) await server.kill()
  for (const child of children.splice(0)) child.kill('SIGKILL')
})

async function start(env: Record<string, string> = {}, dataDir?: string) {
  const server = await startServer({ RATE_LIMIT_PER_SECOND: '0', ...env }, dataDir)
  servers.push(server)
  return server
}

const errorCode = async (res: Response) => ((await res.json()) as { error: { code: string } }).error.code

/** A pprof file as served: gzipped protobuf. */
const decode = (bytes: Uint8Array) => Profile.decode(gunzipSync(bytes))

/** Batches of heartbeats (each under the 16 KiB body limit), each of its own agent, with messages the store keeps: work to profile and memory to find. */
async function beat(url: string, batches: number, offset = 0) {
  for (let b = 0; b < batches; b++) {
    const batch = Array.from({ length: 100 }, (_, i) => ({ agent: `agent-${offset + b * 100 + i}`, status: 'degraded', message: `disk ${b}-${i} `.padEnd(60, 'x') }))
    const res = await fetch(`${url}/v1/heartbeat`, { method: 'POST', headers: { 'Content-Type': 'application/json' }, body: JSON.stringify(batch) })
    expect(res.status).toBe(200)
  }
}

/** Run pulsegate as a user would, its standard output a pipe; resolves with the exit code and what it wrote. */
function pulsegate(args: string[], env: Record<string, string> = {}): Promise<{ code: number | null; stdout: Buffer; stderr: string }> {
  return new Promise((resolve) => {
    const child = spawn(PULSEGATE, args, { cwd: tempDir('pulsegate-cwd-'), env: { ...process.env, ...env }, stdio: ['ignore', 'pipe', 'pipe'] })
    const stdout: Buffer[] = []
    let stderr = ''
    child.stdout.on('data', (d: Buffer) => stdout.push(d))
    child.stderr.on('data', (d) => (stderr += d))
    child.on('exit', (code) => resolve({ code, stdout: Buffer.concat(stdout), stderr }))
  })
}

/** Unpack a .tar.gz with the system's tar: a check of the archive by a program that is not ours. */
function untar(archive: Buffer): Record<string, Buffer> {
  const dir = tempDir('pulsegate-untar-')
  const result = spawnSync('tar', ['-xzf', '-', '-C', dir], { input: archive })
  expect(result.status, result.stderr?.toString()).toBe(0)
  return Object.fromEntries(readdirSync(dir).map((name) => [name, readFileSync(join(dir, name))]))
}

describe('DEBUG=true: /debug/pprof/ on the main port', () => {
  it('serves a CPU profile that caught the heartbeats sent while it ran, as a pprof file', async () => {
    const server = await start({ DEBUG: 'true' })
    const profile = fetch(`${server.url}/debug/pprof/profile?seconds=1`)
    let done = false
    const finished = () => (done = true)
    profile.then(finished, finished)
    // The same thousand agents over and over: work without reaching MAX_AGENTS.
    for (let round = 0; !done && round < 500; round++) await beat(server.url, 1, (round % 10) * 100)
    const res = await profile
    expect(res.status).toBe(200)
    expect(res.headers.get('Content-Type')).toBe('application/octet-stream')
    expect(res.headers.get('Content-Disposition')).toBe('attachment; filename="cpu.pprof"')
    const pprof = decode(new Uint8Array(await res.arrayBuffer()))
    expect(sampleTypes(pprof)).toEqual(['samples/count', 'cpu/nanoseconds'])
    expect(pprof.sample.length).toBeGreaterThan(0)
    expect(heartbeatFiles(pprof).length, [...filesOf(pprof)].join('\n')).toBeGreaterThan(0)
  })

  it('serves a heap profile of what pulsegate holds', async () => {
    const server = await start({ DEBUG: 'true' })
    await beat(server.url, 30)
    const res = await fetch(`${server.url}/debug/pprof/heap`)
    expect(res.status).toBe(200)
    expect(res.headers.get('Content-Disposition')).toBe('attachment; filename="heap.pprof"')
    const pprof = decode(new Uint8Array(await res.arrayBuffer()))
    expect(sampleTypes(pprof)).toEqual(['inuse_space/bytes'])
    expect(heartbeatFiles(pprof).length, [...filesOf(pprof)].join('\n')).toBeGreaterThan(0)
  })

  it('takes one CPU profile at a time, on the port and the socket alike; refuses bad seconds', async () => {
    const server = await start({ DEBUG: 'true' })
    const viaSocket = pulsegate(['debug', 'profile', '-s', '2', 'cpu'], { DATA_DIR: server.dataDir })
    const viaPort = fetch(`${server.url}/debug/pprof/profile?seconds=2`)
    const [cli, port] = await Promise.all([viaSocket, viaPort])
    // Whichever came second was refused: 409 on the port, exit 1 with the server's reason from the command.
    expect([cli.code === 0 ? 200 : 409, port.status].sort()).toEqual([200, 409])
    if (port.status === 409) expect(await errorCode(port)).toBe('profile_in_progress')
    else expect(cli.stderr).toMatch(/took no cpu profile \(409\): a CPU profile is being taken already/)

    for (const seconds of ['0', '301', '1.5', 'abc', '']) {
      const bad = await fetch(`${server.url}/debug/pprof/profile?seconds=${seconds}`)
      expect(bad.status, seconds).toBe(400)
      expect(await errorCode(bad)).toBe('invalid_seconds')
    }
  })

  it('stops a CPU profile when its client hangs up: the next one is not refused as busy', async () => {
    const server = await start({ DEBUG: 'true' })
    const gone = fetch(`${server.url}/debug/pprof/profile?seconds=120`, { signal: AbortSignal.timeout(500) })
    await expect(gone).rejects.toThrow()
    // The hang-up reaches the server on its own connection: a few tries, far fewer than 120 s of them.
    let status = 0
    for (let attempt = 0; attempt < 30 && status !== 200; attempt++) {
      if (attempt > 0) await new Promise((resolve) => setTimeout(resolve, 100))
      status = (await fetch(`${server.url}/debug/pprof/profile?seconds=1`)).status
    }
    expect(status).toBe(200)
  })

  it('refuses a client that is not on this machine (403), in a network namespace of its own', async (ctx) => {
    // The server and its client run in a new network namespace, whose loopback also holds
    // 198.18.0.1 (RFC 2544's test range): a local but not loopback address, reached by
    // nothing outside. Needs root (or user namespaces) for unshare.
    const probe = spawnSync('unshare', ['--net', 'sh', '-c', 'ip link set lo up && ip addr add 198.18.0.1/32 dev lo'])
    if (probe.error || probe.status !== 0) ctx.skip(`unshare --net with ip cannot make a network namespace here: ${probe.error?.message ?? probe.stderr.toString().trim()}`)
    const namespace = 'ip link set lo up && ip addr add 198.18.0.1/32 dev lo && exec "$@"'
    const child = spawn('unshare', ['--net', 'sh', '-c', namespace, 'sh', process.execPath, 'functions/node.ts'], {
      cwd: ROOT,
      env: { ...process.env, HOST: '0.0.0.0', PORT: '0', DEBUG: 'true', HEARTBEAT_TOKEN: 'secret-token', DATA_DIR: tempDataDir() },
      stdio: ['ignore', 'pipe', 'pipe'],
    })
    children.push(child)
    let output = ''
    const port = await new Promise<string>((resolve, reject) => {
      const onData = (d: Buffer) => {
        output += d
        const match = /listening on http:\/\/0\.0\.0\.0:(\d+)/.exec(output)
        if (match) resolve(match[1]!)
      }
      child.stdout.on('data', onData)
      child.stderr.on('data', onData)
      child.on('exit', (code) => reject(new Error(`the server exited with ${code}:\n${output}`)))
    })
    // unshare and sh exec: the child is the server itself, and its namespace is the one to enter.
    const ask = `const answers = []
      for (const host of ['198.18.0.1', '127.0.0.1']) {
        const res = await fetch('http://' + host + ':${port}/debug/pprof/heap')
        answers.push({ host, status: res.status, body: res.status === 200 ? (await res.arrayBuffer()).byteLength : await res.json() })
      }
      console.log(JSON.stringify(answers))`
    const client = spawnSync('nsenter', [`--net=/proc/${child.pid}/ns/net`, process.execPath, '--input-type=module', '-e', ask], { encoding: 'utf8' })
    expect(client.status, client.stderr).toBe(0)
    const [outside, inside] = JSON.parse(client.stdout)
    expect(outside).toEqual({
      host: '198.18.0.1',
      status: 403,
      body: { error: { code: 'forbidden', message: '/debug/pprof/ answers clients on this machine only, not 198.18.0.1' } },
    })
    expect(inside.status).toBe(200)
    expect(inside.body).toBeGreaterThan(0)
  })

  it('refuses a request that says it came through a proxy', async () => {
    const server = await start({ DEBUG: 'true' })
    const res = await fetch(`${server.url}/debug/pprof/heap`, { headers: { 'X-Forwarded-For': '203.0.113.9' } })
    expect(res.status).toBe(403)
    expect(await errorCode(res)).toBe('forbidden')
  })
})

describe('without DEBUG', () => {
  it('answers /debug/pprof/ 404 like any unknown path, and still has its debug socket, 0600', async () => {
    const server = await start()
    for (const path of ['/debug/pprof/profile?seconds=1', '/debug/pprof/heap']) {
      const res = await fetch(`${server.url}${path}`)
      expect(res.status).toBe(404)
      expect(await errorCode(res)).toBe('not_found')
    }
    const socket = statSync(join(server.dataDir, 'debug.sock'))
    expect(socket.isSocket()).toBe(true)
    expect(socket.mode & 0o777).toBe(0o600)
    // Bound elsewhere first, then renamed into place: nothing of that is left behind.
    expect(readdirSync(server.dataDir).filter((name) => name.startsWith('.debug-'))).toEqual([])
  })
})

describe('pulsegate debug profile', () => {
  it('writes a .tar.gz of cpu.pprof and heap.pprof to a pipe, from a server without DEBUG', async () => {
    const server = await start()
    // Without DEBUG the heap is sampled only for the window asked for: heartbeats arrive during both windows.
    const profiling = pulsegate(['debug', 'profile', '-s', '1', 'cpu,heap', '--data-dir', server.dataDir])
    let offset = 0
    for (const deadline = Date.now() + 2500; Date.now() < deadline; offset = (offset + 500) % 3000) {
      await beat(server.url, 5, offset)
      await new Promise((resolve) => setTimeout(resolve, 50)) // within the rate limit of each agent
    }
    const { code, stdout, stderr } = await profiling
    expect(code, stderr).toBe(0)
    expect(stderr).toBe('pulsegate: taking a 1-second CPU profile…\npulsegate: taking a 1-second heap profile…\n')
    const files = untar(stdout)
    expect(Object.keys(files).sort()).toEqual(['cpu.pprof', 'heap.pprof'])
    expect(sampleTypes(decode(files['cpu.pprof']!))).toEqual(['samples/count', 'cpu/nanoseconds'])
    const heap = decode(files['heap.pprof']!)
    expect(sampleTypes(heap)).toEqual(['inuse_space/bytes'])
    expect(heartbeatFiles(heap).length, [...filesOf(heap)].join('\n')).toBeGreaterThan(0)
    // A clean stop removes the socket.
    expect(await server.stop()).toBe(0)
    expect(existsSync(join(server.dataDir, 'debug.sock'))).toBe(false)
  })

  it('takes only the profile it is asked for, from DATA_DIR', async () => {
    const server = await start()
    const { code, stdout, stderr } = await pulsegate(['debug', 'profile', '-s', '1', 'heap'], { DATA_DIR: server.dataDir })
    expect(code, stderr).toBe(0)
    expect(stderr).toBe('pulsegate: taking a 1-second heap profile…\n')
    expect(Object.keys(untar(stdout))).toEqual(['heap.pprof'])
  })

  it('says no server is running, and exits 1, when there is none; and when it was killed, until the next start', async () => {
    const dataDir = tempDataDir()
    const none = await pulsegate(['debug', 'profile', '-s', '1'], { DATA_DIR: dataDir })
    expect(none.code).toBe(1)
    expect(none.stdout.length).toBe(0)
    expect(none.stderr).toBe(
      `pulsegate: no pulsegate server is running with DATA_DIR ${dataDir}: there is no ${dataDir}/debug.sock (start one with pulsegate start, or name its DATA_DIR with --data-dir)\n`,
    )

    const killed = await start({}, dataDir)
    await killed.kill()
    const stale = await pulsegate(['debug', 'profile', '-s', '1', 'heap'], { DATA_DIR: dataDir })
    expect(stale.code).toBe(1)
    expect(stale.stderr).toMatch(/no pulsegate server is running with DATA_DIR .*: nothing answers on .*debug\.sock, left by a server that was killed/)

    await start({}, dataDir) // replaces the stale socket
    const again = await pulsegate(['debug', 'profile', '-s', '1', 'heap'], { DATA_DIR: dataDir })
    expect(again.code, again.stderr).toBe(0)
    expect(Object.keys(untar(again.stdout))).toEqual(['heap.pprof'])
  })

  it('refuses to write the archive to a terminal (exit 2)', async (ctx) => {
    const dataDir = tempDataDir()
    // script(1) runs the command on a pseudo-terminal of its own; -e passes its exit code on.
    const tty = spawnSync('script', ['-qec', `${PULSEGATE} debug profile -s 1`, '/dev/null'], { env: { ...process.env, DATA_DIR: dataDir }, encoding: 'utf8' })
    if (tty.error) ctx.skip(`script(1), which gives a command a terminal, is not here: ${tty.error.message}`)
    expect(tty.status).toBe(2)
    expect(tty.stdout).toMatch(/refusing to write a binary \.tar\.gz to a terminal; redirect it/)
  })

  it('says what is wrong with its command line, and exits 2', async () => {
    for (const [args, message] of [
      [['debug', 'profile', '-s', '0'], '-s must be a whole number of seconds from 1 to 300, not 0'],
      [['debug', 'profile', 'cpu,goroutine'], 'unknown profile "goroutine": pulsegate takes cpu and heap'],
      [['debug', 'profile', '--seconds'], '--seconds needs a value'],
      [['debug', 'trace'], 'unknown command debug trace'],
    ] as const) {
      const { code, stderr } = await pulsegate([...args])
      expect(code, args.join(' ')).toBe(2)
      expect(stderr).toBe(`pulsegate: ${message}\nTry pulsegate --help.\n`)
    }
  })
})
