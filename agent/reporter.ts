// pulsegate-agent, the Node sidecar (agent/ may use node: modules; see clock.ts).
// The reporter holds what waits to be sent (the latest state per component), sends
// it as one batch, reads the states pulsegate answers, logs each change once, and
// sorts failures into "retry later" and "stop: the configuration is wrong".
import { type BeatResult, type Heartbeat, type PulsegateClient, PulsegateError } from '../lib/client.ts'
import type { State } from '../lib/readiness.ts'
import { LatestQueue } from './backoff.ts'
import type { Clock, Log } from './clock.ts'

export interface AgentDeps {
  client: PulsegateClient
  clock: Clock
  /** [0, 1), for backoff jitter. */
  random: () => number
  log: Log
}

export interface ReporterConfig {
  agent: string
  version?: string | undefined
  labels?: Record<string, string> | undefined
  verbose: boolean
  /**
   * One-shot runs (run, --once) log only trouble, as cron mails any output;
   * --verbose still shows every state.
   */
  quiet?: boolean | undefined
  /** Whether PULSEGATE_TOKEN was set, to say the right thing on a 401 (never the token itself). */
  tokenSet: boolean
}

export type Outcome =
  | { kind: 'sent'; results: BeatResult[] }
  | { kind: 'retry'; error: PulsegateError }
  | { kind: 'fatal'; error: PulsegateError; message: string }

/** Why the agent cannot go on, in words that say what to fix. */
export function fatalMessage(error: PulsegateError, tokenSet: boolean): string {
  if (error.code === 'invalid_authorization') {
    return `pulsegate refused the heartbeat (HTTP ${error.status} ${error.code}): PULSEGATE_TOKEN is not a valid bearer token`
  }
  if (error.unauthorized) {
    const what = tokenSet ? 'the token in PULSEGATE_TOKEN is wrong' : 'no token was given: set PULSEGATE_TOKEN'
    return `pulsegate refused the heartbeat (HTTP ${error.status} ${error.code}): ${what}`
  }
  const issues = error.issues?.length
    ? ` (${error.issues.map((i) => (i.path.length ? `${i.path.join('.')}: ${i.message}` : i.message)).join('; ')})`
    : ''
  if (error.status === 0) return error.message
  if (error.status === 400) return `pulsegate rejected the heartbeat (HTTP 400 ${error.code}): ${error.message}${issues}`
  return `pulsegate answered HTTP ${error.status} ${error.code}: ${error.message} (is PULSEGATE_URL right?)`
}

export class Reporter {
  readonly config: ReporterConfig
  readonly deps: AgentDeps
  readonly queue = new LatestQueue<Heartbeat>()
  /** The state pulsegate last answered per component. */
  readonly states = new Map<string, State>()
  #unreachable = false

  constructor(config: ReporterConfig, deps: AgentDeps) {
    this.config = config
    this.deps = deps
  }

  /** Queue a component's state, replacing any older one still waiting. */
  put(component: string, status: Heartbeat['status'], message: string | undefined, intervalSeconds: number): void {
    this.putBeat(component, message ? { status, message, interval_seconds: intervalSeconds } : { status, interval_seconds: intervalSeconds })
  }

  /** Queue a heartbeat of a component (a job's run signals too), with the agent's version and labels. */
  putBeat(component: string, fields: Omit<Heartbeat, 'agent' | 'component' | 'version' | 'labels'>): void {
    const { agent, version, labels } = this.config
    const beat: Heartbeat = { agent, component, ...fields }
    if (version) beat.version = version
    if (labels && Object.keys(labels).length) beat.labels = labels
    this.queue.put(component, beat)
  }

  /** Send everything waiting in one batch. */
  async flush(): Promise<Outcome> {
    const batch = this.queue.pending()
    if (batch.size === 0) return { kind: 'sent', results: [] }
    const beats = [...batch.values()]
    let results: BeatResult[]
    try {
      results = await this.deps.client.beatMany(beats)
    } catch (error) {
      if (!(error instanceof PulsegateError)) throw error
      if (error.retryable) {
        if (!this.#unreachable) this.deps.log(`pulsegate unreachable: ${describe(error)}; retrying, keeping only the latest state`)
        this.#unreachable = true
        return { kind: 'retry', error }
      }
      return { kind: 'fatal', error, message: fatalMessage(error, this.config.tokenSet) }
    }
    this.queue.delivered(batch)
    if (this.#unreachable) this.deps.log('pulsegate reachable again')
    this.#unreachable = false
    results.forEach((result, i) => this.#record(result, beats[i]!))
    return { kind: 'sent', results }
  }

  #record(result: BeatResult, beat: Heartbeat): void {
    const before = this.states.get(result.component)
    this.states.set(result.component, result.state)
    const detail = beat.message ? `: ${beat.message}` : ''
    const name = `${result.agent}/${result.component}`
    if (before !== result.state && !this.config.quiet) {
      this.deps.log(`${name} ${before === undefined ? '' : `${before} → `}${result.state}${detail}`)
    } else if (this.config.verbose) {
      const sent = beat.run === 'start' ? 'run start' : beat.exit_code !== undefined ? `exit code ${beat.exit_code}` : beat.status
      const due = beat.schedule === undefined ? `next within ${beat.interval_seconds}s` : `schedule ${beat.schedule}`
      this.deps.log(`${name} ${result.state} (sent ${sent}, ${due})${detail}`)
    }
  }

  /** DELETE the agent; never throws (the agent is stopping either way). */
  async deregister(): Promise<void> {
    try {
      const removed = await this.deps.client.deregister(this.config.agent)
      this.deps.log(removed ? `deregistered ${this.config.agent}` : `${this.config.agent} was already gone`)
    } catch (error) {
      this.deps.log(`could not deregister ${this.config.agent}: ${describe(error)}`)
    }
  }
}

export function describe(error: unknown): string {
  if (error instanceof PulsegateError) return error.status ? `HTTP ${error.status} ${error.code}: ${error.message}` : error.message
  return error instanceof Error ? error.message : String(error)
}
