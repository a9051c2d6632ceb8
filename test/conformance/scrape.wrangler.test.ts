// Prometheus scrapes `wrangler dev` (workerd, Durable Object, probes read from the object).
import { startWranglerDev } from '../support/wrangler.ts'
import { prometheusScrapes } from './scrape.ts'
import { METRICS_TOKEN } from './support.ts'

prometheusScrapes('wrangler dev (workerd, Durable Object)', {
  start: () => startWranglerDev({ RECOVERY_SECONDS: '0', PROBE_SOURCE: 'do', METRICS_TOKEN }),
})
