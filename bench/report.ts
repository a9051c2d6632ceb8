// The report: BENCHMARKS.md (tables with absolute numbers and ratios, targets,
// how to read it) and bench/chart.svg, drawn here with no dependency.
import type { CpuRow } from './cpu.ts'
import type { ScrapeSeries, WrkResult } from './load.ts'
import { type Kind, KINDS, LABEL, WORKERS_LABEL, isWorkers } from './systems.ts'

export interface WrkRow {
  fleet: number
  kind: Kind
  /** What was asked for: `ingest`, `/readyz`, `/readyz/<agent>`, `GET /`. */
  target: string
  runs: WrkResult[]
}

export interface ScrapeRow {
  fleet: number
  kind: Kind
  plain: ScrapeSeries[]
  gzip: ScrapeSeries[]
}

export interface MemoryRow {
  fleet: number
  kind: Kind
  idleKiB: number
  populatedKiB: number
  loadedKiB: number
  /** How long populating the fleet took (all systems were populated at once). */
  populateSeconds: number
  /** pulsegate only: pulsegate.sqlite + -wal after populating. */
  sqliteBytes?: number
}

export interface Results {
  mode: 'full' | 'quick' | 'smoke'
  date: string
  seconds: number
  machine: { nproc: number; model: string; memory: string; loadavg: string }
  versions: [string, string][]
  method: { fleets: number[]; probeFleet: number; seconds: number; runs: number; connections: number; threads: number; scrapeGets: number }
  ingest: WrkRow[]
  probes: WrkRow[]
  cpu: CpuRow[]
  scrapes: ScrapeRow[]
  memory: MemoryRow[]
  workers: {
    /** The fleet size pulsegate on Workers is measured at; undefined when this mode leaves it out. */
    fleet?: number
    bundle?: { rawBytes: number; gzipBytes: number; limitBytes: number }
    /** From spawning `wrangler dev` to its first answer to /livez. */
    startupMs: Partial<Record<Kind, number>>
    populateSeconds: Partial<Record<Kind, number>>
  }
  /** What was left out, and why. */
  skipped: string[]
}

/** What test/bundle.test.ts lets the Worker bundle weigh, raw. */
export const WORKER_BUNDLE_LIMIT = 1024 * 1024

// ---------------------------------------------------------------------------
// Numbers

const RUN_NAMES = ['A', 'B', 'C', 'D']

const mean = (values: number[]) => values.reduce((a, b) => a + b, 0) / values.length

export function fleetName(n: number): string {
  return n >= 1000 && n % 1000 === 0 ? `${n / 1000}k` : String(n)
}

function grouped(n: number): string {
  return Math.round(n).toLocaleString('en-US')
}

function rate(n: number): string {
  return n >= 100 ? grouped(n) : n.toFixed(1)
}

export function ms(n: number): string {
  if (n >= 100) return `${grouped(n)} ms`
  return `${n >= 10 ? n.toFixed(1) : n.toFixed(2)} ms`
}

function bytes(n: number): string {
  if (n >= 1024 * 1024) return `${(n / 1024 / 1024).toFixed(2)} MiB`
  if (n >= 1024) return `${(n / 1024).toFixed(1)} KiB`
  return `${Math.round(n)} B`
}

// A ratio of a negative figure (RSS that fell while populating, when a GC freed start-up
// memory) says nothing: shown as —, like a missing one.
const times = (ratio: number | undefined) =>
  ratio === undefined || !Number.isFinite(ratio) || ratio < 0 ? '—' : `${ratio.toFixed(ratio < 0.1 ? 3 : 2)}×`
const ratioOf = (a: number | undefined, b: number | undefined) => (a === undefined || b === undefined ? undefined : a / b)

const rpsOf = (row: WrkRow | undefined) => (row ? mean(row.runs.map((r) => r.rps)) : undefined)
const scrapeMsOf = (row: ScrapeRow | undefined) => (row ? mean(row.plain.map((s) => s.medianMs)) : undefined)
const perAgentOf = (row: MemoryRow | undefined) => (row ? ((row.populatedKiB - row.idleKiB) * 1024) / row.fleet : undefined)

function find<T extends { fleet: number; kind: Kind }>(rows: T[], fleet: number, kind: Kind, extra?: (row: T) => boolean): T | undefined {
  return rows.find((r) => r.fleet === fleet && r.kind === kind && (!extra || extra(r)))
}

// ---------------------------------------------------------------------------
// Markdown

