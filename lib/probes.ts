// /readyz answers: Teleport's codes and bodies, with Kubernetes' ?verbose and ?exclude on top.
import { type AgentView, describeAgent } from './fleet.ts'
import { type State, aggregate } from './readiness.ts'

/** Teleport's /readyz codes: ok 200, degraded 503, recovering and starting 400. */
export const READYZ_CODE: Readonly<Record<State, 200 | 400 | 503>> = {
  ok: 200,
  recovering: 400,
  degraded: 503,
  starting: 400,
}

/** Teleport's /readyz wording, about the fleet or one agent. */
export function readyzStatus(state: State, subject: string): string {
  switch (state) {
    case 'ok':
      return 'ok'
    case 'degraded':
      return `${subject} is in a degraded state, check /readyz?verbose for details`
    case 'recovering':
      return `${subject} is recovering from a degraded state, check /readyz?verbose for details`
    case 'starting':
      return `${subject} is starting and hasn't joined the cluster yet`
  }
}

export interface Check {
  name: string
  state: State
  reason: string | null
}

export interface Readiness {
  state: State
  checks: Check[]
  excluded: Set<string>
}

/** Aggregate the checks not excluded; zero checks is `starting`, as Teleport's rule says. */
export function readiness(checks: Check[], exclude: Iterable<string>): Readiness {
  const excluded = new Set(exclude)
  const state = aggregate(checks.filter((c) => !excluded.has(c.name)).map((c) => c.state))
  return { state, checks, excluded }
}

export function agentChecks(agents: Iterable<AgentView>): Check[] {
  return Array.from(agents, (a) => ({ name: a.agent, state: a.state, reason: describeAgent(a) }))
}

export function componentChecks(agent: AgentView): Check[] {
  return agent.components.map((c) => ({ name: c.record.component, state: c.state, reason: c.reason }))
}

/**
 * The Kubernetes verbose listing: one line per check, then the verdict.
 *   [+]node-17 ok
 *   [-]node-9 degraded: missed heartbeat
 *   [+]node-4 excluded: ok
 *   readyz check failed
 */
export function verboseReadyz({ state, checks, excluded }: Readiness): string {
  const lines = checks.map(({ name, state: s, reason }) => {
    if (excluded.has(name)) return `[+]${name} excluded: ok`
    const sign = s === 'ok' ? '+' : '-'
    return `[${sign}]${name} ${s}${reason ? `: ${reason}` : ''}`
  })
  lines.push(`readyz check ${state === 'ok' ? 'passed' : 'failed'}`)
  return `${lines.join('\n')}\n`
}
