// `npm run bench [-- --quick | --smoke] [--out FILE]`: start pulsegate and the
// references on 127.0.0.1, load them with wrk, stop them by pid, print the tables
// and write BENCHMARKS.md (or FILE) and its chart.
import { spawnSync } from 'node:child_process'
import { mkdirSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs'
import { availableParallelism, loadavg, tmpdir } from 'node:os'
import { basename, dirname, extname, join, relative, resolve } from 'node:path'
import { DatabaseSync } from 'node:sqlite'
import { parseArgs } from 'node:util'
import { cpuPerRoute } from './cpu.ts'
import { type LuaRequest, agentId, closeConnections, cyclingScript, runWrk, scrapeSeries } from './load.ts'
import {
  type MemoryRow, type Results, type ScrapeRow, type WrkRow, WORKER_BUNDLE_LIMIT, benchmarksMarkdown, chartSvg, fleetName, resultsMarkdown,
} from './report.ts'
import {
  type Kind, KINDS, LABEL, ROOT, type Running, WORKERS_FLEET, ingestRequest, ingests, isWorkers, measuresMemory, populate, rssKiB, scrapes, sqliteBytes, start,
  workerBundle, wranglerVersion,
} from './systems.ts'

interface Mode {
  fleets: number[]
  /** The fleet size at which the probes are loaded. */
  probeFleet: number
  seconds: number
  runs: number
  /** The largest fleet each system is given. */
  maxFleet: Record<Kind, number>
}

// The deployed shape is measured where its targets are: 1k and 10k agents.
const EVERY = { pulsegate: Infinity, 'pulsegate-deployed': 10_000, raw: Infinity }
// Workers are loaded at WORKERS_FLEET; at 10k they are started only for the CPU per request (section 6).
const WORKERS = { 'workers-do': 10_000, 'workers-cache': 10_000 }
const MODES: Record<Results['mode'], Mode> = {
  full: { fleets: [1000, 10_000, 100_000], probeFleet: 10_000, seconds: 10, runs: 2, maxFleet: { ...EVERY, ...WORKERS, pushgateway: 10_000, 'pushgateway-nocheck': 10_000 } },
  // Populating 10k groups through the Pushgateway's consistency check alone takes minutes.
  quick: { fleets: [1000, 10_000], probeFleet: 10_000, seconds: 3, runs: 1, maxFleet: { ...EVERY, ...WORKERS, pushgateway: 1000, 'pushgateway-nocheck': 10_000 } },
  // The smoke test stays short: no wrangler dev in it.
  smoke: { fleets: [200], probeFleet: 200, seconds: 1, runs: 1, maxFleet: { ...EVERY, 'workers-do': 0, 'workers-cache': 0, pushgateway: 200, 'pushgateway-nocheck': 200 } },
}
/** Why a system is left out of a fleet size. */
const SKIPPED_BECAUSE: Partial<Record<Kind, string>> = {
  pushgateway: 'every push re-gathers every group for the consistency check, so populating it is quadratic: far too slow',
  'pushgateway-nocheck': 'the Pushgateway is measured at 1k and 10k groups only, with and without its check',
}
const CONNECTIONS = 64
const THREADS = 2
const SCRAPE_GETS = 20
/** A scrape series stops early (with fewer GETs, said in the table's notes) once this has gone by. */
const SCRAPE_MAX_SECONDS = 60

const { values: options } = parseArgs({
  options: { quick: { type: 'boolean' }, smoke: { type: 'boolean' }, out: { type: 'string' } },
})
const modeName: Results['mode'] = options.smoke ? 'smoke' : options.quick ? 'quick' : 'full'
const mode = MODES[modeName]
const defaultOut = join(ROOT, 'BENCHMARKS.md')
const out = resolve(options.out ?? defaultOut)
// The committed chart lives in bench/; a report written elsewhere gets its chart beside it.
const chart = out === defaultOut ? join(ROOT, 'bench', 'chart.svg') : join(dirname(out), `${basename(out, extname(out))}.svg`)

const log = (message: string) => process.stderr.write(`bench: ${message}\n`)
const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms))
process.on('SIGINT', () => process.exit(130))
process.on('SIGTERM', () => process.exit(143))

