// One vitest run, four projects: the Node-side tests, and three inside workerd
// (through @cloudflare/vitest-plugin) with the settings each needs.
import { cloudflareTest } from '@cloudflare/vitest-plugin'
import { defineConfig } from 'vitest/config'
import { SCENARIO_ENV } from './test/support/scenario-env.ts'

const wrangler = { configPath: './wrangler.toml' }

export default defineConfig({
  test: {
    projects: [
      {
        test: {
          name: 'node',
          include: ['test/**/*.test.ts'],
          exclude: ['test/workers/**'],
          // End-to-end tests start real processes; two cores are shared by them all.
          testTimeout: 30_000,
          hookTimeout: 60_000,
        },
      },
      {
        // The shared store suite and the Worker's store against Fleet Durable Objects (test/workers/entry.ts
        // adds one the suite configures and one that counts its SQLite rows); and cron schedules, whose
        // time zones come from workerd's Intl.
        plugins: [
          cloudflareTest({
            wrangler,
            main: './test/workers/entry.ts',
            miniflare: {
              durableObjects: {
                FLEET: { className: 'Fleet', useSQLite: true },
                SUITE_FLEET: { className: 'SuiteFleet', useSQLite: true },
                METERED_FLEET: { className: 'MeteredFleet', useSQLite: true },
              },
            },
          }),
        ],
        // workerd's first request loads the Worker: slow on two shared cores.
        test: {
          name: 'workers-store',
          include: ['test/workers/store.test.ts', 'test/workers/copies.test.ts', 'test/workers/cost.test.ts', 'test/workers/schedule.test.ts'],
          testTimeout: 30_000,
        },
      },
      {
        // The shared HTTP story through the Worker: no recovery wait, strongly consistent reads.
        plugins: [cloudflareTest({ wrangler, miniflare: { bindings: { ...SCENARIO_ENV, PROBE_SOURCE: 'do' } } })],
        test: { name: 'workers-http', include: ['test/workers/scenario.test.ts'], testTimeout: 30_000 },
      },
      {
        // A traced request through the Worker and its Durable Object, with debug logs to show the trace id on each side.
        plugins: [cloudflareTest({ wrangler, miniflare: { bindings: { LOG_SEVERITY: 'debug', PROBE_SOURCE: 'do' } } })],
        test: { name: 'workers-trace', include: ['test/workers/tracing.test.ts'], testTimeout: 30_000 },
      },
    ],
  },
})
