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
  /** Names asked to be excluded that no check has, sorted: the listing's warn line. */
  unmatched: string[]
}

/**
 * Aggregate the checks not excluded, as the Kubernetes apiserver does: an
 * excluded check passes, so with every check excluded the answer passes. No
 * check at all (an empty fleet) is `starting`, as Teleport's rule says.
 */
export function readiness(checks: Check[], exclude: Iterable<string>): Readiness {
  const excluded = new Set(exclude)
  const counted = checks.filter((c) => !excluded.has(c.name))
  const state = checks.length > 0 && counted.length === 0 ? 'ok' : aggregate(counted.map((c) => c.state))
  const names = new Set(checks.map((c) => c.name))
  const unmatched = [...excluded].filter((name) => !names.has(name)).sort()
  return { state, checks, excluded, unmatched }
}

/** pulsegate's own check on /livez and /healthz: the process answers. */
export const PING: Check = { name: 'ping', state: 'ok', reason: null }

/**
 * The line an empty fleet lists where its agents would be. It is no agent, so
 * ?exclude cannot remove it: an empty fleet stays `starting` whatever is excluded.
 */
export const NO_AGENTS: Check = { name: 'fleet', state: 'starting', reason: 'no agent has reported yet' }

export function agentChecks(agents: Iterable<AgentView>): Check[] {
  return Array.from(agents, (a) => ({ name: a.agent, state: a.state, reason: describeAgent(a) }))
}

export function componentChecks(agent: AgentView): Check[] {
  return agent.components.map((c) => ({ name: c.record.component, state: c.state, reason: c.reason }))
}

// C0 and C1 controls, DEL, the line and paragraph separators, the bidi overrides
// and isolates (which reorder what a terminal shows), and the backslash that escapes.
const UNSAFE = /[\\\x00-\x1f\x7f-\x9f\u2028\u2029\u202a-\u202e\u2066-\u2069]/g
const ESCAPES: Record<string, string> = { '\\': '\\\\', '\n': '\\n', '\r': '\\r', '\t': '\\t' }

/**
 * Text from a request (a heartbeat's message, an excluded name) made safe for one
 * line of plain text: every character that could end or reorder a line is
 * written as an escape, as Go's %q would, so no message can forge a line.
 */
export function escapeLine(text: string): string {
  return text.replace(UNSAFE, (ch) => ESCAPES[ch] ?? `\\u${ch.charCodeAt(0).toString(16).padStart(4, '0')}`)
}

/**
 * The Kubernetes apiserver's verbose listing (k8s.io/apiserver pkg/server/healthz):
 * one line per check, a warn line for exclusions that matched nothing, then the verdict.
 *   [+]node-17 ok
 *   [-]node-9 degraded: missed heartbeat
 *   [+]node-4 excluded: ok
 *   warn: some health checks cannot be excluded: no matches for "nope"
 *   readyz check failed
 */
export function verboseListing(probe: string, { state, checks, excluded, unmatched }: Readiness, empty?: Check): string {
  const result = ({ name, state: s, reason }: Check) => `[${s === 'ok' ? '+' : '-'}]${name} ${s}${reason ? `: ${escapeLine(reason)}` : ''}`
  const lines = checks.map((check) => (excluded.has(check.name) ? `[+]${check.name} excluded: ok` : result(check)))
  if (checks.length === 0 && empty) lines.push(result(empty))
  if (unmatched.length > 0) {
    const quoted = unmatched.map((name) => `"${escapeLine(name).replace(/"/g, '\\"')}"`).join(',')
    lines.push(`warn: some health checks cannot be excluded: no matches for ${quoted}`)
  }
  lines.push(`${probe} check ${state === 'ok' ? 'passed' : 'failed'}`)
  return `${lines.join('\n')}\n`
}