function firstLine(command: string, args: string[]): string {
  const result = spawnSync(command, args, { encoding: 'utf8' })
  return `${result.stdout ?? ''}${result.stderr ?? ''}`.split('\n')[0]?.trim() || 'not found'
}

function describeMachine(): Results['machine'] {
  const cpuinfo = readFileSync('/proc/cpuinfo', 'utf8')
  const memKiB = Number(/^MemTotal:\s+(\d+)/m.exec(readFileSync('/proc/meminfo', 'utf8'))?.[1] ?? 0)
  return {
    nproc: availableParallelism(),
    model: /^model name\s*:\s*(.+)$/m.exec(cpuinfo)?.[1]?.trim() ?? 'unknown',
    memory: `${(memKiB / 1024 / 1024).toFixed(1)} GiB`,
    loadavg: loadavg().map((l) => l.toFixed(2)).join(' '),
  }
}

function versions(): [string, string][] {
  const pkg = JSON.parse(readFileSync(join(ROOT, 'package.json'), 'utf8')) as { version: string }
  const head = firstLine('git', ['-C', ROOT, 'rev-parse', '--short', 'HEAD'])
  const dirty = spawnSync('git', ['-C', ROOT, 'status', '--porcelain', '--', 'lib', 'functions'], { encoding: 'utf8' }).stdout?.trim()
  const db = new DatabaseSync(':memory:')
  const sqlite = String((db.prepare('select sqlite_version() as v').get() as { v: string }).v)
  db.close()
  return [
    ['pulsegate', `${pkg.version} (commit ${head}${dirty ? ', with uncommitted changes in lib/ or functions/' : ''})`],
    ['node', process.version],
    ['Pushgateway', firstLine('prometheus-pushgateway', ['--version'])],
    ['wrk', firstLine('wrk', ['-v'])],
    ['SQLite (node:sqlite)', sqlite],
    ['wrangler', wranglerVersion()],
  ]
}

const measuresWorkers = KINDS.some((k) => isWorkers(k) && mode.fleets.some((f) => f <= mode.maxFleet[k]))

/** Bundle size, measured once; a failure is said in the report and does not stop the run. */
function measureBundle(): Results['workers']['bundle'] {
  if (!measuresWorkers) return undefined
  try {
    const bundle = workerBundle()
    log(`worker bundle: ${bundle.rawBytes} bytes raw, ${bundle.gzipBytes} bytes gzip`)
    return { ...bundle, limitBytes: WORKER_BUNDLE_LIMIT }
  } catch (error) {
    results.skipped.push(`The Worker bundle could not be built: ${(error as Error).message.split('\n')[0]}`)
    return undefined
  }
}

const results: Results = {
  mode: modeName,
  date: new Date().toISOString().replace(/\.\d+Z$/, 'Z'),
  seconds: 0,
  machine: describeMachine(),
  versions: versions(),
  method: { fleets: mode.fleets, probeFleet: mode.probeFleet, seconds: mode.seconds, runs: mode.runs, connections: CONNECTIONS, threads: THREADS, scrapeGets: SCRAPE_GETS },
  ingest: [],
  probes: [],
  cpu: [],
  scrapes: [],
  memory: [],
  workers: { fleet: measuresWorkers ? WORKERS_FLEET : undefined, startupMs: {}, populateSeconds: {} },
  skipped: [],
}
results.workers.bundle = measureBundle()
const scripts = mkdtempSync(join(tmpdir(), 'pulsegate-bench-lua-'))
const began = performance.now()

interface WrkJob {
  row: WrkRow
  url: string
  script?: string
}

/** Run A of every job, then run B of every job…: a slow minute of the machine spreads over systems. */
async function runJobs(jobs: WrkJob[]): Promise<void> {
  for (let run = 0; run < mode.runs; run++) {
    for (const job of jobs) {
      const result = await runWrk({ url: job.url, seconds: mode.seconds, connections: CONNECTIONS, threads: THREADS, script: job.script })
      job.row.runs.push(result)
      log(`${fleetName(job.row.fleet)} ${LABEL[job.row.kind]} ${job.row.target} run ${'AB'[run]}: ${Math.round(result.rps)} req/s, p99 ${result.p99Ms.toFixed(1)} ms`)
    }
  }
}

