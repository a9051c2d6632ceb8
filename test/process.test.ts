// The server as a process, on every runtime that runs one: every reason not to
// start is one line and exit code 1; one server per data directory; nothing in
// the background ends the process; a database file taken away is noticed; a stop
// answers what is in flight; the documented Deno start honours any DATA_DIR.
import { execFileSync, spawn } from 'node:child_process'
import { mkdirSync, mkdtempSync, rmSync, writeFileSync } from 'node:fs'
import http from 'node:http'
import { createServer } from 'node:net'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import { DatabaseSync } from 'node:sqlite'
import { afterAll, afterEach, describe, expect, it } from 'vitest'
import { client } from './support/burst.ts'
import { ROOT, type RunningServer, type ServerOptions, runToExit, startServer, tempDataDir, tempDir } from './support/server.ts'

const running: RunningServer[] = []
const mounted: (() => void)[] = []
afterEach(async () => {
  for (const server of running.splice(0)) if (server.child.exitCode === null) await server.kill()
})
afterAll(() => {
  for (const unmount of mounted) unmount()
})

const DENO_ENV = { DENO_DIR: join(ROOT, '.deno') }
/** Each runtime's server, as the README starts it (Deno with the permissions of `deno task start`). */
const RUNTIMES: Record<string, (dataDir: string) => ServerOptions> = {
  node: () => ({}),
  bun: () => ({ command: [join(ROOT, 'node_modules/.bin/bun'), 'functions/bun.ts'] }),
  deno: (dataDir) => ({
    command: [
      join(ROOT, 'node_modules/.bin/deno'), 'run', '--no-prompt', '--allow-net', '--allow-env',
      `--allow-read=${dataDir}`, `--allow-write=${dataDir}`, 'functions/deno.ts',
    ],
  }),
}

async function start(runtime: string, env: Record<string, string> = {}, dataDir = tempDataDir()): Promise<RunningServer> {
  const server = await startServer({ ...DENO_ENV, ...env }, dataDir, RUNTIMES[runtime]!(dataDir))
  running.push(server)
  return server
}

/** A start that must fail: one line on stderr, naming the problem, exit code 1, no stack. */
async function refused(runtime: string, env: Record<string, string>, dataDir: string, expected: RegExp) {
  const started = Date.now()
  const { code, output } = await runToExit({ ...DENO_ENV, DATA_DIR: dataDir, ...env }, RUNTIMES[runtime]!(dataDir))
  expect(output.trim(), output).toMatch(new RegExp(`^pulsegate: ${expected.source}$`))
  expect(code).toBe(1)
  expect(Date.now() - started).toBeLessThan(8000)
}

function freePort(): Promise<{ port: number; close: () => void }> {
  return new Promise((resolve) => {
    const holder = createServer()
    holder.listen(0, '127.0.0.1', () => resolve({ port: (holder.address() as { port: number }).port, close: () => holder.close() }))
  })
}

/** A tmpfs of our own (root, as CI and this machine have): a read-only file system for the test. */
function readOnlyFileSystem(): string | undefined {
  const dir = mkdtempSync(join(tmpdir(), 'pulsegate-ro-'))
  try {
    execFileSync('mount', ['-t', 'tmpfs', '-o', 'size=1m', 'tmpfs', dir], { stdio: 'pipe' })
  } catch (error) {
    if (process.env.CI === 'true') throw error
    console.warn(`\n*** cannot mount a tmpfs (${(error as Error).message.split('\n')[0]}): skipping the read-only test ***\n`)
    return undefined
  }
  mounted.push(() => execFileSync('umount', ['-l', dir]))
  return dir
}

