// pulsegate-agent, the Node sidecar (agent/ may use node: modules; see clock.ts).
// The command line: flags and env vars → a checked configuration, or a usage error.
import { parseArgs } from 'node:util'
import { checkHeartbeat } from '../lib/client.ts'
import { type Component, alwaysOk, execCheck, httpCheck } from './checks.ts'
import type { JobConfig } from './job.ts'
import type { SidecarConfig } from './sidecar.ts'

export const DEFAULT_URL = 'http://127.0.0.1:8787'

export const HELP = `pulsegate-agent: push heartbeats to pulsegate, the way Teleport's agents do.

Usage:
  pulsegate-agent --agent ID [--check URL | --exec COMMAND] [--component NAME[=CHECK]]… [options]
  pulsegate-agent run --agent ID [--component NAME] [options] -- COMMAND [ARGS…]

Sidecar (the first form) registers as "starting", then probes and reports every
--interval while healthy and every --fast-interval while pulsegate answers
degraded or recovering. All components go in one batch per round. On SIGTERM or
SIGINT it deregisters the agent (DELETE /v1/agents/ID) unless --keep, and exits 0.

  --check URL              probe an http(s) health endpoint: ok on HTTP 200–399
                           within --timeout (redirects are not followed), else
                           degraded with "HTTP 500", "timeout after 5s" or the
                           connection error as message
  --exec COMMAND           run COMMAND with /bin/sh -c: ok on exit 0, else
                           degraded; its last line of output is the message
  --component NAME=CHECK   a component with its own check (repeatable); CHECK is
                           an http(s) URL or exec:COMMAND
  --component NAME         names the --check/--exec component (default "main").
                           Without --check/--exec it is a heartbeat-only
                           component, always ok; with no check at all, "main" is
                           one: it says the host and the agent are alive.
  --fast-interval SECONDS  interval while degraded or recovering (default 5)
  --keep                   do not deregister on SIGTERM/SIGINT
  --once                   one round, then exit: 0 once pulsegate took it, 1 if it
                           could not be reached within min(--interval, 60 s);
                           no "starting" beat and no deregistering (for cron)

Cron wrapper (run): reports the run's start (no state change: a running job
does not turn the fleet red), runs COMMAND (no shell; output passes through),
then reports the run's finish with its exit code (0 ok, else degraded, with
"exit code N after 1.2s"), and exits with the job's own exit code (killed by
signal N: 128+N). SIGTERM, SIGINT and SIGHUP are passed on to the job. If
pulsegate is unreachable the job runs anyway; the final report is retried for
up to min(--interval, 60 s).
  --component NAME         the job's component (default "main")
  --interval SECONDS       how often the job runs, so a run that never comes
                           shows as "missed heartbeat"
  --schedule CRON          instead of --interval: the job's crontab schedule
                           ("0 3 * * *", 6 fields with seconds, or @daily)
  --tz ZONE                the schedule's IANA time zone (default UTC)
  --max-run SECONDS        a run still going after this is degraded, "ran too
                           long" (default: pulsegate's grace; at most 604800)

Both forms:
  --agent ID               agent id: 1–128 of A-Z a-z 0-9 . _ : - (required)
  --url URL                pulsegate's base URL (default $PULSEGATE_URL, else
                           ${DEFAULT_URL})
  --interval SECONDS       beat interval while healthy, sent as interval_seconds
                           (default 60; at most 86400)
  --timeout SECONDS        limit for each check and each request to pulsegate
                           (default 5)
  --version VERSION        the version to report (e.g. of the service checked)
  --label KEY=VALUE        a label to report (repeatable, at most 8)
  --verbose                log every beat, not only state changes
  -h, --help               this text

Environment:
  PULSEGATE_URL            pulsegate's base URL (default ${DEFAULT_URL})
  PULSEGATE_TOKEN          bearer token, when pulsegate has HEARTBEAT_TOKEN set
                           (an env var, never a flag, so it stays out of ps)

Logs go to stderr with a timestamp: one line per state change; run and --once
print only trouble (cron mails any output). --verbose logs every beat.
Network errors, HTTP 5xx and 429 are retried with exponential backoff and full
jitter (1 s doubling up to the interval; Retry-After respected); only the latest
state per component is kept meanwhile.

Exit codes: 0 stopped cleanly; 1 --once could not deliver; 2 usage error, or
pulsegate refused the token (401/403) or the heartbeat (400 and other 4xx);
run: the job's exit code.
`

