// One vitest run, three projects: the Node-side tests, and two inside workerd
// (through @cloudflare/vitest-plugin) with the settings each needs.
import { cloudflareTest } from '@cloudflare/vitest-plugin'
import { defineConfig } from 'vitest/config'

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
        // The shared store suite against the Fleet Durable Object, with the vars of wrangler.toml;
        // and cron schedules, whose time zones come from workerd's Intl.
        plugins: [cloudflareTest({ wrangler })],
        test: {
          name: 'workers-store',
          include: ['test/workers/store.test.ts', 'test/workers/mirror.test.ts', 'test/workers/schedule.test.ts'],
        },
      },
      {
        // The shared HTTP story through the Worker: no recovery wait, strongly consistent reads.
        plugins: [cloudflareTest({ wrangler, miniflare: { bindings: { RECOVERY_SECONDS: '0', PROBE_SOURCE: 'do' } } })],
        test: { name: 'workers-http', include: ['test/workers/scenario.test.ts'] },
      },
    ],
  },
})
