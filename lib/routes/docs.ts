// GET /openapi.json, the OpenAPI 3.1 document of every route, and GET /docs, the
// reference page rendered from it. Both are made once, at the first ask.
import { OpenAPIHono, createRoute } from '@hono/zod-openapi'
import { z } from 'zod'
import { internalError } from '../openapi.ts'
import { renderReference } from '../reference.ts'
import type { AppEnv } from './deps.ts'

// The page has no script and loads nothing: a policy that says so.
const PAGE_POLICY = "default-src 'none'; style-src 'unsafe-inline'; base-uri 'none'; form-action 'none'; frame-ancestors 'none'"

const documentSchema = z.looseObject({ openapi: z.string(), info: z.looseObject({}), paths: z.looseObject({}) })

const documentRoute = createRoute({
  method: 'get',
  path: '/openapi.json',
  operationId: 'openapi',
  tags: ['Reference'],
  summary: 'This document: OpenAPI 3.1, generated from the route definitions',
  responses: {
    200: {
      description: 'The OpenAPI document',
      content: { 'application/json': { schema: documentSchema } },
    },
    ...internalError,
  },
})

const pageRoute = createRoute({
  method: 'get',
  path: '/docs',
  operationId: 'docs',
  tags: ['Reference'],
  summary: 'The API reference, as a page: plain HTML from this document, no script',
  responses: {
    200: { description: 'The page', content: { 'text/html': { schema: z.string() } } },
    ...internalError,
  },
})

export function docsRoutes(document: () => Record<string, unknown>): OpenAPIHono<AppEnv> {
  const routes = new OpenAPIHono<AppEnv>()
  let page: string | undefined
  routes.openapi(documentRoute, (c) => c.json(document() as z.infer<typeof documentSchema>, 200))
  routes.openapi(pageRoute, (c) => {
    page ??= renderReference(document())
    return c.html(page, 200, { 'Content-Security-Policy': PAGE_POLICY })
  })
  return routes
}
