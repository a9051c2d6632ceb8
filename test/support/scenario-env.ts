// The settings every server under the shared HTTP scenario (test/scenario.ts) runs with:
// no recovery wait, so recovery needs no sleep, and the ping URLs on, with this key.
export const SCENARIO_PING_KEY = 'scenario-ping-key-0123456789'
export const SCENARIO_ENV = { RECOVERY_SECONDS: '0', PING_KEY: SCENARIO_PING_KEY } as const
