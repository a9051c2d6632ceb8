// The real server process (functions/node.ts) over real HTTP: a restart, kill -9
// right after a burst of acknowledged heartbeats, and starts that must fail.
// (The shared HTTP story runs against it in scenario.node.test.ts.)
import { writeFileSync } from 'node:fs'
import { join } from 'node:path'
import { DatabaseSync } from 'node:sqlite'
import { afterEach, describe, expect, it } from 'vitest'
import { client, expectBurstSurvivesKill } from './support/burst.ts'
import { type RunningServer, runToExit, startServer, tempDataDir } from './support/server.ts'

const running: RunningServer[] = []
afterEach(async () => {
  for (const server of running.splice(0)) if (server.child.exitCode === null) await server.kill()
})

async function start(env: Record<string, string> = {}, dataDir?: string) {
  const server = await startServer(env, dataDir)
  running.push(server)
  return server
}

describe('the Node server', () => {
  it('sees a missed heartbeat from the deadline on, and keeps state across a restart', async () => {
    const dataDir = tempDataDir()
    const server = await start({}, dataDir)
    const { beat, get } = client(server.url)
    await beat([
      { agent: 'node-9', status: 'ok', interval_seconds: 0.2, grace_seconds: 0 },
      { agent: 'node-17', status: 'degraded', message: 'disk full', labels: { region: 'eu-west' } },
    ])
    await new Promise((resolve) => setTimeout(resolve, 300))
    expect((await get('/readyz?verbose')).text).toBe(
      '[-]node-17 degraded: disk full\n[-]node-9 degraded: missed heartbeat\nreadyz check failed\n',
    )
    expect(await server.stop()).toBe(0)
    expect(server.output()).toMatch(/SIGTERM, closing/)

    const again = client((await start({}, dataDir)).url)
    const agents = (await again.get('/v1/agents')).json()
    expect(agents.agents.map((a: any) => [a.agent, a.state, a.reason])).toEqual([
      ['node-17', 'degraded', 'disk full'],
      ['node-9', 'degraded', 'missed heartbeat'],
    ])
    expect(agents.agents[0].components[0].labels).toEqual({ region: 'eu-west' })
    expect((await again.get('/metrics')).text).toContain('heartbeat_connections_received_total 2')
    // The late heartbeat is counted as a miss and starts recovery.
    expect((await again.beat({ agent: 'node-9', status: 'ok' })).body.results[0].state).toBe('recovering')
    expect((await again.get('/metrics')).text).toContain('heartbeat_missed_total 1')
  })

  it('loses no acknowledged heartbeat on kill -9 right after a burst', async () => {
    await expectBurstSurvivesKill((dataDir, env) => start(env, dataDir))
  })

  it('refuses to start on a bad setting, naming it', async () => {
    const { code, output } = await runToExit({ RECOVERY_SECONDS: 'soon', DATA_DIR: tempDataDir() })
    expect(code).toBe(1)
    expect(output).toMatch(/invalid setting RECOVERY_SECONDS/)
  })

  it('refuses a foreign or corrupt database file instead of resetting it', async () => {
    const foreign = tempDataDir()
    const db = new DatabaseSync(join(foreign, 'pulsegate.sqlite'))
    db.exec('CREATE TABLE invoices (id INTEGER PRIMARY KEY)')
    db.close()
    const first = await runToExit({ DATA_DIR: foreign })
    expect(first.code).toBe(1)
    expect(first.output).toMatch(/is not a pulsegate database/)

    const corrupt = tempDataDir()
    writeFileSync(join(corrupt, 'pulsegate.sqlite'), 'this is not a database, just some text'.repeat(200))
    const second = await runToExit({ DATA_DIR: corrupt })
    expect(second.code).toBe(1)
    expect(second.output).toMatch(/is not a readable SQLite database/)
  })
})