/** A markdown table; a short row is padded with empty cells. */
function table(head: string[], rows: string[][]): string {
  const padded = rows.map((row) => [...row, ...Array<string>(Math.max(0, head.length - row.length)).fill('')])
  return [head, head.map(() => '---'), ...padded].map((cells) => `| ${cells.join(' | ')} |`).join('\n')
}

/** A table's stand-in for pulsegate on Workers when this run has no Workers row in it. */
function workersAbsent(r: Results, rows: { kind: Kind }[], ...cells: string[]): string[][] {
  if (rows.some((row) => isWorkers(row.kind))) return []
  const why = r.workers.fleet === undefined ? `not in ${r.mode} mode: measured in quick and full modes only` : 'not measured in this run: see the notes'
  return [['—', WORKERS_LABEL, ...cells, why]]
}

/** A Workers row's figure ÷ pulsegate on Node's at the same fleet size (and request); empty on other rows. */
function perNode<T extends { fleet: number; kind: Kind }>(row: T, rows: T[], figure: (row: T | undefined) => number | undefined, same?: (r: T) => boolean): string {
  return isWorkers(row.kind) ? times(ratioOf(figure(row), figure(find(rows, row.fleet, 'pulsegate', same)))) : ''
}

/** Run cells of one wrk row: req/s and p99 per run, a warning sign on runs with errors. */
function wrkCells(row: WrkRow, runs: number): string[] {
  const cells: string[] = []
  for (let i = 0; i < runs; i++) {
    const run = row.runs[i]
    const flag = run && (run.non2xx > 0 || run.socketErrors > 0) ? ' ⚠' : ''
    cells.push(run ? `${rate(run.rps)}${flag}` : '—', run ? ms(run.p99Ms) : '—')
  }
  return cells
}

function runHeads(runs: number, ...what: string[]): string[] {
  return RUN_NAMES.slice(0, runs).flatMap((name) => what.map((w) => `run ${name} ${w}`))
}

function ingestTable(r: Results): string {
  const { runs } = r.method
  const rows = r.ingest.map((row) => {
    const self = row.kind === 'pulsegate' || row.kind === 'pulsegate-deployed'
    const rps = rpsOf(row)
    const over = (kind: Kind) => (self ? times(ratioOf(rps, rpsOf(find(r.ingest, row.fleet, kind)))) : '')
    return [
      fleetName(row.fleet), LABEL[row.kind], ...wrkCells(row, runs),
      over('pushgateway'), over('pushgateway-nocheck'), over('raw'),
      perNode(row, r.ingest, rpsOf),
    ]
  })
  rows.push(...workersAbsent(r, r.ingest))
  return table(
    ['fleet', 'system', ...runHeads(runs, 'req/s', 'p99'), 'req/s ÷ Pushgateway', 'req/s ÷ Pushgateway, no check', 'req/s ÷ raw limit', 'req/s ÷ pulsegate on Node'],
    rows,
  )
}

function probeTable(r: Results): string {
  const { runs } = r.method
  const rows = r.probes.map((row) => [
    fleetName(row.fleet), LABEL[row.kind], `\`${row.target}\``, ...wrkCells(row, runs),
    row.kind === 'raw' || isWorkers(row.kind) ? '' : times(ratioOf(rpsOf(row), rpsOf(find(r.probes, row.fleet, 'raw')))),
    perNode(row, r.probes, rpsOf, (p) => p.target === row.target),
  ])
  rows.push(...workersAbsent(r, r.probes, '`/readyz`'))
  return table(['fleet', 'system', 'request', ...runHeads(runs, 'req/s', 'p99'), 'req/s ÷ raw limit', 'req/s ÷ pulsegate on Node'], rows)
}

function scrapeTable(r: Results): string {
  const { runs } = r.method
  const rows = r.scrapes.map((row) => {
    const cells = [fleetName(row.fleet), LABEL[row.kind]]
    for (let i = 0; i < runs; i++) {
      cells.push(row.plain[i] ? ms(row.plain[i]!.medianMs) : '—', row.gzip[i] ? ms(row.gzip[i]!.medianMs) : '—')
    }
    const plain = row.plain[0]
    const gzip = row.gzip[0]
    cells.push(plain ? bytes(plain.bytes) : '—', gzip ? `${bytes(gzip.bytes)}${gzip.computed ? ' †' : ''}` : '—')
    const self = row.kind === 'pulsegate'
    cells.push(self ? times(ratioOf(scrapeMsOf(row), scrapeMsOf(find(r.scrapes, row.fleet, 'pushgateway')))) : '')
    cells.push(perNode(row, r.scrapes, scrapeMsOf))
    return cells
  })
  rows.push(...workersAbsent(r, r.scrapes))
  return table(['fleet', 'system', ...runHeads(runs, 'plain', 'gzip'), 'bytes plain', 'bytes gzip', 'plain time ÷ Pushgateway', 'plain time ÷ pulsegate on Node'], rows)
}

