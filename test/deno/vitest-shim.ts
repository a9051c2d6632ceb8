// What test/stores.suite.ts takes from 'vitest', on Deno's own test runner: deno.json
// maps 'vitest' here for modules under test/ only. describe() only names its tests
// (joined with ' > ', as vitest prints them); it() registers one Deno.test; expect is
// Jest's, whose API vitest's follows. Only what the suite uses: add here, never there.
export { expect } from 'npm:expect@^30.5.2'

const names: string[] = []

export function describe(name: string, body: () => void): void {
  names.push(name)
  try {
    body()
  } finally {
    names.pop()
  }
}

export function it(name: string, fn: () => void | Promise<void>): void {
  // A suite's stores are opened per test and closed by the driver's test file after
  // them all, so Deno's per-test check for leaked resources would flag every test.
  Deno.test({ name: [...names, name].join(' > '), fn, sanitizeResources: false, sanitizeOps: false })
}
