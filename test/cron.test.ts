// pulsegate-agent from cron, as cron runs it: the crontab lines are read from README.md
// (so the docs cannot drift from what works), and each job line runs with /bin/sh -c
// under cron's environment (env -i PATH=/usr/bin:/bin HOME=… plus the crontab's own
// variables), where `node` is whatever the system has — v20 on this machine.
import { type ChildProcess, spawn, spawnSync } from 'node:child_process'
import { chmodSync, existsSync, mkdirSync, readFileSync, symlinkSync, writeFileSync, copyFileSync } from 'node:fs'
import { createServer } from 'node:net'
import { join } from 'node:path'
import { afterEach, describe, expect, it } from 'vitest'
import { ROOT, type RunningServer, startServer, tempDir } from './support/server.ts'

interface CrontabLine {
  /** The NAME=value lines above the job. */
  env: Record<string, string>
  /** The job line without its five schedule fields, as cron hands it to /bin/sh -c. */
  command: string
}

/** The first crontab block of README.md that holds `needle`. */
function readmeCrontab(needle: string): CrontabLine {
  const readme = readFileSync(join(ROOT, 'README.md'), 'utf8')
  const block = [...readme.matchAll(/```crontab\n([\s\S]*?)```/g)].map((m) => m[1]!).find((b) => b.includes(needle))
  if (!block) throw new Error(`README.md has no crontab block with ${needle}`)
  const env: Record<string, string> = {}
  let command: string | undefined
  for (const line of block.split('\n').filter((l) => l.trim())) {
    const variable = /^([A-Za-z_][A-Za-z0-9_]*)=(.*)$/.exec(line)
    if (variable) env[variable[1]!] = variable[2]!
    else command = /^(?:\S+\s+){5}(.+)$/.exec(line)![1]!
  }
  return { env, command: command! }
}

/** `text` with `from` replaced, failing if it is not there (so a README change cannot make the test vacuous). */
function replaced(text: string, from: string, to: string): string {
  expect(text).toContain(from)
  return text.replaceAll(from, to)
}

interface CronRun {
  code: number | null
  stdout: string
  stderr: string
}

const running: ChildProcess[] = []
const servers: RunningServer[] = []
afterEach(async () => {
  for (const child of running.splice(0)) if (child.exitCode === null && child.signalCode === null) child.kill('SIGKILL')
  for (const server of servers.splice(0)) if (server.child.exitCode === null) await server.kill()
})

/** Run `command` as cron does: /bin/sh -c under a cleared environment. */
function asCron(command: string, env: Record<string, string>, path = '/usr/bin:/bin'): Promise<CronRun> {
  const home = tempDir('pulsegate-cron-home-')
  const vars = Object.entries({ PATH: path, HOME: home, SHELL: '/bin/sh', LOGNAME: 'root', ...env }).map(([k, v]) => `${k}=${v}`)
  const child = spawn('/usr/bin/env', ['-i', ...vars, '/bin/sh', '-c', command], { cwd: home, stdio: ['ignore', 'pipe', 'pipe'] })
  running.push(child)
  let stdout = ''
  let stderr = ''
  child.stdout!.on('data', (d) => (stdout += d))
  child.stderr!.on('data', (d) => (stderr += d))
  return new Promise((resolve) => child.on('exit', (code) => resolve({ code, stdout, stderr })))
}

/** A job that records cron's PATH in a file, says something, and exits with `exitCode`. */
function job(exitCode: number) {
  const dir = tempDir('pulsegate-cron-job-')
  const mark = join(dir, 'ran')
  const script = join(dir, 'backup.sh')
  writeFileSync(script, `#!/bin/sh\necho "copying…"\necho "$PATH" > '${mark}'\nexit ${exitCode}\n`)
  chmodSync(script, 0o755)
  return { script, mark }
}

async function closedPort(): Promise<number> {
  const server = createServer()
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve))
  const { port } = server.address() as { port: number }
  await new Promise((resolve) => server.close(resolve))
  return port
}

const hostname = spawnSync('hostname', { encoding: 'utf8' }).stdout.trim()
const backupLine = () => readmeCrontab('pulsegate-agent run')

/** The README's run line, for the project at `root` and with `script` as the job. */
function backupCommand(root: string, script: string): CrontabLine {
  const { env, command } = backupLine()
  return { env, command: replaced(replaced(command, '/opt/pulsegate', root), '/usr/local/bin/backup.sh', script) }
}