function memoryTable(r: Results): string {
  const rows = r.memory.map((row) => {
    const self = row.kind === 'pulsegate'
    const perAgent = perAgentOf(row)
    return [
      fleetName(row.fleet), LABEL[row.kind], `${row.populateSeconds.toFixed(1)} s`,
      bytes(row.idleKiB * 1024), bytes(row.populatedKiB * 1024), bytes(row.loadedKiB * 1024),
      bytes(perAgent!),
      row.sqliteBytes === undefined ? '' : `${bytes(row.sqliteBytes / row.fleet)} (${bytes(row.sqliteBytes)})`,
      self ? times(ratioOf(perAgent, perAgentOf(find(r.memory, row.fleet, 'pushgateway')))) : '',
      self ? times(ratioOf(perAgent, perAgentOf(find(r.memory, row.fleet, 'raw')))) : '',
    ]
  })
  return table(
    ['fleet', 'system', 'populated in', 'RSS idle', 'RSS populated', 'RSS after the load', 'RSS above idle per agent', 'SQLite per agent (total)', 'per agent ÷ Pushgateway', 'per agent ÷ raw limit'],
    rows,
  )
}

/** Each Workers system's figure, `PROBE_SOURCE=do: … · cache: …`. */
function perSource(figures: Partial<Record<Kind, number>>, show: (v: number) => string): string {
  const shown = KINDS.filter((k) => figures[k] !== undefined).map((k) => `${LABEL[k].replace(/.*(PROBE_SOURCE=\w+).*/, '$1')}: ${show(figures[k]!)}`)
  return shown.length ? shown.join(' · ') : '—'
}

function workersSection(r: Results): string {
  const { workers: w } = r
  if (w.fleet === undefined) {
    return `Not measured in ${r.mode} mode, which stays short: \`npm run bench -- --quick\` and the full run measure it.\n`
  }
  const bundle = w.bundle
    ? `${bytes(w.bundle.rawBytes)} raw, ${bytes(w.bundle.gzipBytes)} gzip: ${((w.bundle.rawBytes / w.bundle.limitBytes) * 100).toFixed(0)}% of the ${+(w.bundle.limitBytes / 1024 / 1024).toFixed(2)} MiB (raw) that test/bundle.test.ts allows`
    : 'not built: see the notes'
  return `Measured at ${fleetName(w.fleet)} agents only. \`wrangler dev\` runs the Worker in workerd on this machine, behind wrangler's local proxy
(a second workerd), with one Durable Object on local SQLite and a simulated Cache API, all on the same 2 cores as wrk. It shows what
pulsegate's Worker code path and one object cost here, not what Cloudflare's edge does: there Worker isolates run on many machines,
the network adds its latency, and the Durable Object (single-threaded there too) is the bound on writes. Populating larger fleets
through the simulator would tell little more, so the 10k and 100k fleets are Node's.

The rows *${WORKERS_LABEL}* in tables 1–3 hold its figures, with their ratio to pulsegate on Node at the same fleet size (Node's
\`/readyz\` at ${fleetName(w.fleet)} is loaded beside them for that). Every write goes to the Durable Object, so ingest is loaded once,
with \`PROBE_SOURCE=do\`; \`/readyz\` is read from the object (\`do\`) and from copies of its answer cached for at most
\`COPY_MAX_AGE_SECONDS\` (\`cache\`); \`/metrics\` always comes from the object. Same limits as Node (\`MAX_AGENTS\`,
\`RATE_LIMIT_PER_SECOND\`, \`EXPIRE_SECONDS=0\`), passed as \`--var\`. No memory row: the RSS of \`wrangler dev\` is the simulator's
(wrangler's Node and two workerd processes), not the edge's.

${table(['', ''], [
    ['Worker bundle (`wrangler deploy --dry-run`, minified)', bundle],
    ['`wrangler dev`: spawn to the first `/livez` answer', perSource(w.startupMs, ms)],
    [`${fleetName(w.fleet)} agents populated in (batches of 100)`, perSource(w.populateSeconds, (s) => `${s.toFixed(1)} s`)],
  ])}
`
}

interface Target {
  goal: string
  /** The measured figure, or undefined when this run did not measure it. */
  value: number | undefined
  show: (value: number) => string
  met: (value: number) => boolean
}

