// pulsegate-agent, the Node sidecar (agent/ may use node: modules; see clock.ts).
// `pulsegate-agent run -- command args…`: a cron job wrapped like healthchecks.io's
// start/success/fail pings. It reports the run's start (which changes no state, so
// a running job never turns the fleet red), runs the job (its output passes
// straight through), reports the run's finish with the exit code, and exits with
// the job's own code (a signal n gives 128+n, as shells do).
import { spawn } from 'node:child_process'
import { constants } from 'node:os'
import { ONE_SHOT_BUDGET_MS, oneShotWait, retryDelay } from './backoff.ts'
import { formatDuration } from './checks.ts'
import { type AgentDeps, type Outcome, Reporter, type ReporterConfig } from './reporter.ts'

export interface JobConfig extends ReporterConfig {
  component: string
  /** interval_seconds of each beat, so a run that never comes shows as missed (unless `schedule` is given). */
  intervalMs: number
  /** The job's cron schedule instead of an interval, and its time zone. */
  schedule?: string | undefined
  tz?: string | undefined
  /** How long a run may take before it is `ran too long`; pulsegate's default is the grace. */
  maxRunSeconds?: number | undefined
  command: string[]
}

/** When the job is due: its schedule, else its interval; and how long it may run. */
function expectation(config: JobConfig) {
  const due = config.schedule === undefined
    ? { interval_seconds: config.intervalMs / 1000 }
    : { schedule: config.schedule, ...(config.tz === undefined ? {} : { tz: config.tz }) }
  return config.maxRunSeconds === undefined ? due : { ...due, max_run_seconds: config.maxRunSeconds }
}

interface JobEnd {
  exitCode: number
  message: string
}

const FORWARDED = ['SIGTERM', 'SIGINT', 'SIGHUP'] as const

function runCommand(command: string[], now: () => number): Promise<JobEnd> {
  const started = now()
  return new Promise((resolve) => {
    const child = spawn(command[0]!, command.slice(1), { stdio: 'inherit' })
    // While the job runs, a signal to the agent is the job's to handle.
    const forward = (signal: NodeJS.Signals) => child.kill(signal)
    for (const s of FORWARDED) process.on(s, forward)
    let done = false
    const finish = (end: JobEnd) => {
      if (done) return
      done = true
      for (const s of FORWARDED) process.off(s, forward)
      resolve(end)
    }
    const after = () => formatDuration(now() - started)
    child.on('error', (error) => finish({ exitCode: 127, message: `could not start: ${error.message}` }))
    child.on('exit', (code, signal) => {
      if (code !== null) return finish({ exitCode: code, message: `exit code ${code} after ${after()}` })
      const exitCode = 128 + (constants.signals[signal!] ?? 0)
      finish({ exitCode, message: `killed by ${signal} (exit code ${exitCode}) after ${after()}` })
    })
  })
}

/** Send what is queued, backing off on retryable failures, for at most `budgetMs`. */
async function deliver(reporter: Reporter, capMs: number, budgetMs: number): Promise<Outcome> {
  const { clock, random, log } = reporter.deps
  const giveUpAt = clock.now() + budgetMs
  for (let attempt = 0; ; attempt++) {
    const outcome = await reporter.flush()
    if (outcome.kind !== 'retry') return outcome
    const wait = oneShotWait(retryDelay(attempt, capMs, random, outcome.error.retryAfter), clock.now(), giveUpAt, outcome.error.retryAfter)
    if (wait === null) {
      log(`gave up: pulsegate did not take the heartbeat (${outcome.error.message})`)
      return outcome
    }
    await clock.sleep(wait)
  }
}

/**
 * Answers the exit code: the job's own. When pulsegate refuses the configuration
 * (token, bad heartbeat) the job still runs — monitoring must not stop the work —
 * and the agent says so at once, then exits with the job's code, or 2 if that was 0.
 */
export async function runJob(config: JobConfig, deps: AgentDeps): Promise<number> {
  const reporter = new Reporter(config, deps)
  // Its own run id: a finish pairs with this start even when runs of the job overlap.
  const runId = crypto.randomUUID()
  reporter.putBeat(config.component, { run: 'start', run_id: runId, ...expectation(config) })
  // The start goes first, so pulsegate's clock times the whole run: one try, bounded by
  // --timeout (a pulsegate that is down refuses at once), and no retry: the job waits for no one.
  const started = await reporter.flush()
  if (started.kind === 'fatal') deps.log(started.message)
  const end = await runCommand(config.command, () => deps.clock.now())
  if (end.exitCode === 127 && end.message.startsWith('could not start')) deps.log(end.message) // as a shell would say
  if (started.kind === 'fatal') return end.exitCode || 2

  // A start that could not be delivered is replaced by the finish: pulsegate then has no run to pair it with.
  reporter.putBeat(config.component, { run: 'finish', run_id: runId, exit_code: end.exitCode, message: end.message, ...expectation(config) })
  const budgetMs = Math.min(config.intervalMs, ONE_SHOT_BUDGET_MS)
  const outcome = await deliver(reporter, budgetMs, budgetMs)
  if (outcome.kind === 'fatal') {
    deps.log(outcome.message)
    return end.exitCode || 2
  }
  return end.exitCode
}
