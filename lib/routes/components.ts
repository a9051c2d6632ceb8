// Declared components: PUT /v1/agents/{agent}/components/{component} says what is
// expected of one (so a check that never reports is missed, and one that is
// expected is never forgotten); DELETE removes one component, not the agent.
import { OpenAPIHono, createRoute } from '@hono/zod-openapi'
import { z } from 'zod'
import { declaredSchema, removedComponentSchema } from '../api-schemas.ts'
import { ApiError } from '../errors.ts'
import { viewComponent } from '../fleet.ts'
import { MAX_BODY_BYTES, agentId, componentId, declarationSchema } from '../heartbeat.ts'
import { limitBody, requireJson, requireToken } from '../http.ts'
import { authErrors, bodyErrors, errorAnswer, internalError, invalidBody, storeUnavailable } from '../openapi.ts'
import { agentHistory } from '../history.ts'
import { componentJson } from './agents.ts'
import { type AppEnv, type RouteDeps, countRejections, refuseBody, storeOr503 } from './deps.ts'

const componentParams = z.object({
  agent: agentId.meta({ description: 'The agent id', example: 'db-1' }),
  component: componentId.meta({ description: 'The component, 1–64 of A-Z a-z 0-9 . _ : -', example: 'backup' }),
})

const invalidDeclaration = invalidBody('invalid_declaration', 'The agent id, the component name or the declaration')

const declareRoute = createRoute({
  method: 'put',
  path: '/v1/agents/{agent}/components/{component}',
  operationId: 'declareComponent',
  tags: ['Agents'],
  summary: 'Declare what is expected of a component, before or while it reports',
  description:
    'A declared component is listed from now on, `starting` until it reports, and due from the declaration: one that never reports is missed like one that stopped. ' +
    'It never expires unless `expire_seconds` says so. A declaration replaces the one before (a field left out is its default again) and keeps what the component reported. ' +
    'Heartbeats that state an interval, a schedule or a grace still change them, as for any component.',
  security: [{ heartbeatToken: [] }],
  request: {
    params: componentParams,
    body: {
      required: true,
      description: 'What is expected; `{}` for the defaults (DEFAULT_INTERVAL_SECONDS)',
      content: { 'application/json': { schema: declarationSchema } },
    },
  },
  responses: {
    200: { description: 'Declared again: the component as it now is', content: { 'application/json': { schema: declaredSchema } } },
    201: { description: 'Declared: a component pulsegate did not have', content: { 'application/json': { schema: declaredSchema } } },
    400: invalidDeclaration,
    ...authErrors,
    ...bodyErrors,
    422: errorAnswer('A new component would take the fleet past MAX_AGENTS or MAX_COMPONENTS_PER_AGENT or MAX_COMPONENTS', [
      'too_many_agents',
      'too_many_components',
    ]),
    ...internalError,
    503: storeUnavailable,
  },
})

const removeRoute = createRoute({
  method: 'delete',
  path: '/v1/agents/{agent}/components/{component}',
  operationId: 'deleteComponent',
  tags: ['Agents'],
  summary: 'Remove one component, declared or not',
  description: 'Gone from every answer; the agent stays while it has other components. A component that reports again registers anew.',
  security: [{ heartbeatToken: [] }],
  request: { params: componentParams },
  responses: {
    200: { description: 'Removed', content: { 'application/json': { schema: removedComponentSchema } } },
    400: invalidDeclaration,
    ...authErrors,
    404: errorAnswer('No such component (`unknown_component`)', ['unknown_component']),
    ...internalError,
    503: storeUnavailable,
  },
})

/** The hook of both routes: a bad id, name or declaration is a 400 naming each field. */
const refuse = refuseBody('invalid_declaration', 'declaration')

export function componentRoutes({ store, settings, clock, count }: RouteDeps): OpenAPIHono<AppEnv> {
  const routes = new OpenAPIHono<AppEnv>()
  const heartbeatToken = requireToken(settings.heartbeatTokens)

  routes.openapi(
    { ...declareRoute, middleware: [countRejections(count), heartbeatToken, requireJson('declaration'), limitBody(MAX_BODY_BYTES)] },
    async (c) => {
      const { agent, component } = c.req.valid('param')
      const now = clock()
      const { record, created } = await storeOr503('declaration', () => store.declare({ agent, component, ...c.req.valid('json') }, now))
      const uptime = agentHistory([record], now, settings).uptime
      return c.json({ agent, ...componentJson(viewComponent(record, now, settings), uptime) }, created ? 201 : 200)
    },
    refuse,
  )

  routes.openapi(
    { ...removeRoute, middleware: [countRejections(count), heartbeatToken] },
    async (c) => {
      const { agent, component } = c.req.valid('param')
      const removed = await storeOr503('removal', () => store.removeComponent(agent, component, clock()))
      if (!removed) throw new ApiError(404, 'unknown_component', `no component ${component} of agent ${agent}`)
      return c.json({ agent, component, removed: true as const }, 200)
    },
    refuse,
  )

  return routes
}
