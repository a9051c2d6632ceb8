// npm run soak: maximal load on pulsegate (Node, SQLite) for a minute, on
// 127.0.0.1 only: heartbeats from 48 connections and probes from 16, cycling
// through a 10k-agent fleet. Reports RSS over time, errors and p99, and fails
// (exit 1) if there was any error or memory kept growing after the warm-up.
//
//   npm run soak [-- --seconds 60 --fleet 10000]
import { mkdtempSync, rmSync } from 'node:fs'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import { parseArgs } from 'node:util'
import { cyclingScript, runWrk } from './load.ts'
import { ingestRequest, populate, rssKiB, start } from './systems.ts'

const { values } = parseArgs({
  options: { seconds: { type: 'string', default: '60' }, fleet: { type: 'string', default: '10000' } },
})
const seconds = Number(values.seconds)
const fleet = Number(values.fleet)
/** RSS may settle while V8 sizes its heap for the load; growth counts only after this. */
const WARM_UP_SECONDS = Math.round(Math.min(20, seconds / 3))
/** More than this much growth after the warm-up is a leak, not a heap finding its size. */
const GROWTH_LIMIT = 1.2

const scripts = mkdtempSync(join(tmpdir(), 'pulsegate-soak-'))
const system = await start('pulsegate')
try {
  await populate(system, fleet)
  const mib = () => rssKiB(system.pid) / 1024
  const samples: { at: number; mib: number }[] = [{ at: 0, mib: mib() }]
  const began = Date.now()
  const sampler = setInterval(() => samples.push({ at: (Date.now() - began) / 1000, mib: mib() }), 2000)

  const ingest = cyclingScript(scripts, 'soak-ingest', fleet, 1, ingestRequest('pulsegate'))
  const probe = cyclingScript(scripts, 'soak-probe', fleet, 1, { method: 'GET', path: '"/readyz/" .. id' })
  const [beats, probes] = await Promise.all([
    runWrk({ url: system.url, seconds, connections: 48, threads: 1, script: ingest }),
    runWrk({ url: system.url, seconds, connections: 16, threads: 1, script: probe }),
  ])
  clearInterval(sampler)
  samples.push({ at: (Date.now() - began) / 1000, mib: mib() })

  const warm = samples.filter((s) => s.at >= WARM_UP_SECONDS)
  const afterWarmUp = warm[0]!.mib
  const end = samples.at(-1)!.mib
  const peak = Math.max(...samples.map((s) => s.mib))
  const errors = beats.non2xx + beats.socketErrors + probes.non2xx + probes.socketErrors
  const grew = end > afterWarmUp * GROWTH_LIMIT

  const fmt = (n: number) => n.toFixed(1)
  console.log(`soak: ${seconds} s, ${fleet} agents, pulsegate on Node (SQLite, synchronous=FULL)`)
  console.log(`| | heartbeats (48 conn.) | /readyz/<agent> (16 conn.) |`)
  console.log(`| --- | --- | --- |`)
  console.log(`| requests | ${beats.requests} | ${probes.requests} |`)
  console.log(`| req/s | ${fmt(beats.rps)} | ${fmt(probes.rps)} |`)
  console.log(`| p99 | ${fmt(beats.p99Ms)} ms | ${fmt(probes.p99Ms)} ms |`)
  console.log(`| errors (non-2xx + socket) | ${beats.non2xx + beats.socketErrors} | ${probes.non2xx + probes.socketErrors} |`)
  console.log(
    `RSS: ${fmt(samples[0]!.mib)} MiB at start, ${fmt(afterWarmUp)} MiB after the ${WARM_UP_SECONDS} s warm-up, ` +
      `${fmt(end)} MiB at the end, ${fmt(peak)} MiB at the peak`,
  )
  console.log(`RSS samples (s → MiB): ${samples.map((s) => `${Math.round(s.at)}→${Math.round(s.mib)}`).join(' ')}`)
  if (errors > 0 || grew) {
    console.log(`FAILED: ${errors} errors${grew ? `; RSS grew ${fmt(end / afterWarmUp)}× after the warm-up` : ''}`)
    process.exitCode = 1
  } else {
    console.log(`passed: no errors, RSS after the warm-up within ${GROWTH_LIMIT}×`)
  }
} finally {
  await system.stop()
  rmSync(scripts, { recursive: true, force: true })
}
