// Request durations and counts, where the runtime keeps a process (Node, Bun,
// Deno): `pulsegate_http_request_duration_seconds` and `pulsegate_http_requests_total`,
// named and bucketed as @hono/prometheus does. Every label has a fixed set of
// values — a method pulsegate does not know counts as `other`, a path no route
// matches as the not-found route — so no request can add series. And it is cheap:
// each label combination's children are looked up once, not hashed per request.
import type { MiddlewareHandler } from 'hono'
import { Counter, Histogram, type Registry } from 'prom-client'

const KNOWN_METHODS: ReadonlySet<string> = new Set(['GET', 'HEAD', 'POST', 'PUT', 'PATCH', 'DELETE', 'OPTIONS'])
const BUCKETS = [0.005, 0.01, 0.025, 0.05, 0.075, 0.1, 0.25, 0.5, 0.75, 1, 2.5, 5, 7.5, 10]
const LABELS = ['method', 'status', 'ok', 'route'] as const

export function requestMetrics(registry: Registry): MiddlewareHandler {
  const duration = new Histogram({
    name: 'pulsegate_http_request_duration_seconds',
    help: 'Duration of HTTP requests in seconds',
    labelNames: LABELS,
    buckets: BUCKETS,
    registers: [registry],
  })
  const total = new Counter({
    name: 'pulsegate_http_requests_total',
    help: 'Total number of HTTP requests',
    labelNames: LABELS,
    registers: [registry],
  })
  const children = new Map<string, { duration: { observe(v: number): void }; total: { inc(): void } }>()
  return async (c, next) => {
    const start = performance.now()
    try {
      await next()
    } finally {
      const method = KNOWN_METHODS.has(c.req.method) ? c.req.method : 'other'
      const status = c.res.status
      const route = c.req.routePath
      const key = `${method} ${status} ${route}`
      let child = children.get(key)
      if (!child) {
        const labels = [method, String(status), String(status >= 200 && status < 300), route]
        child = { duration: duration.labels(...labels), total: total.labels(...labels) }
        children.set(key, child)
      }
      child.duration.observe((performance.now() - start) / 1000)
      child.total.inc()
    }
  }
}
