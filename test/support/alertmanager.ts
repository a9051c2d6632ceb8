// Real Alertmanager processes for tests: each on 127.0.0.1 and a free port, with
// its own storage dir and a generated config whose route sends every alert to a
// webhook receiver this test process runs, so a test sees what Alertmanager's
// routing would tell a human. Clustering is off: an HA pair, as a sender sees it,
// is two instances that are each sent every alert. Each is stopped by its own pid.
import { type ChildProcess, spawn, spawnSync } from 'node:child_process'
import { rmSync, writeFileSync } from 'node:fs'
import { join } from 'node:path'
import { tempDir } from './server.ts'
import { startWebhookReceiver } from './webhook-receiver.ts'
import { freePort } from './wrangler.ts'

export const ALERTMANAGER = process.env.ALERTMANAGER_BINARY ?? 'prometheus-alertmanager'

/** Whether the binary runs here (tests against it skip outside CI when it does not). */
export function alertmanagerVersion(): string | null {
  const run = spawnSync(ALERTMANAGER, ['--version'], { encoding: 'utf8' })
  return run.status === 0 ? (/version (\S+)/.exec(run.stdout + run.stderr)?.[1] ?? 'unknown') : null
}

/** One alert of a webhook body (notify/webhook in Alertmanager: template.Alert). */
export interface WebhookAlert {
  status: 'firing' | 'resolved'
  labels: Record<string, string>
  annotations: Record<string, string>
  startsAt: string
  endsAt: string
  generatorURL: string
  fingerprint: string
}

/** What Alertmanager posts to a webhook receiver (version 4 of its message). */
export interface WebhookBody {
  version: string
  groupKey: string
  truncatedAlerts: number
  status: 'firing' | 'resolved'
  receiver: string
  groupLabels: Record<string, string>
  commonLabels: Record<string, string>
  commonAnnotations: Record<string, string>
  externalURL: string
  alerts: WebhookAlert[]
}

export interface RunningAlertmanager {
  /** Its base URL, with the route prefix if one was asked for. */
  url: string
  /** Every body its webhook receiver got, in order. */
  received: WebhookBody[]
  output: () => string
  stop: () => Promise<void>
}

export const RECEIVER = 'pulsegate-test'

/** Poll `check` until it returns something other than undefined/false; throw after the deadline. */
export async function waitFor<T>(
  what: string,
  check: () => T | undefined | false | Promise<T | undefined | false>,
  { timeoutMs = 20_000, intervalMs = 100 } = {},
): Promise<T> {
  const deadline = Date.now() + timeoutMs
  for (;;) {
    const value = await check()
    if (value !== undefined && value !== false) return value
    if (Date.now() > deadline) throw new Error(`timed out after ${timeoutMs} ms waiting for ${what}`)
    await new Promise((resolve) => setTimeout(resolve, intervalMs))
  }
}

// Short group timings so a test sees a notification within seconds. group_wait comes
// before a group's first, but is skipped for an alert that started longer ago than
// that (as a down's since always did): an alert that starts now is a clock of three
// group_intervals, for a test that something was not sent. group_interval comes before
// news of a change (a resolve). repeat_interval is long, so a body after the first
// is news, never a repeat. JSON is YAML, so no YAML writer is needed.
function config(webhookUrl: string): string {
  return JSON.stringify({
    route: {
      receiver: RECEIVER,
      group_by: ['alertname', 'agent', 'component'],
      group_wait: '3s',
      group_interval: '1s',
      repeat_interval: '1h',
    },
    receivers: [{ name: RECEIVER, webhook_configs: [{ url: webhookUrl, send_resolved: true }] }],
  })
}

const running = new Set<ChildProcess>()
// A test process that dies mid-test must not leave its Alertmanagers behind.
process.on('exit', () => {
  for (const child of running) child.kill('SIGKILL')
})

function exitOf(child: ChildProcess): Promise<void> {
  return new Promise((resolve) => (child.exitCode !== null || child.signalCode !== null ? resolve() : child.once('exit', () => resolve())))
}

async function stopChild(child: ChildProcess): Promise<void> {
  const exited = exitOf(child)
  child.kill('SIGTERM')
  const timer = setTimeout(() => child.kill('SIGKILL'), 5_000)
  await exited
  clearTimeout(timer)
  running.delete(child)
}

async function launch(dir: string, routePrefix: string) {
  // Alertmanager logs the address it was given, not the one bound, so :0 will not do: a port free a moment ago.
  const port = await freePort()
  const base = `http://127.0.0.1:${port}${routePrefix}`
  const child = spawn(
    ALERTMANAGER,
    [
      `--config.file=${join(dir, 'alertmanager.yml')}`,
      `--storage.path=${join(dir, 'data')}`,
      `--web.listen-address=127.0.0.1:${port}`,
      `--web.external-url=${base}`,
      '--cluster.listen-address=',
    ],
    { stdio: ['ignore', 'pipe', 'pipe'] },
  )
  running.add(child)
  let output = ''
  child.stdout!.on('data', (d) => (output += d))
  child.stderr!.on('data', (d) => (output += d))
  let exited = false
  child.once('exit', () => (exited = true))
  const ready = await waitFor(`Alertmanager on port ${port} to be ready`, async () => {
    if (exited) return 'exited'
    const res = await fetch(`${base}/-/ready`).catch(() => null)
    return res?.ok ? 'ready' : undefined
  })
  return { ready: ready === 'ready', child, base, output: () => output }
}

/** Start one Alertmanager; `routePrefix` (e.g. '/am') serves it under a path, as behind a proxy. */
export async function startAlertmanager({ routePrefix = '' } = {}): Promise<RunningAlertmanager> {
  const receiver = await startWebhookReceiver('/')
  const dir = tempDir('pulsegate-alertmanager-')
  writeFileSync(join(dir, 'alertmanager.yml'), config(receiver.url))
  // The port was free when picked; another process may take it first, then Alertmanager exits: pick again.
  for (let attempt = 1; ; attempt++) {
    const started = await launch(dir, routePrefix)
    if (started.ready) {
      const stop = async () => {
        await stopChild(started.child)
        await receiver.close()
        rmSync(dir, { recursive: true, force: true })
      }
      return {
        url: started.base,
        // What Alertmanager's routing told the receiver, as it arrives.
        get received() {
          return receiver.received.map((r) => r.json as WebhookBody)
        },
        output: started.output,
        stop,
      }
    }
    running.delete(started.child)
    if (attempt === 3) {
      await receiver.close()
      throw new Error(`Alertmanager did not start:\n${started.output()}`)
    }
  }
}
