// Start a real server (functions/node.ts by default; Bun's and Deno's with `command`)
// as its own process, on a port the OS picks, on 127.0.0.1 only; stop it by its own process id.
import { type ChildProcess, spawn } from 'node:child_process'
import { mkdtempSync, rmSync } from 'node:fs'
import { tmpdir } from 'node:os'
import { join } from 'node:path'

export const ROOT = new URL('../..', import.meta.url).pathname

export interface RunningServer {
  url: string
  dataDir: string
  child: ChildProcess
  output: () => string
  /** SIGTERM and wait for the exit; resolves with the exit code. */
  stop: () => Promise<number | null>
  /** SIGKILL: no chance to flush or close anything. */
  kill: () => Promise<void>
}

export interface ServerOptions {
  /** The program and its arguments, run in the repository root; default: this Node on functions/node.ts. */
  command?: readonly string[]
}

const NODE_COMMAND = [process.execPath, 'functions/node.ts']

function spawnServer(env: Record<string, string>, { command = NODE_COMMAND }: ServerOptions) {
  const [program, ...args] = command
  return spawn(program!, args, {
    cwd: ROOT,
    env: { ...process.env, HOST: '127.0.0.1', PORT: '0', ...env },
    stdio: ['ignore', 'pipe', 'pipe'],
    // Its own process group: `deno task start` runs the server as a grandchild, which a
    // signal to the task alone would leave running after the test.
    detached: true,
  })
}

/** Signal the server's whole process group (the server, and any launcher between). */
function signal(child: ChildProcess, name: NodeJS.Signals): void {
  try {
    process.kill(-child.pid!, name)
  } catch {
    // already gone
  }
}

const tempDirs: string[] = []
// Temp dirs outlive the servers that used them (tests restart on the same dir),
// so they go when the test process does.
process.on('exit', () => {
  for (const dir of tempDirs) rmSync(dir, { recursive: true, force: true })
})

/** A fresh temp dir, removed when the test process exits. */
export function tempDir(prefix: string): string {
  const dir = mkdtempSync(join(tmpdir(), prefix))
  tempDirs.push(dir)
  return dir
}

export function tempDataDir(): string {
  return tempDir('pulsegate-e2e-')
}

/** Run the server to its exit (for starts that must fail); resolves with code and output. */
export function runToExit(env: Record<string, string>, options: ServerOptions = {}): Promise<{ code: number | null; output: string }> {
  return new Promise((resolve) => {
    const child = spawnServer(env, options)
    let output = ''
    child.stdout.on('data', (d) => (output += d))
    child.stderr.on('data', (d) => (output += d))
    const timer = setTimeout(() => signal(child, 'SIGKILL'), 10_000)
    child.on('exit', (code) => {
      clearTimeout(timer)
      resolve({ code, output })
    })
  })
}

export function startServer(
  env: Record<string, string> = {},
  dataDir = tempDataDir(),
  options: ServerOptions = {},
): Promise<RunningServer> {
  const child = spawnServer({ DATA_DIR: dataDir, ...env }, options)
  let output = ''
  child.stdout!.on('data', (d) => (output += d))
  child.stderr!.on('data', (d) => (output += d))
  const exited = new Promise<number | null>((resolve) => child.on('exit', (code) => resolve(code)))

  return new Promise((resolve, reject) => {
    const timer = setTimeout(() => {
      signal(child, 'SIGKILL')
      reject(new Error(`server did not start in time:\n${output}`))
    }, 15_000)
    const early = (code: number | null) => {
      clearTimeout(timer)
      reject(new Error(`server exited with ${code} before listening:\n${output}`))
    }
    child.on('exit', early)
    child.stdout!.on('data', () => {
      const match = /listening on (http:\/\/127\.0\.0\.1:\d+)/.exec(output)
      if (!match) return
      clearTimeout(timer)
      child.off('exit', early)
      resolve({
        url: match[1]!,
        dataDir,
        child,
        output: () => output,
        stop: async () => {
          signal(child, 'SIGTERM')
          return exited
        },
        kill: async () => {
          signal(child, 'SIGKILL')
          await exited
        },
      })
    })
  })
}
