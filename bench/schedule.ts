// `node --expose-gc bench/schedule.ts`: what one nextRun() costs, in the three cases a
// read path meets (docs/schedules.md has the figures): the answer is in the memo
// (components seen between the same two runs), the expression is parsed but the
// window is new, and the expression is not in the cache at all; and what the caches
// hold once far more distinct schedules than they keep have come by.
import { nextRun, SCHEDULE_CACHE_SIZE, type Schedule } from '../lib/schedule.ts'

const T0 = Date.parse('2026-03-27T10:00:00Z')
const gc = (globalThis as { gc?: () => void }).gc
gc?.()
const baseline = process.memoryUsage().heapUsed

function perCall(calls: number, body: (i: number) => number): number {
  let sink = 0
  for (let i = 0; i < Math.min(calls, 1000); i++) sink += body(i) // warm up
  const started = performance.now()
  for (let i = 0; i < calls; i++) sink += body(i)
  const micros = ((performance.now() - started) * 1000) / calls
  if (Number.isNaN(sink)) throw new Error('unreachable')
  return micros
}

const schedules: Schedule[] = [
  { expression: '*/5 * * * *', tz: 'UTC' },
  { expression: '0 3 * * 1-5', tz: 'UTC' },
  { expression: '0 3 * * 1-5', tz: 'Europe/Berlin' },
  { expression: '*/10 * * * * *', tz: 'Europe/Berlin' },
]
const rows: string[] = []
for (const schedule of schedules) {
  // Last pings a few ms apart, all before the same run.
  const hit = perCall(200_000, (i) => nextRun(schedule, T0 + (i % 1000)))
  // Every call in another window: croner walks the calendar each time.
  let after = T0
  const walk = perCall(20_000, () => (after = nextRun(schedule, after)))
  // A new expression each call (minute i of the hour, more than the cache holds): parse and walk.
  const cold = perCall(SCHEDULE_CACHE_SIZE * 2, (i) =>
    nextRun({ expression: `${i % 60} ${Math.floor(i / 60) % 24} ${1 + (Math.floor(i / 1440) % 28)} * *`, tz: schedule.tz }, T0),
  )
  rows.push(`| \`${schedule.expression}\` | ${schedule.tz} | ${hit.toFixed(2)} µs | ${walk.toFixed(1)} µs | ${cold.toFixed(0)} µs |`)
}
console.log(`nextRun() per call, ${process.release.name} ${process.version}\n`)
console.log('| expression | tz | in the memo | parsed, new window | not cached (parse + walk) |')
console.log('| --- | --- | --- | --- | --- |')
for (const row of rows) console.log(row)

if (gc) {
  for (let i = 0; i < SCHEDULE_CACHE_SIZE * 4; i++) nextRun({ expression: `${i % 60} ${Math.floor(i / 60) % 24} * * ${i % 7}`, tz: 'Europe/Berlin' }, T0)
  gc()
  const mb = (process.memoryUsage().heapUsed - baseline) / 2 ** 20
  console.log(`\nheap held by the caches after ${SCHEDULE_CACHE_SIZE * 4} distinct schedules: ${mb.toFixed(1)} MiB`)
}
