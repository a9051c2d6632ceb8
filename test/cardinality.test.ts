// A cardinality attack on the real server: a client with the token invents new
// agent ids, components and versions as fast as it can. It stops at the caps,
// the agents already there keep working, and /metrics stays bounded.
import { afterAll, beforeAll, describe, expect, it } from 'vitest'
import { client } from './support/burst.ts'
import { type RunningServer, startServer } from './support/server.ts'

const CAP = 200
let server: RunningServer
beforeAll(async () => {
  server = await startServer({ MAX_AGENTS: String(CAP), MAX_COMPONENTS_PER_AGENT: '4', MAX_VERSIONS: '5' })
})
afterAll(async () => {
  await server?.stop()
})

const seriesOf = (text: string) => text.split('\n').filter((line) => line.startsWith('process_state{')).length
/** The fleet's series (name and labels, no value), leaving out the process's own runtime metrics. */
const fleetSeries = (text: string) =>
  new Set(text.split('\n').filter((l) => l && !l.startsWith('#') && !/^(nodejs_|process_|pulsegate_http_)/.test(l)).map((l) => l.slice(0, l.lastIndexOf(' '))))

describe('a cardinality attack', () => {
  it('stops at the caps while known agents keep working and /metrics stays bounded', async () => {
    const { beat, get } = client(server.url)
    const known = Array.from({ length: 10 }, (_, i) => ({ agent: `known-${i}`, status: 'ok', version: '1.0' }))
    expect((await beat(known)).status).toBe(200)

    // Invent agents in batches, as fast as the server answers.
    const invent = async (wave: number) => {
      const codes = new Map<number, number>()
      for (let round = 0; round < 40; round++) {
        const batch = Array.from({ length: 25 }, (_, i) => ({ agent: `invented-${wave}-${round}-${i}`, status: 'ok' }))
        const answers = await Promise.all(batch.map((b) => beat(b)))
        for (const { status } of answers) codes.set(status, (codes.get(status) ?? 0) + 1)
      }
      return codes
    }
    const first = await invent(1)
    expect(first.get(200)).toBe(CAP - known.length)
    expect(first.get(422)).toBe(1000 - (CAP - known.length))
    const atCap = (await get('/metrics')).text
    const second = await invent(2)
    expect(second.get(422)).toBe(1000)
    const afterSecondWave = (await get('/metrics')).text
    // A thousand more inventions add nothing but digits to the counters.
    expect(seriesOf(afterSecondWave)).toBe(CAP)
    expect(fleetSeries(afterSecondWave)).toEqual(fleetSeries(atCap))

    // More inventions: components, versions, agents; all refused.
    expect((await beat({ agent: 'invented-x', status: 'ok' })).body.error.code).toBe('too_many_agents')
    for (let i = 0; i < 4; i++) await beat({ agent: 'known-0', component: `c${i}`, status: 'ok' })
    expect((await beat({ agent: 'known-0', component: 'c9', status: 'ok' })).body.error.code).toBe('too_many_components')
    for (let v = 2; v <= 5; v++) await beat({ agent: `known-${v}`, status: 'ok', version: `${v}.0` })
    expect((await beat({ agent: 'known-6', status: 'ok', version: '9.9' })).body.error.code).toBe('too_many_versions')

    // Known agents carry on.
    expect((await beat({ agent: 'known-7', status: 'degraded' })).status).toBe(200)
    expect((await get('/readyz/known-7')).status).toBe(503)

    const after = (await get('/metrics')).text
    expect(seriesOf(atCap)).toBe(CAP)
    expect(seriesOf(after)).toBe(CAP + 3) // known-0's three components beyond main, and no more
    expect(after).toMatch(/pulsegate_heartbeats_rejected_total\{reason="too_many_agents"\} 1811/)
  })
})
