// The pieces every route definition shares (the error answers, the headers that
// matter), and the OpenAPI 3.1 document built from the routes the app registered.
// The routes themselves are defined once, with createRoute, in lib/routes/.
import type { OpenAPIHono, RouteConfig } from '@hono/zod-openapi'
import { z } from 'zod'
import { errorSchema } from './api-schemas.ts'
import { MAX_BODY_BYTES } from './heartbeat.ts'

type Codes = readonly [string, ...string[]]

export const retryAfterHeader = z.string().regex(/^\d+$/).meta({ description: 'Seconds to wait before a retry can succeed' })
const wwwAuthenticateHeader = z.string().meta({ description: 'The bearer challenge (RFC 6750)', example: 'Bearer realm="pulsegate"' })
export const ageHeader = z
  .string()
  .regex(/^\d+$/)
  .optional()
  .meta({ description: 'Workers with PROBE_SOURCE=cache: seconds since the copy that answers was made; absent when the source of truth answers' })

/** A JSON error answer carrying one of `codes`, with the headers it always has. */
export function errorAnswer(description: string, codes: Codes, headers?: Record<string, z.ZodType>) {
  return {
    description,
    ...(headers ? { headers: z.object(headers) } : {}),
    content: { 'application/json': { schema: errorSchema(codes) } },
  }
}

/** The errors a route behind a bearer token adds, and every route's 500. */
export const authErrors = {
  401: errorAnswer('The token is missing or wrong (`unauthorized`)', ['unauthorized'], { 'WWW-Authenticate': wwwAuthenticateHeader }),
} as const
export const malformedAuthorization = 'an Authorization header that is not `Bearer <token>` (`invalid_authorization`, with WWW-Authenticate)'
export const internalError = {
  500: errorAnswer('Anything else, logged by the server (`internal_error`); on Workers, a bad setting (`invalid_settings`)', [
    'internal_error',
    'invalid_settings',
  ]),
} as const
export const unknownAgent = errorAnswer('No such agent (`unknown_agent`)', ['unknown_agent'])
export const storeUnavailable = errorAnswer(
  'The store could not write; nothing was stored, retry (`store_unavailable`)',
  ['store_unavailable'],
  { 'Retry-After': retryAfterHeader },
)

/** A request body that is not what the route takes: its code (with `issues`), not JSON, or a malformed token. */
export function invalidBody(code: string, what: string) {
  return errorAnswer(
    `${what} is not valid (\`${code}\`, with \`issues\`), not JSON (\`malformed_json\`), or ${malformedAuthorization}`,
    [code, 'malformed_json', 'invalid_authorization'],
  )
}

/** What every route with a JSON body can answer besides its own refusals. */
export const bodyErrors = {
  413: errorAnswer(`The body is over ${MAX_BODY_BYTES} bytes (\`body_too_large\`)`, ['body_too_large']),
  415: errorAnswer('The Content-Type is not JSON (`unsupported_media_type`)', ['unsupported_media_type']),
} as const

/** The 400 of a query that is not valid, as the routes with a validated query answer it. */
export const invalidQuery = errorAnswer('The query is not valid (`invalid_query`, with `issues`)', ['invalid_query'])
/** The same, for a route behind a token. */
export const invalidQueryOrAuthorization = errorAnswer(
  `The query is not valid (\`invalid_query\`, with \`issues\`), or ${malformedAuthorization}`,
  ['invalid_query', 'invalid_authorization'],
)

/**
 * Every code an answer can carry, for the document's `Error` schema: what an
 * unknown path (404) or a method a path does not route (405) answers.
 */
const ALL_CODES = [
  'invalid_heartbeat', 'malformed_json', 'invalid_authorization', 'invalid_query', 'unauthorized', 'not_found', 'unknown_agent',
  'method_not_allowed', 'body_too_large', 'unsupported_media_type', 'too_many_agents', 'too_many_components', 'too_many_versions',
  'rate_limited', 'store_unavailable', 'internal_error', 'invalid_settings', 'http_error', 'invalid_declaration', 'unknown_component',
  'pings_off', 'invalid_silence', 'not_silenced',
] as const

/**
 * Request parts whose schema takes every value (a probe's ?verbose and ?exclude,
 * an agent id that is looked up as it is) are in the document but are not run on
 * each request: a validator there refuses nothing and costs a hot probe about 2 µs
 * (a fifth of what Hono takes for the whole route). Refuses a schema that could
 * refuse something, so none is left unenforced by mistake.
 */
export function documentedOnly<R extends RouteConfig>(app: OpenAPIHono<any>, route: R): R {
  for (const part of ['params', 'query'] as const) {
    const schema = route.request?.[part]
    if (schema && !acceptsEveryValue(schema)) throw new Error(`${route.method} ${route.path}: its ${part} can refuse a request; validate it`)
  }
  const { middleware: _middleware, hide: _hide, ...documented } = route
  app.openAPIRegistry.registerPath(documented)
  return { ...route, hide: true, request: { ...route.request, params: undefined, query: undefined } }
}

