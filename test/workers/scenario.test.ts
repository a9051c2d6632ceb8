// The shared HTTP story through the Worker inside workerd (vitest plugin).
import { exports } from 'cloudflare:workers'
import { httpScenario } from '../scenario.ts'

httpScenario('workers (workerd via the vitest plugin, Durable Object)', {
  url: () => 'http://pulsegate.test',
  fetch: (input, init) => exports.default.fetch(new Request(input, init)),
  runtime: 'workers',
  processMetrics: false,
})
