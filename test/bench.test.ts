// The benchmark harness, in its --smoke mode (200 agents, 1 s wrk runs): every
// system starts, is loaded and stopped, and the report and its chart are written.
// In CI a missing wrk or Pushgateway fails the test; on a laptop it is skipped, loudly.
import { spawn, spawnSync } from 'node:child_process'
import { existsSync, mkdtempSync, readFileSync, rmSync } from 'node:fs'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import { afterAll, describe, expect, it } from 'vitest'
import { ROOT } from './support/server.ts'

const tools = ['wrk', 'prometheus-pushgateway'].filter((tool) => spawnSync('sh', ['-c', `command -v ${tool}`]).status !== 0)
const available = tools.length === 0
if (!available && process.env.CI !== 'true') {
  console.warn(`\n*** ${tools.join(' and ')} not found: skipping the benchmark smoke test (apt-get install wrk prometheus-pushgateway) ***\n`)
}

/** Run bench/run.ts to its end (killed by its pid after 110 s). */
function runBench(args: string[]): Promise<{ code: number | null; stdout: string; stderr: string }> {
  return new Promise((resolve) => {
    const child = spawn(process.execPath, ['bench/run.ts', ...args], { cwd: ROOT, stdio: ['ignore', 'pipe', 'pipe'] })
    let stdout = ''
    let stderr = ''
    child.stdout.on('data', (d) => (stdout += d))
    child.stderr.on('data', (d) => (stderr += d))
    const timer = setTimeout(() => child.kill('SIGKILL'), 110_000)
    child.on('exit', (code) => {
      clearTimeout(timer)
      resolve({ code, stdout, stderr })
    })
  })
}

/** The rows of the markdown table under `heading`, as cells. */
function tableUnder(text: string, heading: string): string[][] {
  const start = text.indexOf(heading)
  if (start === -1) return []
  const rest = text.slice(start + heading.length)
  const next = rest.indexOf('\n###')
  const section = next === -1 ? rest : rest.slice(0, next)
  const lines = section.split('\n').filter((line) => line.startsWith('|'))
  return lines.slice(2).map((line) => line.slice(1, -1).split('|').map((cell) => cell.trim()))
}

const number = (cell: string | undefined) => Number((cell ?? '').replace(/[^\d.]/g, ''))

describe.skipIf(!available && process.env.CI !== 'true')('npm run bench -- --smoke', () => {
  const dir = mkdtempSync(join(tmpdir(), 'pulsegate-bench-test-'))
  afterAll(() => rmSync(dir, { recursive: true, force: true }))

  it('loads every system and writes the tables and the chart', { timeout: 120_000 }, async () => {
    expect(available, 'CI must install wrk and prometheus-pushgateway (.ci/run does)').toBe(true)
    const out = join(dir, 'BENCH.md')
    const { code, stdout, stderr } = await runBench(['--smoke', '--out', out])
    expect(code, stderr).toBe(0)

    const systems = ['pulsegate (Node, SQLite)', 'Pushgateway', 'Pushgateway, no consistency check', 'raw limit (node:http + Map)']
    const ingest = tableUnder(stdout, '### 1. Heartbeat ingest')
    for (const system of systems) {
      const row = ingest.find((cells) => cells[1] === system)
      expect(row, `ingest row of ${system}`).toBeDefined()
      expect(number(row![2]), `${system} req/s`).toBeGreaterThan(0)
      expect(number(row![3]), `${system} p99`).toBeGreaterThan(0)
    }
    // No wrangler dev in smoke mode: tables 1–3 say where Workers is measured instead.
    const workersAbsent = (cells: string[]) => cells[1] === 'pulsegate on Workers' && /measured in quick and full modes only$/.test(cells.at(-1)!)
    const lastFilled = (cells: string[]) => cells.slice(0, cells.findLastIndex((cell) => cell !== '') + 1)
    expect(ingest.map(lastFilled).some(workersAbsent), 'Workers row of table 1').toBe(true)

    const probes = tableUnder(stdout, '### 2. Probes')
    for (const request of ['`/readyz`', '`/readyz/<agent>`', '`GET /`']) {
      const row = probes.find((cells) => cells[2] === request && cells[1] !== 'pulsegate on Workers')
      expect(number(row?.[3]), `${request} req/s`).toBeGreaterThan(0)
    }
    expect(probes.map(lastFilled).some(workersAbsent), 'Workers row of table 2').toBe(true)

    const scrapes = tableUnder(stdout, '### 3. `/metrics` scrape')
    for (const system of systems.slice(0, 3)) {
      const row = scrapes.find((cells) => cells[1] === system)
      expect(number(row?.[2]), `${system} scrape time`).toBeGreaterThan(0)
      expect(number(row?.[4]), `${system} scrape bytes`).toBeGreaterThan(0)
    }
    expect(scrapes.map(lastFilled).some(workersAbsent), 'Workers row of table 3').toBe(true)

    const memory = tableUnder(stdout, '### 4. Memory and disk')
    for (const system of systems) {
      expect(number(memory.find((cells) => cells[1] === system)?.[3]), `${system} RSS`).toBeGreaterThan(0)
    }

    const report = readFileSync(out, 'utf8')
    expect(report).toContain('![Ingest req/s and /metrics scrape time against fleet size](BENCH.svg)')
    expect(report).toContain('## Why wrk')
    const svg = join(dir, 'BENCH.svg')
    expect(existsSync(svg)).toBe(true)
    expect(readFileSync(svg, 'utf8')).toMatch(/^<svg [^>]*xmlns="http:\/\/www\.w3\.org\/2000\/svg"[\s\S]*<\/svg>\s*$/)
  })
})
