// pulsegate-agent, the Node sidecar (agent/ may use node: modules; see clock.ts).
// The loop, timed as Teleport's agents do it: register as starting, then probe and
// beat every interval while healthy and every fast interval while degraded or
// recovering; every beat states the interval it will next beat at. All components
// go in one batch a round. Network errors, 5xx and 429 back off with full jitter.
import type { State } from '../lib/readiness.ts'
import { ONE_SHOT_BUDGET_MS, oneShotWait, retryDelay } from './backoff.ts'
import type { Component, Probe } from './checks.ts'
import { type AgentDeps, Reporter, type ReporterConfig } from './reporter.ts'

export interface SidecarConfig extends ReporterConfig {
  components: Component[]
  intervalMs: number
  /** Used while any component is degraded or recovering; never longer than intervalMs. */
  fastIntervalMs: number
  /** Do not DELETE the agent on stop. */
  keep: boolean
  /** One round, then exit: 0 once delivered, 1 when pulsegate could not be reached in time. */
  once: boolean
}

const unhealthy = (state: State | undefined) => state === 'degraded' || state === 'recovering'

/**
 * Run until `stop` aborts (then deregister unless `keep`, and answer 0), or until
 * pulsegate refuses the configuration (answer 2). With `once`: one round.
 */
export async function runSidecar(config: SidecarConfig, deps: AgentDeps, stop: AbortSignal): Promise<number> {
  const { clock, log } = deps
  const reporter = new Reporter(config, deps)
  const fastMs = Math.min(config.fastIntervalMs, config.intervalMs)
  const giveUpAt = clock.now() + Math.min(config.intervalMs, ONE_SHOT_BUDGET_MS)
  let registering = !config.once
  let attempt = 0

  while (!stop.aborted) {
    const roundStart = clock.now()
    let statedMs: number
    if (registering) {
      // Teleport's process registers as starting, then reports ok once ready.
      statedMs = fastMs
      for (const c of config.components) reporter.put(c.name, 'starting', undefined, statedMs / 1000)
    } else {
      const probes: Probe[] = await Promise.all(config.components.map((c) => c.check(stop)))
      if (stop.aborted) break
      const fast =
        probes.some((p) => p.status === 'degraded') || config.components.some((c) => unhealthy(reporter.states.get(c.name)))
      statedMs = fast ? fastMs : config.intervalMs
      config.components.forEach((c, i) => reporter.put(c.name, probes[i]!.status, probes[i]!.message, statedMs / 1000))
    }

    const outcome = await reporter.flush()
    let delayMs: number
    if (outcome.kind === 'fatal') {
      log(outcome.message)
      return 2
    } else if (outcome.kind === 'sent') {
      if (config.once) return 0
      attempt = 0
      // Never later than stated; sooner while pulsegate says something is unwell.
      const wanted = outcome.results.some((r) => unhealthy(r.state)) ? fastMs : config.intervalMs
      delayMs = registering ? 0 : roundStart + Math.min(statedMs, wanted) - clock.now()
      registering = false
    } else {
      // Capped at the interval: the healthy one while registering, so a fleet starting during an outage stays calm.
      const capMs = registering ? config.intervalMs : statedMs
      delayMs = retryDelay(attempt++, capMs, deps.random, outcome.error.retryAfter)
      if (config.once) {
        const wait = oneShotWait(delayMs, clock.now(), giveUpAt, outcome.error.retryAfter)
        if (wait === null) {
          log(`gave up: pulsegate did not take the heartbeat (${outcome.error.message})`)
          return 1
        }
        delayMs = wait
      }
      if (config.verbose) log(`retry in ${(delayMs / 1000).toFixed(2)}s`)
    }
    await clock.sleep(delayMs, stop)
  }

  if (!config.keep && !config.once) await reporter.deregister()
  return 0
}
