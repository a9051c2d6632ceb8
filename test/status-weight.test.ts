// The weight of /status at 1,000 agents, through the whole app over the store
// engine: bytes raw and gzipped, and the time to render (printed, never asserted:
// the machine is shared). The budget is per row. The agents have a month of
// history, so their bars are what a lived-in fleet draws, not one stretch each.
import { gzipSync } from 'node:zlib'
import { expect, it } from 'vitest'
import type { Heartbeat } from '../lib/heartbeat.ts'
import { DAY, HOUR, StatusFleet } from './support/status-fleet.ts'

const AGENTS = 1000
const DAYS = 30
/** What a row may cost, raw, with its bars and their text alternative. */
const ROW_BUDGET_BYTES = 800

const agentId = (j: number) => `host-${String(j).padStart(4, '0')}.eu-west-1`

it('renders the fleet page for 1,000 agents within budget, with no per-row script', async () => {
  const end = Date.UTC(2026, 10, 22, 18, 4)
  const fleet = new StatusFleet(end - DAYS * DAY)
  // A report a day from each agent (born over the month), and a bad hour for one in 7 of them every few days.
  for (let day = 0; day < DAYS; day++) {
    await fleet.advanceTo(end - (DAYS - day) * DAY)
    const alive = Array.from({ length: AGENTS }, (_, j) => j).filter((j) => j % 30 <= day)
    await fleet.beat(...alive.map((j): Heartbeat => ({ agent: agentId(j), status: 'ok', interval_seconds: 86_400 })))
    const unlucky = alive.filter((j) => (j + day) % 7 === 0 && day % 3 === 0)
    if (unlucky.length === 0) continue
    await fleet.advance(HOUR)
    await fleet.beat(...unlucky.map((j): Heartbeat => ({ agent: agentId(j), status: 'degraded', message: 'disk 91% full' })))
    await fleet.advance(HOUR)
    await fleet.beat(...unlucky.map((j): Heartbeat => ({ agent: agentId(j), status: 'ok' })))
  }
  // Today: most report ok, some are degraded or starting now.
  await fleet.advanceTo(end - HOUR)
  await fleet.beat(
    ...Array.from({ length: AGENTS }, (_, j): Heartbeat => {
      const status = j % 50 === 0 ? 'degraded' : j % 97 === 0 ? 'starting' : 'ok'
      return { agent: agentId(j), status, message: status === 'ok' ? undefined : 'disk 91% full', interval_seconds: 3600 }
    }),
  )
  await fleet.advanceTo(end)

  const app = fleet.appWith({})
  const times: number[] = []
  let body = ''
  for (let run = 0; run < 5; run++) {
    const started = performance.now()
    body = await (await app.request('/status')).text()
    times.push(performance.now() - started)
  }
  const raw = Buffer.byteLength(body)
  const gzip = gzipSync(body).byteLength
  const median = times.sort((a, b) => a - b)[2]!
  console.log(`/status at ${AGENTS} agents: ${raw} bytes raw, ${gzip} bytes gzip, render ${median.toFixed(1)} ms (median of 5)`)

  expect(body.match(/<tr class="s-/g)).toHaveLength(AGENTS)
  expect(body.match(/<tr class="s-degraded"/g)).toHaveLength(AGENTS / 50)
  expect(body.match(/<script/g)).toHaveLength(1)
  expect(body).not.toMatch(/ on[a-z]+=/) // no inline handlers either
  expect(body).not.toContain('disk 91% full') // a public page
  expect(raw).toBeLessThan(AGENTS * ROW_BUDGET_BYTES)
  expect(gzip).toBeLessThan(raw / 5)
}, 60_000)