function cycling(fleet: number, name: string, request: LuaRequest): string {
  return cyclingScript(scripts, `${name}-${fleet}`, fleet, THREADS, request)
}

async function scrapeAll(fleet: number, systems: Running[]): Promise<void> {
  const rows = systems.filter((s) => scrapes(s.kind)).map((s): [Running, ScrapeRow] => [s, { fleet, kind: s.kind, plain: [], gzip: [] }])
  for (let run = 0; run < mode.runs; run++) {
    for (const [system, row] of rows) {
      for (const gzip of [false, true]) {
        const series = await scrapeSeries(`${system.url}/metrics`, SCRAPE_GETS, gzip, SCRAPE_MAX_SECONDS)
        ;(gzip ? row.gzip : row.plain).push(series)
        if (series.gets < SCRAPE_GETS) {
          results.skipped.push(`${LABEL[row.kind]} at ${fleetName(fleet)}: only ${series.gets} ${gzip ? 'gzip ' : ''}scrapes fit in ${SCRAPE_MAX_SECONDS} s.`)
        }
      }
      log(`${fleetName(fleet)} ${LABEL[row.kind]} /metrics: ${row.plain.at(-1)!.medianMs.toFixed(1)} ms, ${row.plain.at(-1)!.bytes} bytes`)
    }
  }
  results.scrapes.push(...rows.map(([, row]) => row))
}

/** Start the systems of a fleet; one that runs on Workers may fail to start without failing the fleet. */
async function startAll(fleet: number, kinds: Kind[], systems: Running[]): Promise<void> {
  for (const kind of kinds) {
    try {
      const system = await start(kind)
      systems.push(system)
      if (system.startupMs !== undefined) {
        results.workers.startupMs[kind] = system.startupMs
        log(`${LABEL[kind]}: first answer ${Math.round(system.startupMs)} ms after spawn`)
      }
    } catch (error) {
      if (!isWorkers(kind)) throw error
      log(`${LABEL[kind]} did not start: ${(error as Error).stack}`)
      results.skipped.push(`**${LABEL[kind]} did not start at ${fleetName(fleet)}**: ${(error as Error).message.split('\n')[0]}`)
    }
  }
}

/** The probe jobs of a fleet: pulsegate and the raw limit at the probe fleet; Workers, and Node beside it, where Workers runs. */
function probeJobs(fleet: number, systems: Running[]): WrkJob[] {
  const byKind = (kind: Kind) => systems.find((s) => s.kind === kind)
  const readyz = (s: Running): WrkJob => ({ row: { fleet, kind: s.kind, target: '/readyz', runs: [] }, url: `${s.url}/readyz` })
  const pulsegate = byKind('pulsegate')!
  const jobs: WrkJob[] = []
  if (fleet === mode.probeFleet) {
    const raw = byKind('raw')!
    jobs.push(
      readyz(pulsegate),
      {
        row: { fleet, kind: 'pulsegate', target: '/readyz/<agent>', runs: [] },
        url: `${pulsegate.url}/readyz/${agentId(1)}`,
        script: cycling(fleet, 'readyz-agent', { method: 'GET', path: '"/readyz/" .. id' }),
      },
      { row: { fleet, kind: 'raw', target: 'GET /', runs: [] }, url: `${raw.url}/` },
    )
  }
  const workers = systems.filter((s) => isWorkers(s.kind))
  // Workers' /readyz is compared with Node's at the same fleet size.
  if (workers.length > 0 && fleet !== mode.probeFleet) jobs.push(readyz(pulsegate))
  jobs.push(...workers.map(readyz))
  return jobs
}

