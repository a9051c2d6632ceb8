import { defineConfig } from 'vitest/config'

export default defineConfig({
  test: {
    include: ['test/**/*.test.ts'],
    // End-to-end tests start real processes; two cores are shared by them all.
    testTimeout: 30_000,
    hookTimeout: 30_000,
  },
})
