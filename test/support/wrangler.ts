// Run the real `wrangler dev` (workerd) on 127.0.0.1 in its own process group,
// so that stopping it stops workerd too, not only the wrangler process.
import { type ChildProcess, spawn } from 'node:child_process'
import { createServer } from 'node:net'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import { ROOT, tempDir } from './server.ts'

export const WRANGLER = join(ROOT, 'node_modules/wrangler/bin/wrangler.js')
/** wrangler works offline when it neither reports usage nor asks Cloudflare for request metadata. */
export const OFFLINE_ENV = { WRANGLER_SEND_METRICS: 'false', CLOUDFLARE_CF_FETCH_ENABLED: 'false', CI: 'true' }

export function freePort(): Promise<number> {
  return new Promise((resolve, reject) => {
    const server = createServer()
    server.once('error', reject)
    server.listen(0, '127.0.0.1', () => {
      const { port } = server.address() as { port: number }
      server.close(() => resolve(port))
    })
  })
}

export interface RunningWrangler {
  url: string
  child: ChildProcess
  /** Milliseconds from spawn to the first answered request. */
  startupMs: number
  stop: () => Promise<void>
}

export interface WranglerOptions {
  /** How /livez answers once the Worker runs (wrangler's own error pages come first): ok by default. */
  ready?: (answer: Response) => boolean
}

export async function startWranglerDev(
  vars: Record<string, string> = {},
  { ready = (answer) => answer.ok }: WranglerOptions = {},
): Promise<RunningWrangler> {
  const port = await freePort()
  const args = [WRANGLER, 'dev', '--ip', '127.0.0.1', '--port', String(port), '--persist-to', tempDir('pulsegate-wrangler-')]
  for (const [name, value] of Object.entries(vars)) args.push('--var', `${name}:${value}`)
  const started = performance.now()
  const child = spawn(process.execPath, args, {
    cwd: ROOT,
    env: { ...process.env, ...OFFLINE_ENV },
    stdio: ['ignore', 'pipe', 'pipe'],
    detached: true, // its own process group: workerd is a child of wrangler
  })
  let output = ''
  child.stdout!.on('data', (d) => (output += d))
  child.stderr!.on('data', (d) => (output += d))
  const exited = new Promise<void>((resolve) => child.on('exit', () => resolve()))
  const stop = async () => {
    try {
      process.kill(-child.pid!, 'SIGTERM')
    } catch {
      return // already gone
    }
    const timer = setTimeout(() => process.kill(-child.pid!, 'SIGKILL'), 5000)
    await exited
    clearTimeout(timer)
  }

  const url = `http://127.0.0.1:${port}`
  const deadline = Date.now() + 60_000
  while (Date.now() < deadline) {
    if (child.exitCode !== null) throw new Error(`wrangler dev exited with ${child.exitCode}:\n${output}`)
    try {
      if (ready(await fetch(`${url}/livez`))) return { url, child, startupMs: performance.now() - started, stop }
    } catch {
      // not listening yet
    }
    await new Promise((resolve) => setTimeout(resolve, 100))
  }
  await stop()
  throw new Error(`wrangler dev did not answer within 60 s:\n${output}`)
}
