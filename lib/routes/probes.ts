// Liveness and readiness: /healthz and /livez for pulsegate itself, /readyz for
// the fleet and /readyz/:agent for one agent, with Teleport's codes and bodies.
import { type Context, Hono } from 'hono'
import { ApiError } from '../errors.ts'
import { type Check, READYZ_CODE, agentChecks, componentChecks, readiness, readyzStatus, verboseReadyz } from '../probes.ts'
import type { State } from '../readiness.ts'
import type { AppEnv, RouteDeps } from './deps.ts'

/** The answer for a subject in a state: the verbose listing or JSON, with the state's code either way. */
async function answerReadyz(c: Context, subject: string, state: State, checks: () => Promise<Check[]>, pid: number | null = null) {
  const exclude = c.req.queries('exclude') ?? []
  const verbose = c.req.query('verbose') !== undefined
  // Most probes ask for neither, and then the state is the aggregate already kept.
  const result = exclude.length > 0 || verbose ? readiness(await checks(), exclude) : undefined
  const answered = result?.state ?? state
  const code = READYZ_CODE[answered]
  if (result && verbose) return c.text(verboseReadyz(result), code)
  const body: { status: string; state: State; pid?: number } = { status: readyzStatus(answered, subject), state: answered }
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
    const { state } = await store.summary(now)
    return answerReadyz(c, 'fleet', state, async () => agentChecks((await views.fleet(now)).view.agents))
  })

  routes.get('/readyz/:agent', async (c) => {
    const id = c.req.param('agent')
    const agent = await views.agent(id, clock())
    if (!agent) throw new ApiError(404, 'unknown_agent', `no agent ${id}`)
    return answerReadyz(c, `agent ${agent.agent}`, agent.state, async () => componentChecks(agent), agent.pid)
  })

  return routes
}
