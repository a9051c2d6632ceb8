// Liveness and readiness: /healthz and /livez for pulsegate itself, /readyz for
// the fleet and /readyz/{agent} for one agent, with Teleport's codes and bodies
// and the Kubernetes apiserver's ?verbose and ?exclude.
import { OpenAPIHono, createRoute } from '@hono/zod-openapi'
import type { Context } from 'hono'
import { z } from 'zod'
import { livenessSchema, readinessSchema } from '../api-schemas.ts'
import { ApiError } from '../errors.ts'
import { ageHeader, documentedOnly, internalError, unknownAgent } from '../openapi.ts'
import {
  type Check, NO_AGENTS, PING, READYZ_CODE, agentChecks, componentChecks, readiness, readyzStatus, verboseListing,
} from '../probes.ts'
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

const listing = z.string().meta({
  description: 'With ?verbose: the Kubernetes listing, a line per check, then `… check passed` or `… check failed`',
  example: '[+]node-17 ok\n[-]node-9 degraded: missed heartbeat\nreadyz check failed\n',
})

const probeQuery = z.object({
  verbose: z.string().optional().meta({ description: 'Present (any value, or none): answer the listing as text/plain, with the same code' }),
  exclude: z.array(z.string()).optional().meta({ description: 'Leave a check out of the verdict (repeatable); listed as `excluded: ok`' }),
})

const livenessAnswers = {
  200: {
    description: 'pulsegate runs. Its one check is `ping`',
    content: { 'application/json': { schema: livenessSchema }, 'text/plain': { schema: listing } },
  },
  ...internalError,
}

function readinessAnswer(description: string) {
  return {
    description,
    headers: z.object({ Age: ageHeader }),
    content: { 'application/json': { schema: readinessSchema }, 'text/plain': { schema: listing } },
  }
}

const readinessAnswers = {
  200: readinessAnswer('ok'),
  400: readinessAnswer('starting or recovering (an empty fleet is starting)'),
  503: readinessAnswer('degraded'),
  ...internalError,
}

const livenessRoute = (path: '/healthz' | '/livez') =>
  createRoute({
    method: 'get',
    path,
    operationId: path.slice(1),
    tags: ['Probes'],
    summary: path === '/livez' ? "pulsegate's own liveness" : "pulsegate's own health: probe its pod with this, never with /readyz",
    request: { query: probeQuery },
    responses: livenessAnswers,
  })

const readyzRoute = createRoute({
  method: 'get',
  path: '/readyz',
  operationId: 'readyz',
  tags: ['Probes'],
  summary: "The fleet's readiness: every agent aggregated with Teleport's rule",
  description: 'Teleport\'s codes: 200 ok, 400 starting or recovering, 503 degraded. Checks are agents.',
  request: { query: probeQuery },
  responses: readinessAnswers,
})

const readyzAgentRoute = createRoute({
  method: 'get',
  path: '/readyz/{agent}',
  operationId: 'readyzAgent',
  tags: ['Probes'],
  summary: "One agent's readiness: its components aggregated",
  description: 'The same codes as /readyz; checks are the agent\'s components. The JSON adds `pid` when the agent reported one.',
  request: { params: z.object({ agent: z.string().meta({ description: 'The agent id', example: 'node-17' }) }), query: probeQuery },
  responses: { ...readinessAnswers, 404: unknownAgent },
})

const excludedOf = (c: Context) => c.req.queries('exclude') ?? []
const verboseOf = (c: Context) => c.req.query('verbose') !== undefined

/**
 * The answer about a subject: the verbose listing or JSON, with the state's
 * code either way. An answer from a copy says how old it is in `Age`, as an
 * HTTP cache would; the answer itself is never stored by one (no-store).
 */
async function answerReadyz(c: Context, now: number, subject: Subject) {
  const exclude = excludedOf(c)
  const verbose = verboseOf(c)
  // Most probes ask for neither, and then the state is the aggregate already kept.
  const listed = exclude.length > 0 || verbose ? await subject.checks() : undefined
  const result = listed && readiness(listed.checks, exclude)
  const copiedAt = listed ? listed.copiedAt : subject.copiedAt
  if (copiedAt !== undefined) c.header('Age', String(Math.max(0, Math.floor((now - copiedAt) / 1000))))
  const answered = result?.state ?? subject.state
  const pid = subject.pid ?? null
  const code = READYZ_CODE[answered]
  if (result && verbose) return c.text(verboseListing('readyz', result, NO_AGENTS), code)
  const body: { status: string; state: State; pid?: number } = { status: readyzStatus(answered, subject.name), state: answered }
  if (pid !== null) body.pid = pid
  return c.json(body, code)
}

/** /livez and /healthz: `ping` is their one check, and it passes while pulsegate answers. */
function answerLiveness(c: Context, probe: string) {
  if (!verboseOf(c)) return c.json({ status: 'ok' as const }, 200)
  return c.text(verboseListing(probe, readiness([PING], excludedOf(c))), 200)
}

export function probeRoutes({ store, clock, views }: RouteDeps): OpenAPIHono<AppEnv> {
  const routes = new OpenAPIHono<AppEnv>()

  routes.openapi(documentedOnly(routes, livenessRoute('/healthz')), (c) => answerLiveness(c, 'healthz'))
  routes.openapi(documentedOnly(routes, livenessRoute('/livez')), (c) => answerLiveness(c, 'livez'))

  // The two hot probes never look at the whole fleet: the store keeps every
  // agent's state up to date as heartbeats arrive, and one agent is its own records.
  routes.openapi(documentedOnly(routes, readyzRoute), async (c) => {
    const now = clock()
    const { state, copiedAt } = await store.summary(now)
    // The listing reads the fleet itself, from the source of truth.
    const checks = async () => ({ checks: agentChecks((await views.fleet(now)).view.agents) })
    return answerReadyz(c, now, { name: 'fleet', state, checks, copiedAt })
  })

  routes.openapi(documentedOnly(routes, readyzAgentRoute), async (c) => {
    const now = clock()
    const id = c.req.param('agent')
    const agent = await views.agent(id, now)
    if (!agent) throw new ApiError(404, 'unknown_agent', `no agent ${id}`)
    const checks = async () => ({ checks: componentChecks(agent), copiedAt: agent.copiedAt })
    return answerReadyz(c, now, { name: `agent ${agent.agent}`, state: agent.state, checks, pid: agent.pid, copiedAt: agent.copiedAt })
  })

  return routes
}
