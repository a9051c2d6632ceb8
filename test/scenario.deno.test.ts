// The real Deno server process (deno run functions/deno.ts, Deno KV): the shared
// HTTP story, kill -9 after a burst, and a refused start. Run with the permissions
// of `deno task start`, narrowed to each test's own data dir.
import { join } from 'node:path'
import { afterAll, afterEach, beforeAll, describe, expect, it } from 'vitest'
import { httpScenario } from './scenario.ts'
import { SCENARIO_ENV } from './support/scenario-env.ts'
import { expectBurstSurvivesKill } from './support/burst.ts'
import { ROOT, type RunningServer, runToExit, startServer, tempDataDir } from './support/server.ts'

const deno = (dataDir: string) => ({
  command: [
    join(ROOT, 'node_modules/.bin/deno'), 'run', '--no-prompt', '--allow-net', '--allow-env',
    `--allow-read=${dataDir}`, `--allow-write=${dataDir}`, 'functions/deno.ts',
  ],
})
/** Deno caches nothing outside the repository. */
const DENO_ENV = { DENO_DIR: join(ROOT, '.deno') }

const start = (env: Record<string, string>, dataDir = tempDataDir()) => startServer({ ...DENO_ENV, ...env }, dataDir, deno(dataDir))

let server: RunningServer
beforeAll(async () => {
  server = await start(SCENARIO_ENV)
})
afterAll(async () => {
  await server?.stop()
})

httpScenario('deno (functions/deno.ts, Deno KV)', { url: () => server.url, runtime: 'deno', processMetrics: true })

describe('the Deno server', () => {
  const running: RunningServer[] = []
  const track = async (started: Promise<RunningServer>) => {
    running.push(await started)
    return running.at(-1)!
  }
  afterEach(async () => {
    for (const started of running.splice(0)) if (started.child.exitCode === null) await started.kill()
  })

  it('loses no acknowledged heartbeat on kill -9 right after a burst', async () => {
    await expectBurstSurvivesKill((dataDir, env) => track(start(env, dataDir)))
  })

  it('stops cleanly on SIGTERM, and refuses a bad setting or an open listener without a token', async () => {
    const started = await track(start({}))
    expect(await started.stop()).toBe(0)
    expect(started.output()).toMatch(/SIGTERM, closing/)
    const dataDir = tempDataDir()
    const bad = await runToExit({ ...DENO_ENV, RECOVERY_SECONDS: 'soon', DATA_DIR: dataDir }, deno(dataDir))
    expect(bad).toMatchObject({ code: 1, output: expect.stringMatching(/^pulsegate: invalid setting RECOVERY_SECONDS/m) })
    const exposed = await runToExit({ ...DENO_ENV, HOST: '0.0.0.0', DATA_DIR: dataDir }, deno(dataDir))
    expect(exposed).toMatchObject({ code: 1, output: expect.stringMatching(/^pulsegate: HOST=0\.0\.0\.0 .*HEARTBEAT_TOKEN is unset/m) })
  })
})