function targets(r: Results): Target[] {
  const ingest = (fleet: number, kind: Kind) => rpsOf(find(r.ingest, fleet, kind))
  const at1k = ingest(1000, 'pulsegate')
  const scrape = (fleet: number, kind: Kind) => scrapeMsOf(find(r.scrapes, fleet, kind))
  const deployed = (fleet: number, over: Kind) => ratioOf(ingest(fleet, 'pulsegate-deployed'), ingest(fleet, over))
  return [
    { goal: 'ingest at 1k ≥ 0.6× the raw POST limit', value: ratioOf(at1k, ingest(1000, 'raw')), show: times, met: (v) => v >= 0.6 },
    { goal: 'deployed-shape ingest at 1k ≥ 1.0× the Pushgateway without its check', value: deployed(1000, 'pushgateway-nocheck'), show: times, met: (v) => v >= 1 },
    { goal: 'deployed-shape ingest at 10k ≥ 1.0× the Pushgateway without its check', value: deployed(10_000, 'pushgateway-nocheck'), show: times, met: (v) => v >= 1 },
    { goal: 'deployed-shape ingest at 1k ≥ 0.6× the raw POST limit', value: deployed(1000, 'raw'), show: times, met: (v) => v >= 0.6 },
    { goal: 'ingest at 100k ≥ 0.9× ingest at 1k', value: ratioOf(ingest(100_000, 'pulsegate'), at1k), show: times, met: (v) => v >= 0.9 },
    {
      goal: '`/readyz` with 10k agents ≥ 0.6× the raw GET',
      value: ratioOf(rpsOf(find(r.probes, 10_000, 'pulsegate', (p) => p.target === '/readyz')), rpsOf(find(r.probes, 10_000, 'raw'))),
      show: times,
      met: (v) => v >= 0.6,
    },
    {
      goal: '`/metrics` at 10k ≥ 5× faster than Pushgateway',
      value: ratioOf(scrape(10_000, 'pushgateway'), scrape(10_000, 'pulsegate')),
      show: (v) => `${v.toFixed(2)}× faster`,
      met: (v) => v >= 5,
    },
    { goal: '`/metrics` at 100k ≤ 300 ms', value: scrape(100_000, 'pulsegate'), show: ms, met: (v) => v <= 300 },
    {
      goal: '≤ 2 KiB RSS per agent above idle at 100k',
      value: perAgentOf(find(r.memory, 100_000, 'pulsegate')),
      show: bytes,
      met: (v) => v <= 2048,
    },
  ]
}

function targetTable(r: Results): string {
  return table(
    ['target', 'measured', 'met'],
    targets(r).map((t) => [t.goal, t.value === undefined ? 'not measured in this mode' : t.show(t.value), t.value === undefined ? '—' : t.met(t.value) ? '✓' : '✗']),
  )
}