describe('a start that cannot work says why in one line, and exits 1', () => {
  for (const runtime of ['node', 'bun', 'deno']) {
    it(`${runtime}: a port in use, and a DATA_DIR that is a file`, async () => {
      const taken = await freePort()
      try {
        await refused(runtime, { PORT: String(taken.port) }, tempDataDir(), /cannot listen on 127\.0\.0\.1:\d+: the port is in use .*/)
      } finally {
        taken.close()
      }
      const file = join(tempDir('pulsegate-file-'), 'not-a-dir')
      writeFileSync(file, 'x')
      await refused(runtime, {}, file, /cannot use DATA_DIR .*not-a-dir: a file of that name is in the way/)
    })
  }

  it('node: a host that is not of this machine, or does not exist', async () => {
    const env = { HEARTBEAT_TOKEN: 'a-token' }
    await refused('node', { ...env, HOST: '192.0.2.1' }, tempDataDir(), /cannot listen on 192\.0\.2\.1: it is not an address of this machine; .*/)
    await refused('node', { ...env, HOST: 'no-such-host.invalid' }, tempDataDir(), /cannot listen on no-such-host\.invalid: no such host; .*/)
  })

  it('node: a DATA_DIR that cannot be made (under /proc), that it may not write, or whose database file is a directory', async () => {
    await refused('node', {}, '/proc/pulsegate-nope', /cannot use DATA_DIR \/proc\/pulsegate-nope: there is no such directory, and it cannot be made/)
    const dir = tempDataDir()
    mkdirSync(join(dir, 'pulsegate.sqlite'))
    await refused('node', {}, dir, /.*pulsegate\.sqlite is a directory, where pulsegate keeps its database file; move it away/)
    // Not as root, who may write anywhere: as nobody, in a directory of root's.
    const owned = tempDir('pulsegate-owned-')
    const { code, output } = await new Promise<{ code: number | null; output: string }>((resolve) => {
      const child = spawn('runuser', ['-u', 'nobody', '--', process.execPath, 'functions/node.ts'], {
        cwd: ROOT,
        env: { ...process.env, PORT: '0', DATA_DIR: join(owned, 'data') },
      })
      let text = ''
      child.stdout.on('data', (d) => (text += d))
      child.stderr.on('data', (d) => (text += d))
      child.on('exit', (exitCode) => resolve({ code: exitCode, output: text }))
    })
    expect(output.trim()).toBe(`pulsegate: cannot use DATA_DIR ${join(owned, 'data')}: permission denied`)
    expect(code).toBe(1)
  })

  const readOnly = readOnlyFileSystem()
  it.skipIf(!readOnly)('node: a read-only file system, with a healthy database on it or no DATA_DIR yet', async () => {
    const seeded = await start('node', {}, readOnly!)
    await client(seeded.url).beat({ agent: 'a', status: 'ok' })
    await seeded.stop()
    execFileSync('mount', ['-o', 'remount,ro', readOnly!])
    await refused('node', {}, readOnly!, /cannot write in DATA_DIR .*: it is on a read-only file system/)
    await refused('node', {}, join(readOnly!, 'missing'), /cannot use DATA_DIR .*missing: it is on a read-only file system/)
  })

  it('a token list with no token in it', async () => {
    await refused('node', { HEARTBEAT_TOKEN: ',' }, tempDataDir(), /invalid setting HEARTBEAT_TOKEN: lists no token .*/)
  })
})

describe('one server per data directory', () => {
  for (const second of ['node', 'bun', 'deno']) {
    it(`a ${second} server on the DATA_DIR of a running Node server refuses to start, naming the holder; the first serves on`, async () => {
      const dataDir = tempDataDir()
      const first = await start('node', {}, dataDir)
      await refused(second, {}, dataDir, new RegExp(`DATA_DIR ${dataDir} is in use by another pulsegate \\(pid ${first.child.pid}, node, since .*\\); stop it, or give this one another DATA_DIR`))
      expect((await client(first.url).beat({ agent: 'a', status: 'ok' })).status).toBe(200)
      // Once the first has stopped, the directory is free again, even after kill -9.
      await first.kill()
      const next = await start(second, {}, dataDir)
      expect((await client(next.url).get('/livez')).status).toBe(200)
    })
  }
})