export class UsageError extends Error {
  override name = 'UsageError'
}

export type Command =
  | { kind: 'help' }
  | { kind: 'sidecar'; url: string; token: string | undefined; timeoutMs: number; config: SidecarConfig }
  | { kind: 'run'; url: string; token: string | undefined; timeoutMs: number; config: JobConfig }

const options = {
  agent: { type: 'string' },
  url: { type: 'string' },
  check: { type: 'string' },
  exec: { type: 'string' },
  component: { type: 'string', multiple: true },
  interval: { type: 'string' },
  schedule: { type: 'string' },
  tz: { type: 'string' },
  'max-run': { type: 'string' },
  'fast-interval': { type: 'string' },
  timeout: { type: 'string' },
  version: { type: 'string' },
  label: { type: 'string', multiple: true },
  keep: { type: 'boolean' },
  once: { type: 'boolean' },
  verbose: { type: 'boolean' },
  help: { type: 'boolean', short: 'h' },
} as const

function seconds(flag: string, value: string | undefined, fallback: number, max = 86_400): number {
  if (value === undefined) return fallback
  const n = Number(value)
  if (value.trim() === '' || !Number.isFinite(n) || n <= 0 || n > max) {
    throw new UsageError(`--${flag} takes seconds, more than 0 and at most ${max} (got "${value}")`)
  }
  return n
}

/** "k=v" → [k, v], split at the first "=". */
function pair(flag: string, value: string): [string, string] {
  const at = value.indexOf('=')
  if (at <= 0) throw new UsageError(`--${flag} takes NAME=VALUE (got "${value}")`)
  return [value.slice(0, at), value.slice(at + 1)]
}

function checkOf(spec: string, timeoutMs: number): Pick<Component, 'check' | 'describe'> {
  if (spec.startsWith('exec:')) {
    const command = spec.slice('exec:'.length)
    if (!command.trim()) throw new UsageError('exec: needs a command')
    return { check: execCheck(command, timeoutMs), describe: `exec: ${command}` }
  }
  let url: URL
  try {
    url = new URL(spec)
  } catch {
    throw new UsageError(`a check is an http(s) URL or exec:COMMAND (got "${spec}")`)
  }
  if (url.protocol !== 'http:' && url.protocol !== 'https:') {
    throw new UsageError(`a check URL must be http or https (got "${spec}")`)
  }
  return { check: httpCheck(spec, timeoutMs), describe: `GET ${spec}` }
}

function baseUrl(flag: string | undefined, env: Record<string, string | undefined>): string {
  const url = flag ?? (env.PULSEGATE_URL || DEFAULT_URL)
  try {
    const parsed = new URL(url)
    if (parsed.protocol === 'http:' || parsed.protocol === 'https:') return url
  } catch {
    // fall through
  }
  throw new UsageError(`pulsegate's URL must be an http(s) URL (got "${url}")`)
}

