// Liveness and readiness: /healthz and /livez for pulsegate itself, /readyz for
// the fleet and /readyz/:agent for one agent, with Teleport's codes and bodies.
import { type Context, Hono } from 'hono'
import { ApiError } from '../errors.ts'
import { type Check, READYZ_CODE, agentChecks, componentChecks, readiness, readyzStatus, verboseReadyz } from '../probes.ts'
import type { State } from '../readiness.ts'
import type { AppEnv, RouteDeps } from './deps.ts'

interface Subject {
  /** `fleet`, or `agent <id>`: who the answer is about. */
  name: string
  state: State
  /** The checks behind the state, for ?verbose and ?exclude. */
  checks: () => Promise<{ checks: Check[]; copiedAt?: number | undefined }>
  pid?: number | null
  /** When the copy the state comes from was made, when it comes from one. */
  copiedAt?: number | undefined
}

/**
 * The answer about a subject: the verbose listing or JSON, with the state's
 * code either way. An answer from a copy says how old it is in `Age`, as an
 * HTTP cache would; the answer itself is never stored by one (no-store).
 */
async function answerReadyz(c: Context, now: number, subject: Subject) {
  const exclude = c.req.queries('exclude') ?? []
  const verbose = c.req.query('verbose') !== undefined
  // Most probes ask for neither, and then the state is the aggregate already kept.
  const listed = exclude.length > 0 || verbose ? await subject.checks() : undefined
  const result = listed && readiness(listed.checks, exclude)
  const copiedAt = listed ? listed.copiedAt : subject.copiedAt
  if (copiedAt !== undefined) c.header('Age', String(Math.max(0, Math.floor((now - copiedAt) / 1000))))
  const answered = result?.state ?? subject.state
  const pid = subject.pid ?? null
  const code = READYZ_CODE[answered]
  if (result && verbose) return c.text(verboseReadyz(result), code)
  const body: { status: string; state: State; pid?: number } = { status: readyzStatus(answered, subject.name), state: answered }
  if (pid !== null) body.pid = pid
  return c.json(body, code)
}

export function probeRoutes({ store, clock, views }: RouteDeps): Hono<AppEnv> {
  const routes = new Hono<AppEnv>()

  routes.get('/healthz', (c) => c.json({ status: 'ok' }))
  routes.get('/livez', (c) => c.json({ status: 'ok' }))

  // The two hot probes never look at the whole fleet: the store keeps every
  // agent's state up to date as heartbeats arrive, and one agent is its own records.
  routes.get('/readyz', async (c) => {
    const now = clock()
    const { state, copiedAt } = await store.summary(now)
    // The listing reads the fleet itself, from the source of truth.
    const checks = async () => ({ checks: agentChecks((await views.fleet(now)).view.agents) })
    return answerReadyz(c, now, { name: 'fleet', state, checks, copiedAt })
  })

  routes.get('/readyz/:agent', async (c) => {
    const now = clock()
    const id = c.req.param('agent')
    const agent = await views.agent(id, now)
    if (!agent) throw new ApiError(404, 'unknown_agent', `no agent ${id}`)
    const checks = async () => ({ checks: componentChecks(agent), copiedAt: agent.copiedAt })
    return answerReadyz(c, now, { name: `agent ${agent.agent}`, state: agent.state, checks, pid: agent.pid, copiedAt: agent.copiedAt })
  })

  return routes
}
