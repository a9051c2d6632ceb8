// `npm run cost -- --agents N --interval S --scrape S --probes-per-minute N`: what
// such a fleet costs a month on Cloudflare Workers (bench/cost-model.ts), line by
// line, and whether it fits in Workers Free.
import { parseArgs } from 'node:util'
import { ASSUMED, OPERATIONS, PRICES, bill, freeAgents } from './cost-model.ts'

const { values } = parseArgs({
  options: {
    agents: { type: 'string', default: '1000' },
    interval: { type: 'string', default: '60' },
    scrape: { type: 'string', default: '15' },
    'probes-per-minute': { type: 'string', default: '6' },
  },
})
const fleet = {
  agents: Number(values.agents),
  intervalSeconds: Number(values.interval),
  scrapeSeconds: Number(values.scrape),
  probesPerMinute: Number(values['probes-per-minute']),
}
for (const [name, value] of Object.entries(fleet)) {
  if (!Number.isFinite(value) || value < 0 || (name === 'intervalSeconds' && value === 0)) {
    console.error(`npm run cost: --${name} must be a number${name === 'intervalSeconds' ? ' above 0' : ' ≥ 0'}`)
    process.exit(2)
  }
}

const { usage, paid, free } = bill(fleet)
const count = (n: number) => Math.round(n).toLocaleString('en-US')
const dollars = (n: number) => `$${n.toFixed(2)}`
console.log(`${fleet.agents} agents beating every ${fleet.intervalSeconds} s, /metrics every ${fleet.scrapeSeconds || '—'} s, ${fleet.probesPerMinute} probes a minute`)
console.log(`prices: ${PRICES.pages.join(', ')} (read ${PRICES.read})\n`)
const rows: [string, string, string][] = [
  ['Worker requests', count(usage.workerRequests), dollars(paid.workerRequests!)],
  ['Worker CPU ms', count(usage.workerCpuMs), dollars(paid.workerCpu!)],
  ['Durable Object requests', count(usage.objectRequests), dollars(paid.objectRequests!)],
  ['Durable Object GB-s', count(usage.objectGbSeconds), dollars(paid.objectDuration!)],
  ['SQLite rows read', count(usage.rowsRead), dollars(paid.rowsRead!)],
  ['SQLite rows written', count(usage.rowsWritten), dollars(paid.rowsWritten!)],
  ['Workers Paid base', '', dollars(paid.base!)],
  ['total a month', '', dollars(paid.total)],
]
for (const [name, used, cost] of rows) console.log(`${name.padEnd(26)}${used.padStart(16)}${cost.padStart(12)}`)
console.log(`\nWorkers Free: ${free.fits ? 'fits' : `does not fit (${free.over.join('; ')})`}`)
console.log(`Workers Free holds at most ${freeAgents(fleet)} agents at these rates`)
console.log(`per heartbeat: ${JSON.stringify(OPERATIONS.heartbeat)}; assumed: ${JSON.stringify(ASSUMED)}`)
