// The shared HTTP story against the real Node server process.
import { afterAll, beforeAll } from 'vitest'
import { httpScenario } from './scenario.ts'
import { SCENARIO_ENV } from './support/scenario-env.ts'
import { type RunningServer, startServer } from './support/server.ts'

let server: RunningServer
beforeAll(async () => {
  server = await startServer(SCENARIO_ENV)
})
afterAll(async () => {
  await server?.stop()
})

httpScenario('node (functions/node.ts, SQLite)', { url: () => server.url, runtime: 'node', processMetrics: true })
