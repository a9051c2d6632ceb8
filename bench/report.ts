// The report: BENCHMARKS.md (tables with absolute numbers and ratios, targets,
// how to read it) and bench/chart.svg, drawn here with no dependency.
import type { ScrapeSeries, WrkResult } from './load.ts'
import { type Kind, KINDS, LABEL } from './systems.ts'

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
  scrapes: ScrapeRow[]
  memory: MemoryRow[]
  /** What was left out, and why. */
  skipped: string[]
}

// ---------------------------------------------------------------------------
// Numbers

const RUN_NAMES = ['A', 'B', 'C', 'D']
const PENDING_WORKERS = 'pending: Edge issue'

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

const times = (ratio: number | undefined) => (ratio === undefined || !Number.isFinite(ratio) ? '—' : `${ratio.toFixed(ratio < 0.1 ? 3 : 2)}×`)
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

const WORKERS_ROW = ['—', 'pulsegate on Workers']

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
    const self = row.kind === 'pulsegate'
    const rps = rpsOf(row)
    return [
      fleetName(row.fleet), LABEL[row.kind], ...wrkCells(row, runs),
      self ? times(ratioOf(rps, rpsOf(find(r.ingest, row.fleet, 'pushgateway')))) : '',
      self ? times(ratioOf(rps, rpsOf(find(r.ingest, row.fleet, 'raw')))) : '',
    ]
  })
  rows.push([...WORKERS_ROW, PENDING_WORKERS])
  return table(['fleet', 'system', ...runHeads(runs, 'req/s', 'p99'), 'req/s ÷ Pushgateway', 'req/s ÷ raw limit'], rows)
}

function probeTable(r: Results): string {
  const { runs } = r.method
  const rows = r.probes.map((row) => [
    fleetName(row.fleet), LABEL[row.kind], `\`${row.target}\``, ...wrkCells(row, runs),
    row.kind === 'raw' ? '' : times(ratioOf(rpsOf(row), rpsOf(find(r.probes, row.fleet, 'raw')))),
  ])
  rows.push([...WORKERS_ROW, '`/readyz`', PENDING_WORKERS])
  return table(['fleet', 'system', 'request', ...runHeads(runs, 'req/s', 'p99'), 'req/s ÷ raw limit'], rows)
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
    return cells
  })
  rows.push([...WORKERS_ROW, PENDING_WORKERS])
  return table(['fleet', 'system', ...runHeads(runs, 'plain', 'gzip'), 'bytes plain', 'bytes gzip', 'plain time ÷ Pushgateway'], rows)
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
  return [
    { goal: 'ingest at 1k ≥ 0.6× the raw POST limit', value: ratioOf(at1k, ingest(1000, 'raw')), show: times, met: (v) => v >= 0.6 },
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

### 2. Probes, ${fleetName(m.probeFleet)} agents

${wrk}; \`/readyz/<agent>\` cycles through the fleet; the raw limit answers a constant JSON body.

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

### Targets (for later)

${targetTable(r)}
`
}

export function benchmarksMarkdown(r: Results, chartPath: string): string {
  const m = r.method
  const gzipComputed = r.scrapes.some((row) => row.gzip.some((s) => s.computed))
  const notes = [
    ...r.skipped,
    ...(gzipComputed
      ? ['† pulsegate did not compress when asked for gzip (no `Content-Encoding: gzip`): the gzip bytes are what gzip of its body would be (node:zlib, default level), and its gzip time is that of the plain body.']
      : []),
    '⚠ marks a run with non-2xx answers or socket errors (timeouts included; wrk waits 10 s): its numbers count only what succeeded.',
    'pulsegate runs with `MAX_AGENTS=1000000` and `RATE_LIMIT_PER_SECOND=1000000`: the limits are checked as usual but never reached (the default cap of 10k agents would refuse the 100k fleet; a small fleet under load gets more than the default 10 heartbeats a second per agent). Everything else is default, `SQLITE_SYNCHRONOUS=FULL` included.',
    'The populating heartbeats state `interval_seconds: 86400` (sticky), so no agent goes overdue during a long run; the load itself sends the minimal `{"agent":"agent-N","status":"ok"}`.',
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
- **Ratios** are always *pulsegate ÷ other*, from the mean of the runs. For req/s above 1× means pulsegate is faster;
  for times and bytes below 1× means pulsegate is faster or smaller.
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
  pushgateway: { color: '#1c7ed6' },
  'pushgateway-nocheck': { color: '#7048e8', dash: '6 4' },
  raw: { color: '#868e96', dash: '2 3' },
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

export function chartSvg(r: Results): string {
  const W = 900
  const H = 500
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
  const scrapeSeries = seriesOf(['pulsegate', 'pushgateway'], (f, kind) => scrapeMsOf(find(r.scrapes, f, kind)))
  // One legend for both panels, centred; entry widths estimated from their labels.
  const widths = ingestSeries.map((s) => 52 + s.label.length * 6.8)
  let x = (W - widths.reduce((a, b) => a + b, 0)) / 2
  const legend = ingestSeries.map((s, i) => {
    const entry = `<line x1="${x}" x2="${x + 26}" y1="${H - 26}" y2="${H - 26}" stroke="${s.color}" ${s.dash ? `stroke-dasharray="${s.dash}"` : ''} class="line"/>` +
      `<circle cx="${x + 13}" cy="${H - 26}" r="3.5" fill="${s.color}"/>` +
      `<text x="${x + 32}" y="${H - 22}" class="legend">${escapeXml(s.label)}</text>`
    x += widths[i]!
    return entry
  })
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
${legend.join('\n')}
<text x="${W - 8}" y="14" class="caption">npm run bench (${r.mode}), ${escapeXml(r.date.slice(0, 10))}, wrk -c${r.method.connections}, ${r.machine.nproc} cores</text>
</svg>
`
}