/** The results part: what run.ts prints and what BENCHMARKS.md holds under "Results". */
export function resultsMarkdown(r: Results): string {
  const { method: m } = r
  const wrk = `\`wrk -t${m.threads} -c${m.connections} -d${m.seconds}s --latency\``
  const runs = m.runs === 1 ? 'one run' : `${m.runs} runs (${RUN_NAMES.slice(0, m.runs).join(', ')}), interleaved across systems`
  return `### 1. Heartbeat ingest

One heartbeat per request, every request updating an existing agent of the fleet; ${wrk}, ${runs}.

${ingestTable(r)}

### 2. Probes

At ${fleetName(m.probeFleet)} agents${r.workers.fleet !== undefined && r.workers.fleet !== m.probeFleet ? `, and at ${fleetName(r.workers.fleet)} where Workers is measured (with Node's \`/readyz\` beside it)` : ''}; ${wrk}; \`/readyz/<agent>\` cycles through the fleet; the raw limit answers a constant JSON body.

${probeTable(r)}

### 3. \`/metrics\` scrape

Median time to the last byte of ${m.scrapeGets} sequential GETs (keep-alive), without and with \`Accept-Encoding: gzip\`; bytes as on the wire.

${scrapeTable(r)}

### 4. Memory and disk

RSS is VmRSS from /proc/<pid>/status: after start, after populating the fleet, and after all the load above.
"populated in" is the time to register the fleet (batches of 100; the Pushgateway one group per push, 16 at a time).
RSS above idle is coarse for small fleets: a garbage collection while populating can free what the start left behind, so
a 1k or 10k row may read near zero; the largest fleet is the one to read. RSS after the load includes heap the load grew and
the garbage collector has not returned yet.

${memoryTable(r)}

### 5. pulsegate on Cloudflare Workers (\`wrangler dev\`)

${workersSection(r)}
### 6. CPU time per request

${cpuSection(r)}
### Targets

${targetTable(r)}

${MISSED_TARGETS}
`
}

function cpuSection(r: Results): string {
  if (r.cpu.length === 0) return `Not measured in ${r.mode} mode.\n`
  const systems: Kind[] = ['pulsegate', 'workers-do', 'workers-cache']
  const fleets = [...new Set(r.cpu.map((row) => row.fleet))]
  const routes = [...new Set(r.cpu.map((row) => row.route))]
  const cell = (fleet: number, kind: Kind, route: string) => {
    const row = r.cpu.find((c) => c.fleet === fleet && c.kind === kind && c.route === route)
    if (!row) return '—'
    if (kind === 'pulsegate' || route === '/livez') return ms(row.ms)
    // Against the free plan's 10 ms of CPU a request, what the Worker's own work costs.
    return `${ms(row.aboveLivezMs)}${row.aboveLivezMs > 10 ? ' ⚠' : ''}`
  }
  const rows = fleets.flatMap((fleet) => routes.map((route) => [fleetName(fleet), `\`${route}\``, ...systems.map((k) => cell(fleet, k, route))]))
  return `CPU (user + system) the server's processes used over a run of sequential requests, divided by the requests (Node: its one
process; \`wrangler dev\`: both workerd processes, the Worker's and wrangler's local proxy). Inside workerd no clock moves while
JavaScript runs, so the time is read from /proc. The Workers columns are *above \`/livez\`* (which does nothing) measured in the same run:
what the route costs the Worker beyond the HTTP path, to compare with the Workers Free plan's 10 ms of CPU per request (⚠ above it).
The Durable Object runs in the same workerd process here, so its work is included. Clock ticks are 10 ms: each figure is a run's total
divided by its requests (300 for one-agent routes, 20–60 for fleet reads).

${table(['fleet', 'route', 'Node', 'Workers, PROBE_SOURCE=do', 'Workers, PROBE_SOURCE=cache'], rows)}
`
}

/** What profiling found where a target is missed: true of the code, whatever the run. */
const MISSED_TARGETS = `#### Where a target is missed, and what was tried

- **Ingest, against the raw POST limit.** Profiling the server under wrk (\`node --cpu-prof\`) led to three changes: group commit (every heartbeat of one turn of the event loop in one transaction, one fsync: about 2k → 9k req/s), setting the response headers before the handler (Hono rebuilt the finished Response for each header set after it), and judging a body with a Content-Length by its header instead of letting bodyLimit open its stream (which made the Node adapter build a full Request): 9k → 17–19k req/s. What remains is real work the raw limit does not do: the synchronous COMMIT, which blocks the event loop for its fsync (about 12 % of the time, and no faster with \`SQLITE_SYNCHRONOUS=NORMAL\`), the Node adapter's Request and body reading, zod validation, the state machine and the caps, and prom-client's request-duration histogram (a fifth of the time: the same app without it did about 21k heartbeats/s). wrk shares the two cores, so the server also waits, idle, for the next requests (20–30 % of its time in the profile).
- **\`/readyz\`, against the raw GET limit.** The answer itself is O(1): the store keeps every agent's state live, so a probe looks at no fleet. What remains is the HTTP path: Hono and its Node adapter, the request-duration histogram (the same app without it: about 55k req/s), and a larger answer (JSON with the state, plus Cache-Control and nosniff).
`

export function benchmarksMarkdown(r: Results, chartPath: string): string {
  const m = r.method
  const gzipComputed = r.scrapes.some((row) => row.gzip.some((s) => s.computed))
  const notes = [
    ...r.skipped,
    ...(gzipComputed
      ? ['† pulsegate did not compress when asked for gzip (no `Content-Encoding: gzip`): the gzip bytes are what gzip of its body would be (node:zlib, default level), and its gzip time is that of the plain body.']
      : []),
    '⚠ marks a run with non-2xx answers or socket errors (timeouts included; wrk waits 10 s): its numbers count only what succeeded.',
    'pulsegate runs with `MAX_AGENTS=1000000`, `MAX_COMPONENTS=0` and `RATE_LIMIT_PER_SECOND=1000000`: the limits are checked as usual but never reached (the default caps of 10k agents and 50k components would refuse the 100k fleet; a small fleet under load gets more than the default 10 heartbeats a second per agent). The deployed shape keeps the default rate limit, its fleet staying under it. Everything else is default, `SQLITE_SYNCHRONOUS=FULL` included.',
    'The populating heartbeats state `interval_seconds: 86400` (sticky), so no agent goes overdue during a long run; the load itself sends the minimal `{"agent":"agent-N","status":"ok"}`.',
    ...(r.workers.fleet === undefined
      ? []
      : ['`wrangler dev` runs with `WRANGLER_LOG=warn`: at its default level wrangler prints a line per request, which in trials here cut the Workers req/s by a fifth to almost a half. Those lines come from wrangler, not from the Worker.']),
    'SQLite bytes are `pulsegate.sqlite` + `pulsegate.sqlite-wal` as found on disk after populating: a `PRAGMA wal_checkpoint` cannot be forced from outside the server, so the WAL (and the pages it will rewrite) is counted as is.',
    `Systems are started once per fleet size and stay up while the others are loaded; they are idle then. Run A of the first probe or ingest includes JIT warm-up. Each fleet is populated concurrently into all systems before any measurement.`,
  ]
  return `# Benchmarks

_Written by \`npm run bench\` (bench/run.ts); do not edit by hand — run it again._
Mode: **${r.mode}** (fleets ${m.fleets.map(fleetName).join(', ')}; ${m.seconds} s per wrk run; ${m.runs} run${m.runs > 1 ? 's' : ''} each) · ${r.date} · the whole run took ${Math.round(r.seconds)} s.

## Machine and versions

${table(['', ''], [
    ['CPU', `${r.machine.nproc} × ${r.machine.model}`],
    ['memory', r.machine.memory],
    ['load average at start', r.machine.loadavg],
    ...r.versions,
  ])}

The machine is shared and noisy: read two runs that disagree as the noise, not as a change.

## Results

![Ingest req/s and /metrics scrape time against fleet size](${chartPath})

${resultsMarkdown(r)}
### Notes

${notes.map((n) => `- ${n}`).join('\n')}

## How to read this

- **Systems.** *pulsegate* is \`functions/node.ts\` with its default SQLite store (synchronous = FULL: a 200 is sent only after the commit is fsynced).
  *Pushgateway* is Debian's \`prometheus-pushgateway\`, in memory (\`--persistence.file=\` empty), once with default flags and once with
  \`--push.disable-consistency-check\`; one heartbeat is one push of \`process_state 0\` to the group \`job=heartbeat,instance=<agent>\`.
  The *raw limit* (bench/raw-limit.ts) is a bare \`node:http\` server on the same Node that parses the same JSON into a \`Map\`:
  the most any Node HTTP service can do on this machine, with no validation, no state machine and no disk.
  *pulsegate on Workers* is \`functions/worker.ts\` under \`wrangler dev\` (section 5).
- **Ratios** are always *pulsegate ÷ other*, from the mean of the runs. For req/s above 1× means pulsegate is faster;
  for times and bytes below 1× means pulsegate is faster or smaller. The Workers rows' ratios are *Workers ÷ pulsegate on Node*.
- **p99** is wrk's, from \`--latency\`. wrk is a closed loop: each of the ${m.connections} connections sends its next request when the
  previous answer is in, so the mean latency is about ${m.connections} ÷ req/s (Little's law) and p99 adds the server's stalls
  (GC, fsync). wrk does not correct for coordinated omission (wrk2 does): a stall delays the requests that would have been sent during it.
- **Pushgateway at 100k** is not measured: with its consistency check every push re-gathers every group, so populating it is
  quadratic (see "populated in" at 10k in table 4); 100k would take hours. Both Pushgateway variants are given 1k and 10k only.
- **The load generator shares the 2 cores** with the server under test, and so do other engineers' jobs: absolute numbers are
  lower than on a dedicated box; the ratios, measured side by side, are what carries over.

## Why wrk

wrk is C and event-driven (epoll): it costs far less CPU per request than a load generator written for Node, so on 2 cores it
takes less from the server under test, and it reports latency percentiles (\`--latency\`). Its Lua scripts make a different body
for every request, which is what ingest needs: each heartbeat names the next agent of the fleet. It comes from Debian
(\`apt-get install wrk\`), so the benchmark adds no npm dependency.
`
}

// ---------------------------------------------------------------------------
// SVG chart: two panels, log-scale axes, no dependency

interface Series {
  label: string
  color: string
  dash?: string
  points: [number, number][]
}

const COLORS: Record<Kind, { color: string; dash?: string }> = {
  pulsegate: { color: '#d9480f' },
  'pulsegate-deployed': { color: '#d9480f', dash: '4 2' },
  pushgateway: { color: '#1c7ed6' },
  'pushgateway-nocheck': { color: '#7048e8', dash: '6 4' },
  raw: { color: '#868e96', dash: '2 3' },
  'workers-do': { color: '#2f9e44' },
  'workers-cache': { color: '#0c8599' },
}

const escapeXml = (s: string) => s.replace(/&/g, '&amp;').replace(/</g, '&lt;').replace(/>/g, '&gt;')

function short(n: number): string {
  if (n >= 1e6) return `${+(n / 1e6).toPrecision(3)}M`
  if (n >= 1e3) return `${+(n / 1e3).toPrecision(3)}k`
  return String(+n.toPrecision(3))
}

/** Tick values of a log axis over [lo, hi]: the decades, with 2× and 5× when the axis spans few of them. */
function logTicks(lo: number, hi: number): number[] {
  const ticks: number[] = []
  const fine = Math.log10(hi / lo) <= 2.5
  for (let decade = Math.floor(Math.log10(lo)); decade <= Math.ceil(Math.log10(hi)); decade++) {
    for (const step of fine ? [1, 2, 5] : [1]) {
      const value = step * 10 ** decade
      if (value >= lo * 0.999 && value <= hi * 1.001) ticks.push(value)
    }
  }
  return ticks
}

/** Round a domain outwards to 1-2-5 steps so the ends are ticks. */
function niceDomain(values: number[]): [number, number] {
  const nice = (v: number, up: boolean) => {
    const decade = 10 ** Math.floor(Math.log10(v))
    const steps = [1, 2, 5, 10].map((s) => s * decade)
    return up ? steps.find((s) => s >= v)! : [...steps].reverse().find((s) => s <= v)!
  }
  const lo = nice(Math.min(...values), false)
  let hi = nice(Math.max(...values), true)
  if (hi <= lo) hi = lo * 10
  return [lo, hi]
}

function panel(x0: number, y0: number, width: number, height: number, title: string, yLabel: string, unit: (v: number) => string, series: Series[], fleets: number[]): string {
  const values = series.flatMap((s) => s.points.map((p) => p[1])).filter((v) => v > 0)
  if (values.length === 0) values.push(1)
  const [yLo, yHi] = niceDomain(values)
  const xLo = Math.log10(Math.min(...fleets)) - 0.35
  const xHi = Math.log10(Math.max(...fleets)) + 0.35
  const px = (f: number) => x0 + ((Math.log10(f) - xLo) / (xHi - xLo)) * width
  const py = (v: number) => y0 + height - ((Math.log10(v) - Math.log10(yLo)) / (Math.log10(yHi) - Math.log10(yLo))) * height
  const out: string[] = []
  out.push(`<text x="${x0 + width / 2}" y="${y0 - 14}" class="title">${escapeXml(title)}</text>`)
  out.push(`<rect x="${x0}" y="${y0}" width="${width}" height="${height}" class="frame"/>`)
  for (const v of logTicks(yLo, yHi)) {
    out.push(`<line x1="${x0}" x2="${x0 + width}" y1="${py(v)}" y2="${py(v)}" class="grid"/>`)
    out.push(`<text x="${x0 - 6}" y="${py(v) + 4}" class="ytick">${escapeXml(unit(v))}</text>`)
  }
  for (const f of fleets) {
    out.push(`<line x1="${px(f)}" x2="${px(f)}" y1="${y0}" y2="${y0 + height}" class="grid"/>`)
    out.push(`<text x="${px(f)}" y="${y0 + height + 16}" class="xtick">${fleetName(f)}</text>`)
  }
  out.push(`<text x="${x0 + width / 2}" y="${y0 + height + 36}" class="axis">fleet size, agents (log scale)</text>`)
  out.push(`<text transform="translate(${x0 - 52} ${y0 + height / 2}) rotate(-90)" class="axis">${escapeXml(yLabel)}</text>`)
  const labels: { x: number; y: number; anchor: string; text: string; color: string }[] = []
  for (const s of series) {
    if (s.points.length === 0) continue
    const path = s.points.map(([f, v], i) => `${i ? 'L' : 'M'}${px(f).toFixed(1)},${py(v).toFixed(1)}`).join(' ')
    out.push(`<path d="${path}" stroke="${s.color}" ${s.dash ? `stroke-dasharray="${s.dash}"` : ''} class="line"/>`)
    s.points.forEach(([f, v], i) => {
      out.push(`<circle cx="${px(f).toFixed(1)}" cy="${py(v).toFixed(1)}" r="3.5" fill="${s.color}"/>`)
      // Away from the line: the first point's label left of it, the last one's right, the others' above.
      const side = s.points.length === 1 || i === s.points.length - 1 ? 'start' : i === 0 ? 'end' : 'middle'
      const dx = { start: 7, end: -7, middle: 0 }[side]
      labels.push({ x: px(f) + dx, y: py(v) + (side === 'middle' ? -9 : 4), anchor: side, text: unit(v), color: s.color })
    })
  }
  // At one fleet size, labels closer than a line of text are pushed apart.
  labels.sort((a, b) => a.x - b.x || a.y - b.y)
  labels.forEach((label, i) => {
    const above = labels[i - 1]
    if (above && Math.abs(above.x - label.x) < 1 && label.y - above.y < 13) label.y = above.y + 13
    out.push(`<text x="${label.x.toFixed(1)}" y="${label.y.toFixed(1)}" text-anchor="${label.anchor}" class="value" fill="${label.color}">${escapeXml(label.text)}</text>`)
  })
  return out.join('\n')
}

/** The legend under both panels: entries as wide as their labels, in centred rows from `top` down that fit the width. */
function legendRows(series: Series[], width: number, top: number): { svg: string; bottom: number } {
  const rows: { s: Series; w: number }[][] = [[]]
  for (const s of series) {
    const w = 52 + s.label.length * 6.8
    const row = rows.at(-1)!
    if (row.length > 0 && row.reduce((sum, e) => sum + e.w, w) > width - 20) rows.push([{ s, w }])
    else row.push({ s, w })
  }
  const svg = rows.flatMap((row, i) => {
    const y = top + i * 20
    let x = (width - row.reduce((sum, e) => sum + e.w, 0)) / 2
    return row.map(({ s, w }) => {
      const entry = `<line x1="${x}" x2="${x + 26}" y1="${y}" y2="${y}" stroke="${s.color}" ${s.dash ? `stroke-dasharray="${s.dash}"` : ''} class="line"/>` +
        `<circle cx="${x + 13}" cy="${y}" r="3.5" fill="${s.color}"/>` +
        `<text x="${x + 32}" y="${y + 4}" class="legend">${escapeXml(s.label)}</text>`
      x += w
      return entry
    })
  })
  return { svg: svg.join('\n'), bottom: top + (rows.length - 1) * 20 }
}

export function chartSvg(r: Results): string {
  const W = 900
  const fleets = r.method.fleets
  /** One line per system: its figure at each fleet size it was measured at. */
  const seriesOf = (kinds: readonly Kind[], figure: (fleet: number, kind: Kind) => number | undefined): Series[] =>
    kinds.map((kind) => ({
      label: LABEL[kind],
      ...COLORS[kind],
      points: fleets.flatMap((f): [number, number][] => {
        const v = figure(f, kind)
        return v ? [[f, v]] : []
      }),
    }))
  const ingestSeries = seriesOf(KINDS, (f, kind) => rpsOf(find(r.ingest, f, kind)))
  const scrapeSeries = seriesOf(['pulsegate', 'pushgateway', 'workers-do'], (f, kind) => scrapeMsOf(find(r.scrapes, f, kind)))
  // One legend for both panels, of the systems drawn in either.
  const drawn = new Set([...ingestSeries, ...scrapeSeries].filter((s) => s.points.length > 0).map((s) => s.label))
  const legend = legendRows(ingestSeries.filter((s) => drawn.has(s.label)), W, 474)
  const H = legend.bottom + 26
  return `<svg xmlns="http://www.w3.org/2000/svg" width="${W}" height="${H}" viewBox="0 0 ${W} ${H}" font-family="DejaVu Sans, Helvetica, Arial, sans-serif">
<style>
  .title { font-size: 15px; font-weight: bold; text-anchor: middle; fill: #212529 }
  .frame { fill: none; stroke: #495057 }
  .grid { stroke: #dee2e6 }
  .ytick { font-size: 11px; text-anchor: end; fill: #495057 }
  .xtick { font-size: 12px; text-anchor: middle; fill: #495057 }
  .axis { font-size: 12px; text-anchor: middle; fill: #212529 }
  .line { fill: none; stroke-width: 2.2 }
  .value { font-size: 10.5px; paint-order: stroke; stroke: #ffffff; stroke-width: 3px }
  .legend { font-size: 12px; fill: #212529 }
  .caption { font-size: 11px; fill: #868e96; text-anchor: end }
</style>
<rect width="${W}" height="${H}" fill="#ffffff"/>
${panel(80, 50, 330, 340, 'Heartbeat ingest (higher is better)', 'requests per second (log scale)', short, ingestSeries, fleets)}
${panel(530, 50, 330, 340, '/metrics scrape, median (lower is better)', 'milliseconds (log scale)', (v) => `${short(v)} ms`, scrapeSeries, fleets)}
${legend.svg}
<text x="${W - 8}" y="14" class="caption">npm run bench (${r.mode}), ${escapeXml(r.date.slice(0, 10))}, wrk -c${r.method.connections}, ${r.machine.nproc} cores</text>
</svg>
`
}