/** An object whose every field is an optional string or list of strings with no check, or a plain string. */
function acceptsEveryValue(schema: z.ZodType): boolean {
  const def = (schema as any)._zod.def
  if (def.type !== 'object' || def.catchall !== undefined) return false
  return Object.values(def.shape as Record<string, z.ZodType>).every((field) => isAnyString(field, true))
}

function isAnyString(schema: z.ZodType, top: boolean): boolean {
  const def = (schema as any)._zod.def
  if (def.checks?.length) return false
  switch (def.type) {
    case 'string':
      return true
    case 'optional':
      return top && isAnyString(def.innerType, false)
    case 'union':
      return def.options.every((o: z.ZodType) => isAnyString(o, false))
    case 'array':
      return isAnyString(def.element, false)
    default:
      return false
  }
}

const DESCRIPTION = `Heartbeats in, Teleport-style health probes and Prometheus metrics out.

- Every answer carries \`Cache-Control: no-store\` and \`X-Content-Type-Options: nosniff\`.
- \`HEAD\` works on every \`GET\` route: the same status and headers, no body.
- A path no route matches answers 404 \`not_found\` (components/responses/NotFound); a method a path does not route answers 405 \`method_not_allowed\` with \`Allow\` (components/responses/MethodNotAllowed).
- With \`CORS_ORIGINS\` set, every path answers a CORS preflight (\`OPTIONS\` with \`Access-Control-Request-Method\`) with 204 (components/responses/Preflight), and answers to an allowed \`Origin\` carry \`Access-Control-Allow-Origin\`. Credentials are never allowed: tokens travel in \`Authorization\`, no cookie is used.
- Bodies are at most ${MAX_BODY_BYTES} bytes.`

const errorRef = { $ref: '#/components/schemas/Error' }

/** The OpenAPI 3.1 document of every route `app` registered, with what no single route can say. */
export function openApiDocument(app: OpenAPIHono<any>, version: string): Record<string, any> {
  app.openAPIRegistry.register('Error', errorSchema(ALL_CODES))
  const document: Record<string, any> = app.getOpenAPI31Document({
    openapi: '3.1.0',
    info: { title: 'pulsegate', version, description: DESCRIPTION, license: { name: 'MIT' } },
    tags: [
      { name: 'Heartbeats', description: 'What agents send' },
      { name: 'Agents', description: 'What pulsegate knows of each agent, and what is expected of its components' },
      { name: 'History', description: 'Every change of state, kept for HISTORY_DAYS: pages, and a live stream' },
      { name: 'Notifications', description: 'Webhooks and Alertmanager: what waits, what failed, and silences' },
      { name: 'Pings', description: "healthchecks.io's ping URLs, for cron jobs: on with PING_KEY" },
      { name: 'Probes', description: "Liveness of pulsegate, readiness of the fleet: Teleport's codes, Kubernetes' ?verbose and ?exclude" },
      { name: 'Metrics', description: 'The Prometheus exposition' },
      { name: 'Reference', description: 'This document, and the page that shows it' },
    ],
  })
  delete document.webhooks
  document.components.securitySchemes = {
    heartbeatToken: {
      type: 'http',
      scheme: 'bearer',
      description: 'One of the tokens of HEARTBEAT_TOKEN (a comma-separated list); not asked for when the server runs without one.',
    },
    metricsToken: {
      type: 'http',
      scheme: 'bearer',
      description: 'One of the tokens of METRICS_TOKEN; not asked for when the server runs without one.',
    },
    readToken: {
      type: 'http',
      scheme: 'bearer',
      description: 'One of the tokens of READ_TOKEN, for agents and their history; not asked for when the server runs without one.',
    },
  }
  document.components.responses = {
    NotFound: { description: 'No route matches the path (`not_found`)', content: { 'application/json': { schema: errorRef } } },
    MethodNotAllowed: {
      description: 'The path does not route this method (`method_not_allowed`)',
      headers: { Allow: { required: true, description: 'The methods it routes, e.g. `GET, HEAD`', schema: { type: 'string' } } },
      content: { 'application/json': { schema: errorRef } },
    },
    Preflight: {
      description: 'A CORS preflight, with CORS_ORIGINS set: allowed when Access-Control-Allow-Origin names the origin (or is *)',
      headers: {
        'Access-Control-Allow-Methods': { required: true, schema: { type: 'string' } },
        'Access-Control-Allow-Headers': { required: true, schema: { type: 'string' } },
        'Access-Control-Allow-Origin': { schema: { type: 'string' } },
        'Access-Control-Max-Age': { schema: { type: 'string' } },
      },
    },
  }
  return document
}