export function parseCommandLine(argv: string[], env: Record<string, string | undefined>): Command {
  const dashes = argv.indexOf('--')
  const own = dashes === -1 ? argv : argv.slice(0, dashes)
  const command = dashes === -1 ? [] : argv.slice(dashes + 1)
  let parsed
  try {
    parsed = parseArgs({ args: own, options, allowPositionals: true, strict: true })
  } catch (error) {
    throw new UsageError((error as Error).message)
  }
  const { values: v, positionals } = parsed
  if (v.help) return { kind: 'help' }
  const run = positionals[0] === 'run'
  if (positionals.length > (run ? 1 : 0)) throw new UsageError(`unexpected argument "${positionals.at(-1)}"`)
  if (!v.agent) throw new UsageError('--agent ID is required')

  const timeoutMs = seconds('timeout', v.timeout, 5) * 1000
  const intervalMs = seconds('interval', v.interval, 60) * 1000
  const labels = Object.fromEntries((v.label ?? []).map((l) => pair('label', l)))
  const token = env.PULSEGATE_TOKEN || undefined
  // RFC 6750's token68: pulsegate answers any other "Bearer …" with 400, even the right token.
  if (token !== undefined && !/^[A-Za-z0-9._~+/-]+=*$/.test(token)) {
    throw new UsageError('PULSEGATE_TOKEN holds characters a bearer token cannot have (allowed: A-Z a-z 0-9 - . _ ~ + / and trailing =)')
  }
  const common = {
    agent: v.agent,
    version: v.version,
    labels,
    verbose: v.verbose ?? false,
    tokenSet: token !== undefined,
    intervalMs,
  }
  const url = baseUrl(v.url, env)
  const named = (v.component ?? []).filter((c) => c.includes('='))
  const bare = (v.component ?? []).filter((c) => !c.includes('='))
  if (bare.length > 1) throw new UsageError(`--component NAME (without =CHECK) may be given once (got ${bare.join(', ')})`)

  let result: Command
  if (run) {
    for (const flag of ['check', 'exec', 'keep', 'once', 'fast-interval'] as const) {
      if (v[flag] !== undefined) throw new UsageError(`--${flag} does not go with run`)
    }
    if (named.length) throw new UsageError('run takes --component NAME, without =CHECK')
    if (command.length === 0) throw new UsageError('run needs a command after --, e.g. run --agent ID -- backup.sh')
    if (v.schedule !== undefined && v.interval !== undefined) throw new UsageError('give --interval or --schedule, not both')
    if (v.tz !== undefined && v.schedule === undefined) throw new UsageError('--tz is the time zone of --schedule: give both')
    const config: JobConfig = {
      ...common, quiet: true, component: bare[0] ?? 'main', command,
      schedule: v.schedule, tz: v.tz, maxRunSeconds: v['max-run'] === undefined ? undefined : seconds('max-run', v['max-run'], 0, 7 * 86_400),
    }
    result = { kind: 'run', url, token, timeoutMs, config }
  } else {
    if (command.length) throw new UsageError('a command after -- goes with run')
    for (const flag of ['schedule', 'tz', 'max-run'] as const) {
      if (v[flag] !== undefined) throw new UsageError(`--${flag} goes with run`)
    }
    if (v.check !== undefined && v.exec !== undefined) {
      throw new UsageError('give --check or --exec, not both (use --component NAME=CHECK for more)')
    }
    const components: Component[] = named.map((spec) => {
      const [name, check] = pair('component', spec)
      return { name, ...checkOf(check, timeoutMs) }
    })
    const single = v.check ?? (v.exec === undefined ? undefined : `exec:${v.exec}`)
    if (single !== undefined || bare.length || components.length === 0) {
      const own = single === undefined ? { check: alwaysOk, describe: 'heartbeat only' } : checkOf(single, timeoutMs)
      components.unshift({ name: bare[0] ?? 'main', ...own })
    }
    const names = components.map((c) => c.name)
    const twice = names.find((n, i) => names.indexOf(n) !== i)
    if (twice !== undefined) throw new UsageError(`component "${twice}" is given twice`)
    const config: SidecarConfig = {
      ...common,
      components,
      fastIntervalMs: seconds('fast-interval', v['fast-interval'], 5) * 1000,
      keep: v.keep ?? false,
      once: v.once ?? false,
      quiet: v.once ?? false,
    }
    result = { kind: 'sidecar', url, token, timeoutMs, config }
  }

  // Every id and label as the server will check them, before anything is sent.
  const names = result.kind === 'run' ? [result.config.component] : result.config.components.map((c) => c.name)
  const schedule = v.schedule === undefined ? {} : { schedule: v.schedule, ...(v.tz === undefined ? {} : { tz: v.tz }) }
  for (const component of names) {
    const problem = checkHeartbeat({ agent: v.agent, component, status: 'ok', version: v.version, labels, ...schedule })
    if (problem) throw new UsageError(problem.message)
  }
  return result
}
