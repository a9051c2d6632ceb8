// Prometheus scrapes the real Node server (functions/node.ts).
import { startServer } from '../support/server.ts'
import { prometheusScrapes } from './scrape.ts'
import { METRICS_TOKEN } from './support.ts'

prometheusScrapes('the Node server', {
  start: () => startServer({ METRICS_TOKEN, RECOVERY_SECONDS: '0' }),
})
