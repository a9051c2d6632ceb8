// The real Bun server process (bun functions/bun.ts, bun:sqlite): the shared HTTP
// story, kill -9 after a burst, the same file as Node's, and refused starts.
import { writeFileSync } from 'node:fs'
import { join } from 'node:path'
import { DatabaseSync } from 'node:sqlite'
import { afterAll, afterEach, beforeAll, describe, expect, it } from 'vitest'
import { httpScenario } from './scenario.ts'
import { SCENARIO_ENV } from './support/scenario-env.ts'
import { client, expectBurstSurvivesKill } from './support/burst.ts'
import { ROOT, type RunningServer, runToExit, startServer, tempDataDir } from './support/server.ts'

const bun = { command: [join(ROOT, 'node_modules/.bin/bun'), 'functions/bun.ts'] }

let server: RunningServer
beforeAll(async () => {
  server = await startServer(SCENARIO_ENV, undefined, bun)
})
afterAll(async () => {
  await server?.stop()
})

httpScenario('bun (functions/bun.ts, bun:sqlite)', { url: () => server.url, runtime: 'bun', processMetrics: true })

describe('the Bun server', () => {
  const running: RunningServer[] = []
  afterEach(async () => {
    for (const started of running.splice(0)) if (started.child.exitCode === null) await started.kill()
  })
  const start = async (dataDir: string, options: { command?: string[] } = bun, env: Record<string, string> = {}) => {
    const started = await startServer(env, dataDir, options)
    running.push(started)
    return started
  }

  it('loses no acknowledged heartbeat on kill -9 right after a burst', async () => {
    await expectBurstSurvivesKill((dataDir, env) => start(dataDir, bun, env))
  })

  it('serves the file the Node server wrote, and stops cleanly on SIGTERM', async () => {
    const dataDir = tempDataDir()
    const node = await start(dataDir, {})
    await client(node.url).beat({ agent: 'moved', status: 'degraded', message: 'from node', labels: { region: 'eu' } })
    expect(await node.stop()).toBe(0)
    const onBun = await start(dataDir)
    const [agent] = (await client(onBun.url).get('/v1/agents')).json().agents
    expect(agent).toMatchObject({ agent: 'moved', state: 'degraded', reason: 'from node' })
    expect(agent.components[0].labels).toEqual({ region: 'eu' })
    expect(await onBun.stop()).toBe(0)
    expect(onBun.output()).toMatch(/SIGTERM, closing/)
  })

  it('refuses a bad setting, an open listener without a token and a foreign database', async () => {
    const bad = await runToExit({ RECOVERY_SECONDS: 'soon', DATA_DIR: tempDataDir() }, bun)
    expect(bad).toMatchObject({ code: 1, output: expect.stringMatching(/^pulsegate: invalid setting RECOVERY_SECONDS/m) })
    const exposed = await runToExit({ HOST: '0.0.0.0', DATA_DIR: tempDataDir() }, bun)
    expect(exposed).toMatchObject({ code: 1, output: expect.stringMatching(/^pulsegate: HOST=0\.0\.0\.0 .*HEARTBEAT_TOKEN is unset/m) })

    const foreign = tempDataDir()
    const db = new DatabaseSync(join(foreign, 'pulsegate.sqlite'))
    db.exec('CREATE TABLE invoices (id INTEGER PRIMARY KEY)')
    db.close()
    expect(await runToExit({ DATA_DIR: foreign }, bun)).toMatchObject({ code: 1, output: expect.stringMatching(/is not a pulsegate database/) })

    const corrupt = tempDataDir()
    writeFileSync(join(corrupt, 'pulsegate.sqlite'), 'this is not a database, just some text'.repeat(200))
    expect(await runToExit({ DATA_DIR: corrupt }, bun)).toMatchObject({ code: 1, output: expect.stringMatching(/is not a readable SQLite database/) })
  })
})