describe('nothing in the background ends the process', () => {
  it('a sweep the database refuses is logged once and counted, and the server serves on', async () => {
    const dataDir = tempDataDir()
    const server = await start('node', { SWEEP_SECONDS: '0.2', EXPIRE_SECONDS: '1' }, dataDir)
    const { beat, get } = client(server.url)
    await beat({ agent: 'gone-soon', status: 'ok', interval_seconds: 0.5, grace_seconds: 0 })
    const saboteur = new DatabaseSync(join(dataDir, 'pulsegate.sqlite'))
    saboteur.exec("CREATE TRIGGER refuse BEFORE DELETE ON entries BEGIN SELECT RAISE(ABORT, 'disk I/O error'); END")
    saboteur.close()
    await new Promise((resolve) => setTimeout(resolve, 2500)) // expired at 1 s; ten sweeps fail after it
    expect(server.child.exitCode).toBeNull()
    expect((await get('/livez')).status).toBe(200)
    expect((await get('/readyz')).status).toBe(400) // expired: gone from every answer, though not from the file
    const failures = Number(/^pulsegate_background_errors_total\{task="sweep"\} (\d+)$/m.exec((await get('/metrics')).text)?.[1])
    expect(failures).toBeGreaterThanOrEqual(5)
    const lines = server.output().split('\n').filter((line) => line.includes('sweep failed'))
    expect(lines).toHaveLength(1) // once a minute per kind, not once a sweep
    expect(lines[0]).toMatch(/error="?disk I\/O error/)
    expect(server.output()).not.toMatch(/\n\s+at /) // no stack
  })
})

describe('a database file deleted under a running server', () => {
  it('is noticed by the next write (503) and by the next sweep, and said once, with the reason', async () => {
    const dataDir = tempDataDir()
    const server = await start('node', { SWEEP_SECONDS: '0.5' }, dataDir)
    const { beat } = client(server.url)
    expect((await beat({ agent: 'a', status: 'ok' })).status).toBe(200)
    for (const suffix of ['', '-wal', '-shm']) rmSync(join(dataDir, `pulsegate.sqlite${suffix}`), { force: true })
    await new Promise((resolve) => setTimeout(resolve, 1200)) // a sweep or two with no write at all
    expect(server.output()).toMatch(/sweep failed .*the database file .*pulsegate\.sqlite was deleted or replaced while pulsegate ran/)
    const refused = await beat({ agent: 'a', status: 'degraded' })
    expect(refused.status).toBe(503)
    expect(refused.body.error.code).toBe('store_unavailable')
    expect((await beat({ agent: 'a', status: 'ok' })).status).toBe(503) // and every write after it
    expect(server.output()).toMatch(/heartbeat write failed .*was deleted or replaced/)
  })
})

/** GET path from `connections` separate connections at once; resolve with each status, or the error that ended it. */
function inFlight(url: string, path: string, connections: number): Promise<(number | string)[]> {
  return Promise.all(
    Array.from({ length: connections }, () =>
      new Promise<number | string>((resolve) => {
        const request = http.get(`${url}${path}`, { agent: false, headers: { 'Accept-Encoding': 'identity' } }, (res) => {
          res.resume()
          res.on('end', () => resolve(res.statusCode ?? 0))
          res.on('error', (error) => resolve((error as NodeJS.ErrnoException).code ?? error.message))
        })
        request.on('error', (error) => resolve((error as NodeJS.ErrnoException).code ?? error.message))
      }),
    ),
  )
}

describe('a stop answers what is in flight', () => {
  for (const runtime of ['node', 'bun', 'deno']) {
    it(`${runtime}: SIGTERM while 32 slow requests are in flight: every one is answered, then it exits 0`, async () => {
      const server = await start(runtime, { RATE_LIMIT_PER_SECOND: '0', MAX_AGENTS: '0' })
      const { beat } = client(server.url)
      // A fleet whose /metrics takes a while, so the requests are still queued when the signal comes.
      for (let b = 0; b < 100; b++) {
        const beats = Array.from({ length: 100 }, (_, i) => ({ agent: `n-${b}-${i}`, status: 'ok', version: `v${i % 50}`, interval_seconds: 3600 }))
        expect((await beat(beats)).status).toBe(200)
      }
      const answers = inFlight(server.url, '/metrics', 32)
      // Sent, and most not read yet: each waits for the thread, behind the others.
      await new Promise((resolve) => setTimeout(resolve, 100))
      const exit = server.stop()
      expect(await answers).toEqual(Array(32).fill(200))
      expect(await exit).toBe(0)
    }, 60_000)
  }
})

describe('deno task start, as the README gives it', () => {
  it('serves any DATA_DIR, with permission to read and write there only', async () => {
    const dataDir = join(tempDir('pulsegate-deno-task-'), 'elsewhere')
    const server = await startServer(DENO_ENV, dataDir, { command: [join(ROOT, 'node_modules/.bin/deno'), 'task', 'start'] })
    running.push(server)
    expect((await client(server.url).beat({ agent: 'a', status: 'ok' })).status).toBe(200)
    expect(server.output()).toContain(`(data in ${dataDir})`)
  })
})

describe('DEBUG=true on Bun and Deno', () => {
  it('bun: serves a CPU profile to a loopback client, and says why it has no heap profile', async () => {
    const server = await start('bun', { DEBUG: 'true' })
    const cpu = await fetch(`${server.url}/debug/pprof/profile?seconds=1`)
    expect(cpu.status).toBe(200)
    expect(cpu.headers.get('Content-Disposition')).toBe('attachment; filename="cpu.pprof"')
    expect(new Uint8Array(await cpu.arrayBuffer()).subarray(0, 2)).toEqual(new Uint8Array([0x1f, 0x8b])) // gzipped pprof
    const heap = await fetch(`${server.url}/debug/pprof/heap`)
    expect(heap.status).toBe(501)
    expect(((await heap.json()) as any).error.message).toMatch(/HeapProfiler/)
  })

  it('deno: knows the client is local, and says the profile needs --allow-sys', async () => {
    const server = await start('deno', { DEBUG: 'true' })
    const cpu = await fetch(`${server.url}/debug/pprof/profile?seconds=1`)
    expect(cpu.status).toBe(501) // not 403: the client's address is known to be loopback
    expect(((await cpu.json()) as any).error.message).toMatch(/--allow-sys/)
  })
})

describe('request labels have a fixed set of values', () => {
  it('deno: invented HTTP methods all count as one, so /metrics cannot grow from requests', async () => {
    const server = await start('deno')
    expect((await client(server.url).get('/livez')).status).toBe(200)
    const invented = Array.from({ length: 200 }, (_, i) => `INVENTED${i}`)
    for (const method of invented) {
      await new Promise<void>((resolve) => {
        const request = http.request(`${server.url}/readyz`, { method, agent: false }, (res) => res.resume().on('end', resolve))
        request.on('error', () => resolve())
        request.end()
      })
    }
    const text = (await client(server.url).get('/metrics')).text
    expect(text).not.toMatch(/INVENTED/)
    const methods = new Set([...text.matchAll(/pulsegate_http_requests_total\{method="([^"]+)"/g)].map((m) => m[1]))
    expect([...methods].sort()).toEqual(['GET', 'other'])
  })
})
