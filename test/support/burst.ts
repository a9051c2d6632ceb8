// Durability over real HTTP, for every server that keeps a file: a burst of
// heartbeats from concurrent clients, kill -9 right after the last answer, a
// restart on the same data, and every acknowledged heartbeat must be there.
import { expect } from 'vitest'
import { type RunningServer, tempDataDir } from './server.ts'

export function client(url: string) {
  return {
    beat: async (body: unknown) => {
      const res = await fetch(`${url}/v1/heartbeat`, {
        method: 'POST',
        headers: { 'Content-Type': 'application/json' },
        body: JSON.stringify(body),
      })
      return { status: res.status, body: (await res.json()) as any }
    },
    get: async (path: string) => {
      const res = await fetch(`${url}${path}`)
      const text = await res.text()
      return { status: res.status, text, json: () => JSON.parse(text) }
    },
  }
}

/**
 * The settings a burst needs: each client beats its agent far faster than the
 * default rate limit allows, and this is about durability, not the limit.
 */
const BURST_ENV = { RATE_LIMIT_PER_SECOND: '0' }

/** `start` starts the server under test on a data dir with extra env (and stops it with the test). */
export async function expectBurstSurvivesKill(
  start: (dataDir: string, env: Record<string, string>) => Promise<RunningServer>,
): Promise<void> {
  const dataDir = tempDataDir()
  const server = await start(dataDir, BURST_ENV)
  const { beat } = client(server.url)
  const clients = 16
  const beatsEach = 40
  const lastAcked = new Map<string, number>()
  await Promise.all(
    Array.from({ length: clients }, async (_, c) => {
      for (let seq = 1; seq <= beatsEach; seq++) {
        const agent = `burst-${c}`
        const { status } = await beat({ agent, status: 'ok', message: `seq ${seq}`, labels: { seq: String(seq) } })
        if (status === 200) lastAcked.set(agent, seq)
      }
    }),
  )
  await server.kill()
  expect(lastAcked.size).toBe(clients)

  const { get } = client((await start(dataDir, BURST_ENV)).url)
  const agents = (await get('/v1/agents')).json().agents as any[]
  expect(agents).toHaveLength(clients)
  for (const agent of agents) {
    const stored = Number(agent.components[0].labels.seq)
    expect(stored).toBe(lastAcked.get(agent.agent))
    expect(agent.components[0].message).toBe(`seq ${stored}`)
  }
  expect((await get('/metrics')).text).toContain(`heartbeat_connections_received_total ${clients * beatsEach}`)
}
