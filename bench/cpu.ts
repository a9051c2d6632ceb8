// CPU time per request, route by route, on workerd (`wrangler dev`, both
// PROBE_SOURCE modes) and on Node, at each fleet size. Inside workerd a clock
// does not move while JavaScript runs, so the time is read from outside: the
// CPU (user + system) the server's processes used over a run of sequential
// requests, divided by the requests. Under `wrangler dev` that is both workerd
// processes (the Worker's and wrangler's local proxy), so /livez, which does
// nothing, is measured too: the difference is what a route costs the Worker.
import { readdirSync, readFileSync } from 'node:fs'
import { agentId, send } from './load.ts'
import { type Kind, type Running, populate } from './systems.ts'

export interface CpuRow {
  fleet: number
  kind: Kind
  route: string
  /** CPU ms per request, all the server's processes. */
  ms: number
  /** The same less /livez's, measured in the same run: what the route itself costs. */
  aboveLivezMs: number
  requests: number
}

/** user + system CPU of a process, in ms (from /proc, in clock ticks of 10 ms). */
function cpuMs(pid: number): number {
  const fields = readFileSync(`/proc/${pid}/stat`, 'utf8').split(') ')[1]!.split(' ')
  return (Number(fields[11]) + Number(fields[12])) * 10
}

/** The server's processes: the pid itself, and for `wrangler dev` (a process group) every workerd in it. */
function processesOf(system: Running): number[] {
  if (system.kind !== 'workers-do' && system.kind !== 'workers-cache') return [system.pid]
  const pids: number[] = []
  for (const entry of readdirSync('/proc')) {
    if (!/^\d+$/.test(entry)) continue
    try {
      const stat = readFileSync(`/proc/${entry}/stat`, 'utf8').trim()
      const [, name = '', rest = ''] = /^\d+ \((.*)\) (.*)$/.exec(stat) ?? []
      if (name === 'workerd' && Number(rest.split(' ')[2]) === system.pid) pids.push(Number(entry))
    } catch {
      // gone meanwhile
    }
  }
  return pids
}

interface Route {
  route: string
  /** Request i of the run. */
  request: (i: number) => { path: string; method?: string; body?: string }
  /** Requests in a run: many for the cheap routes, few for those that read the fleet. */
  count: number
}

function routes(fleet: number): Route[] {
  const agent = (i: number) => agentId((i % fleet) + 1)
  const fleetReads = fleet >= 10_000 ? 20 : 60
  return [
    { route: '/livez', request: () => ({ path: '/livez' }), count: 300 },
    {
      route: 'POST /v1/heartbeat',
      request: (i) => ({ path: '/v1/heartbeat', method: 'POST', body: JSON.stringify({ agent: agent(i), status: 'ok' }) }),
      count: 300,
    },
    { route: '/readyz', request: () => ({ path: '/readyz' }), count: 300 },
    { route: '/readyz/<agent>', request: (i) => ({ path: `/readyz/${agent(i)}` }), count: 300 },
    { route: '/v1/agents/<agent>', request: (i) => ({ path: `/v1/agents/${agent(i)}` }), count: 300 },
    { route: '/readyz?verbose', request: () => ({ path: '/readyz?verbose' }), count: fleetReads },
    { route: '/v1/agents', request: () => ({ path: '/v1/agents' }), count: fleetReads },
    { route: '/metrics', request: () => ({ path: '/metrics' }), count: fleetReads },
  ]
}

/** Measure every route on a system already populated with `fleet` agents. */
export async function cpuPerRoute(system: Running, fleet: number): Promise<CpuRow[]> {
  const pids = processesOf(system)
  if (pids.length === 0) throw new Error(`no processes found for ${system.kind}`)
  const total = () => pids.reduce((sum, pid) => sum + cpuMs(pid), 0)
  const rows: CpuRow[] = []
  let livez = 0
  const ask = async (route: string, { path, method = 'GET', body }: ReturnType<Route['request']>) => {
    const headers: Record<string, string> = body ? { 'Content-Type': 'application/json' } : {}
    const answer = await send(`${system.url}${path}`, { method, headers, ...(body ? { body } : {}) })
    if (answer.status >= 500) throw new Error(`${route} answered ${answer.status}`)
  }
  // A few of each first: the first requests of a route compile its code.
  for (const { route, request } of routes(fleet)) for (let i = 0; i < 5; i++) await ask(route, request(i))
  for (const { route, request, count } of routes(fleet)) {
    const before = total()
    for (let i = 0; i < count; i++) await ask(route, request(i))
    const ms = (total() - before) / count
    if (route === '/livez') livez = ms
    rows.push({ fleet, kind: system.kind, route, ms, aboveLivezMs: Math.max(0, ms - livez), requests: count })
  }
  return rows
}

export { populate }
