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