async function benchFleet(fleet: number): Promise<void> {
  const kinds = KINDS.filter((k) => fleet <= mode.maxFleet[k])
  // Workers' fleet size is explained once, in its own section of the report.
  for (const k of KINDS.filter((k) => !kinds.includes(k) && !isWorkers(k))) {
    results.skipped.push(`${LABEL[k]} is not run at ${fleetName(fleet)} agents in ${modeName} mode: ${SKIPPED_BECAUSE[k] ?? 'not in this mode'}.`)
  }
  const systems: Running[] = []
  try {
    await startAll(fleet, kinds, systems)
    await sleep(500)
    const measured = systems.filter((s) => measuresMemory(s.kind))
    const idle = measured.map((s) => rssKiB(s.pid))
    log(`${fleetName(fleet)}: populating ${systems.map((s) => LABEL[s.kind]).join(', ')}`)
    const populateSeconds = new Map<Running, number>()
    await Promise.all(
      systems.map(async (s) => {
        const t = performance.now()
        await populate(s, fleet)
        const seconds = (performance.now() - t) / 1000
        populateSeconds.set(s, seconds)
        if (isWorkers(s.kind)) results.workers.populateSeconds[s.kind] = seconds
        log(`${fleetName(fleet)} ${LABEL[s.kind]}: populated in ${seconds.toFixed(1)} s`)
      }),
    )
    await sleep(500)
    const memory = measured.map((s, i): MemoryRow => ({
      fleet, kind: s.kind, idleKiB: idle[i]!, populatedKiB: rssKiB(s.pid), loadedKiB: 0, populateSeconds: populateSeconds.get(s)!,
      ...(s.dataDir ? { sqliteBytes: sqliteBytes(s.dataDir) } : {}),
    }))

    // Workers are loaded at their own fleet size; at others they are only measured for CPU.
    const loaded = systems.filter((s) => !isWorkers(s.kind) || fleet <= WORKERS_FLEET)
    const cpuMeasured = systems.filter((s) => s.kind === 'pulsegate' || isWorkers(s.kind))
    for (const s of cpuMeasured) {
      const rows = await cpuPerRoute(s, fleet)
      results.cpu.push(...rows)
      log(`${fleetName(fleet)} ${LABEL[s.kind]} CPU per request: ${rows.map((r) => `${r.route} ${r.ms.toFixed(2)} ms`).join(', ')}`)
    }

    await scrapeAll(fleet, loaded)

    const probes = probeJobs(fleet, loaded)
    await runJobs(probes)
    results.probes.push(...probes.map((j) => j.row))

    const ingest = loaded.filter((s) => ingests(s.kind)).map((s): WrkJob => ({
      row: { fleet, kind: s.kind, target: 'ingest', runs: [] },
      url: `${s.url}/`,
      script: cycling(fleet, `ingest-${s.kind}`, ingestRequest(s.kind)),
    }))
    await runJobs(ingest)
    results.ingest.push(...ingest.map((j) => j.row))

    measured.forEach((s, i) => (memory[i]!.loadedKiB = rssKiB(s.pid)))
    results.memory.push(...memory)
  } finally {
    for (const s of systems.reverse()) await s.stop()
  }
}

// A fleet that fails is said in the report and the exit code; the other fleets still run.
let failed = false
try {
  for (const fleet of mode.fleets) {
    try {
      await benchFleet(fleet)
    } catch (error) {
      failed = true
      log(`${fleetName(fleet)} failed: ${(error as Error).stack}`)
      results.skipped.push(`**The ${fleetName(fleet)} fleet failed**: ${(error as Error).message.split('\n')[0]}`)
    }
  }
} finally {
  closeConnections()
  rmSync(scripts, { recursive: true, force: true })
}

results.seconds = (performance.now() - began) / 1000
mkdirSync(dirname(out), { recursive: true })
writeFileSync(chart, chartSvg(results))
writeFileSync(out, benchmarksMarkdown(results, relative(dirname(out), chart)))
process.stdout.write(`\n${resultsMarkdown(results)}\n`)
log(`wrote ${relative(process.cwd(), out) || out} and ${relative(process.cwd(), chart)} in ${Math.round(results.seconds)} s`)
if (failed) process.exitCode = 1