describe("the README's crontab line for run, under cron's environment", () => {
  it('calls the command npm install linked, not plain node', () => {
    expect(backupLine().command).toMatch(/^\/opt\/pulsegate\/node_modules\/\.bin\/pulsegate-agent run /)
    expect(existsSync(join(ROOT, 'node_modules/.bin/pulsegate-agent'))).toBe(true)
    // The Node cron finds here could not run the agent itself: the command must not depend on it.
    const system = spawnSync('/usr/bin/env', ['-i', 'PATH=/usr/bin:/bin', 'sh', '-c', 'node --version'], { encoding: 'utf8' })
    console.log(`node on cron's PATH: ${system.stdout.trim() || 'none'}`)
  })

  it('with pulsegate up: runs the job, reports it, and exits with its exit code', async () => {
    const server = await startServer()
    servers.push(server)
    const { script, mark } = job(3)
    const { env, command } = backupCommand(ROOT, script)
    const run = await asCron(command, { ...env, PULSEGATE_URL: replaced(env.PULSEGATE_URL!, 'http://127.0.0.1:8787', server.url) })

    expect(run.code).toBe(3)
    expect(readFileSync(mark, 'utf8')).toBe('/usr/bin:/bin\n')
    expect(run.stdout).toBe('copying…\n')
    expect(run.stderr).toBe('') // only the job's output, so cron mails nothing else
    const agent = (await (await fetch(`${server.url}/v1/agents/${hostname}`)).json()) as { components: unknown[] }
    expect(agent.components).toEqual([
      expect.objectContaining({ component: 'nightly-backup', state: 'degraded', interval_seconds: 86_400, message: expect.stringMatching(/^exit code 3 after /) }),
    ])
  })

  it('with pulsegate down: runs the job, retries the report for 60 s, and exits with its exit code', async () => {
    const { script, mark } = job(4)
    const { env, command } = backupCommand(ROOT, script)
    const url = replaced(env.PULSEGATE_URL!, 'http://127.0.0.1:8787', `http://127.0.0.1:${await closedPort()}`)
    const run = await asCron(command, { ...env, PULSEGATE_URL: url })

    expect(run.code).toBe(4)
    expect(readFileSync(mark, 'utf8')).toBe('/usr/bin:/bin\n')
    expect(run.stdout).toBe('copying…\n')
    const lines = run.stderr.trim().split('\n').map((l) => /^(\S+) pulsegate-agent: (.*)$/.exec(l)!)
    expect(lines.map((l) => l[2]!.replace(/ \(.*$/, '').replace(/: connect.*$/, ''))).toEqual(['pulsegate unreachable', 'gave up: pulsegate did not take the heartbeat'])
    // min(--interval 86400, 60 s): it kept trying for the whole minute.
    expect(Date.parse(lines[1]![1]!) - Date.parse(lines[0]![1]!)).toBeGreaterThanOrEqual(59_000)
  }, 120_000)
})

describe("the README's crontab line for ping URLs, under cron's environment", () => {
  const pingLine = () => readmeCrontab('/ping/')
  const pingCommand = (script: string, url: string) => {
    const { env, command } = pingLine()
    return { env: { ...env, PING: replaced(env.PING!, 'http://127.0.0.1:8787', url) }, command: replaced(command, '/usr/local/bin/backup.sh', script) }
  }
  const key = () => pingLine().env.PING!.split('/').at(-1)!

  it('with pulsegate up: runs the job, and pulsegate has its run, its exit code and its duration', async () => {
    const server = await startServer({ PING_KEY: key() })
    servers.push(server)
    const dir = tempDir('pulsegate-cron-job-')
    const mark = join(dir, 'ran')
    const script = join(dir, 'backup.sh')
    writeFileSync(script, `#!/bin/sh\nsleep 1\ntouch '${mark}'\nexit 3\n`)
    chmodSync(script, 0o755)
    const { env, command } = pingCommand(script, server.url)
    const run = await asCron(command, env)
    expect(run).toMatchObject({ code: 0, stdout: '', stderr: '' }) // curl -fsS: silent when all went well
    expect(existsSync(mark)).toBe(true)
    const agent = (await (await fetch(`${server.url}/v1/agents/db-backup`)).json()) as { components: Record<string, unknown>[] }
    expect(agent.components).toEqual([expect.objectContaining({ component: 'main', state: 'degraded', reason: 'exit code 3', last_exit_code: 3, runs_open: 0 })])
    expect(agent.components[0]!.last_duration_seconds).toBeGreaterThanOrEqual(1)
  })

  it('with pulsegate down: the job runs anyway, and curl says why on stderr for cron to mail', async () => {
    const { script, mark } = job(0)
    const { env, command } = pingCommand(script, `http://127.0.0.1:${await closedPort()}`)
    const run = await asCron(command, env)
    expect(readFileSync(mark, 'utf8')).toBe('/usr/bin:/bin\n')
    expect(run.stdout).toBe('copying…\n')
    expect(run.stderr).toMatch(/curl: \(7\) Failed to connect/)
  })
})

describe("a job's story against the real server", () => {
  it('start → the fleet stays 200 while it runs → success after a second, with its duration in /metrics', async () => {
    const server = await startServer()
    servers.push(server)
    const agent = spawn(join(ROOT, 'node_modules/.bin/pulsegate-agent'), ['run', '--agent', 'story-job', '--interval', '3600', '--', 'sh', '-c', 'sleep 1'], {
      env: { ...process.env, PULSEGATE_URL: server.url },
      stdio: 'ignore',
    })
    running.push(agent)
    const exited = new Promise<number | null>((resolve) => agent.on('exit', resolve))
    let done = false
    void exited.then(() => (done = true))
    const probes: number[] = []
    const runs: unknown[] = []
    while (!done) {
      probes.push((await fetch(`${server.url}/readyz`)).status)
      const listed = await fetch(`${server.url}/v1/agents/story-job`)
      if (listed.status === 200) runs.push(((await listed.json()) as any).components[0].runs_open)
      await new Promise((resolve) => setTimeout(resolve, 100))
    }
    expect(await exited).toBe(0)
    expect(runs).toContain(1) // it was seen running
    // Before the start arrived the fleet was empty (400); from the start on, 200 throughout.
    expect(probes.slice(probes.indexOf(200))).toEqual(probes.slice(probes.indexOf(200)).map(() => 200))
    expect(probes.filter((code) => code === 200).length).toBeGreaterThan(5)
    const metrics = await (await fetch(`${server.url}/metrics`)).text()
    const duration = Number(/^pulsegate_job_last_duration_seconds\{agent="story-job",component="main"\} (\S+)$/m.exec(metrics)?.[1])
    expect(duration).toBeGreaterThanOrEqual(1)
    expect(metrics).toMatch(/^pulsegate_job_running\{agent="story-job",component="main"\} 0$/m)
  })

  it('a start with no finish is "ran too long" after its max run time; overlapping runs pair by run id', async () => {
    const server = await startServer()
    servers.push(server)
    const post = async (body: unknown) =>
      expect((await fetch(`${server.url}/v1/heartbeat`, { method: 'POST', headers: { 'Content-Type': 'application/json' }, body: JSON.stringify(body) })).status).toBe(200)
    const component = async (id: string) => ((await (await fetch(`${server.url}/v1/agents/${id}`)).json()) as any).components[0]

    await post({ agent: 'stuck', run: 'start', interval_seconds: 3600, max_run_seconds: 1 })
    expect((await fetch(`${server.url}/readyz/stuck`)).status).toBe(200)
    await new Promise((resolve) => setTimeout(resolve, 1200))
    expect((await fetch(`${server.url}/readyz/stuck`)).status).toBe(503)
    expect(await (await fetch(`${server.url}/readyz/stuck?verbose`)).text()).toBe('[-]main degraded: ran too long\nreadyz check failed\n')

    await post({ agent: 'overlap', run: 'start', run_id: 'a', interval_seconds: 3600 })
    await new Promise((resolve) => setTimeout(resolve, 300))
    await post({ agent: 'overlap', run: 'start', run_id: 'b' })
    await post({ agent: 'overlap', run: 'finish', run_id: 'a', exit_code: 0 })
    const afterA = await component('overlap')
    expect(afterA).toMatchObject({ runs_open: 1, last_exit_code: 0 })
    expect(afterA.last_duration_seconds).toBeGreaterThanOrEqual(0.3) // a's own start, not b's
    await post({ agent: 'overlap', run: 'finish', run_id: 'b', exit_code: 1 })
    const afterB = await component('overlap')
    expect(afterB).toMatchObject({ runs_open: 0, last_exit_code: 1, state: 'degraded' })
    expect(afterB.last_duration_seconds).toBeLessThan(afterA.last_duration_seconds)
  })
})

describe('the launcher when no Node in reach can run the agent', () => {
  /**
   * An install as npm lays it out (node_modules/.bin → the workspace link → bin/), with
   * bin/ copied and no node_modules Node; and a `node` on PATH that says `version`.
   */
  function install(version: string) {
    const root = tempDir('pulsegate-install-')
    mkdirSync(join(root, 'bin'))
    for (const f of ['pulsegate-agent', 'pulsegate-agent.ts']) copyFileSync(join(ROOT, 'bin', f), join(root, 'bin', f))
    chmodSync(join(root, 'bin/pulsegate-agent'), 0o755)
    mkdirSync(join(root, 'node_modules/.bin'), { recursive: true })
    symlinkSync('../bin', join(root, 'node_modules/pulsegate-commands'))
    symlinkSync('../pulsegate-commands/pulsegate-agent', join(root, 'node_modules/.bin/pulsegate-agent'))
    const fakeBin = join(root, 'fake-bin')
    const record = join(root, 'node-ran-with')
    mkdirSync(fakeBin)
    // Answers --version; anything else it records, so a test sees whether it was chosen.
    writeFileSync(join(fakeBin, 'node'), `#!/bin/sh\n[ "$1" = --version ] && { echo 'v${version}'; exit 0; }\nprintf '%s\\n' "$@" > '${record}'\nexit 0\n`)
    chmodSync(join(fakeBin, 'node'), 0o755)
    return { root, path: `${fakeBin}:/usr/bin:/bin`, record, command: join(root, 'node_modules/.bin/pulsegate-agent') }
  }

  it("the README's line still runs the job and passes its exit code through, warning once", async () => {
    const inst = install('20.11.1')
    const { script, mark } = job(3)
    const { env, command } = backupCommand(inst.root, script)
    const run = await asCron(command, env, inst.path)

    expect(run.code).toBe(3)
    expect(readFileSync(mark, 'utf8')).toBe(`${inst.path}\n`)
    expect(run.stdout).toBe('copying…\n')
    expect(run.stderr).toBe(
      `pulsegate-agent: no Node that runs pulsegate-agent (it needs >= 22.18; ${inst.path.split(':')[0]}/node is v20.11.1, ` +
        `and ${inst.root}/node_modules has none: run npm install there); running the job unreported\n`,
    )
    expect(existsSync(inst.record)).toBe(false)
  })

  it('finds the job after --, whatever the options, and passes a signal death on as 128 + N', async () => {
    const { command, path } = install('20.11.1')
    const sh = async (args: string) => (await asCron(`${command} ${args}`, {}, path)).code
    expect(await sh(`--agent h --interval 60 run --component x -- sh -c 'exit 6'`)).toBe(6)
    expect(await sh(`run --agent h -- sh -c 'kill -TERM $$'`)).toBe(143)
    expect(await sh(`run --agent h -- /no/such/job`)).toBe(127)
    // "run" as the value of an option is not the run command: nothing is started.
    expect(await sh(`--agent run --component x -- sh -c 'exit 6'`)).toBe(127)
    expect(await sh(`--once --agent h`)).toBe(127)
  })

  it.each([
    ['20.20.2', false],
    ['22.17.1', false],
    ['22.18.0', true],
    ['23.5.0', false],
    ['23.6.0', true],
    ['24.11.0', true],
    ['not-a-version', false],
  ])('a node on PATH that says v%s runs the agent: %s', async (version, used) => {
    const inst = install(version)
    const run = await asCron(`${inst.command} run --agent h -- sh -c 'exit 5'`, {}, inst.path)
    if (used) {
      expect(run.code).toBe(0) // the fake node's own exit: it was handed the agent
      expect(readFileSync(inst.record, 'utf8')).toBe(`${inst.root}/bin/pulsegate-agent.ts\nrun\n--agent\nh\n--\nsh\n-c\nexit 5\n`)
    } else {
      expect(run.code).toBe(5)
      expect(existsSync(inst.record)).toBe(false)
    }
  })
})

describe("the README's --once line's promise, in a real short run", () => {
  it('--once --interval 3 keeps trying until 3 s have passed, then exits 1', async () => {
    const url = `http://127.0.0.1:${await closedPort()}`
    const run = await asCron(`${ROOT}/node_modules/.bin/pulsegate-agent --once --verbose --agent once-1 --interval 3`, { PULSEGATE_URL: url })
    expect(run.code).toBe(1)
    const at = (what: RegExp) => Date.parse(run.stderr.split('\n').find((l) => what.test(l))!.split(' ')[0]!)
    // The start line is written just before the budget starts; it used to give up after about 1.6 s.
    expect(at(/gave up/) - at(/agent once-1 →/)).toBeGreaterThanOrEqual(3000)
    expect(readmeCrontab('--once').command).toMatch(/^\/opt\/pulsegate\/node_modules\/\.bin\/pulsegate-agent --once /)
  })
})
