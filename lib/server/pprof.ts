// V8's profiles, as the DevTools protocol gives them (Profiler.stop's CPU profile,
// HeapProfiler.getSamplingProfile's heap profile), as pprof: the protobuf of
// github.com/google/pprof's profile.proto that `go tool pprof`, speedscope and
// pprof.me read. Pure (JSON in, protobuf bytes out, no node:inspector), so it is
// tested on hand-made profiles; lib/server/profiles.ts takes the real ones and gzips.
import { Function as PprofFunction, Line, Location, Profile, Sample, StringTable, ValueType } from 'pprof-format'

/** Where a function is: V8 counts lines and columns from 0, and says -1 for none. */
export interface CallFrame {
  functionName: string
  url: string
  lineNumber: number
  columnNumber: number
}

export interface CpuProfileNode {
  id: number
  callFrame: CallFrame
  children?: number[]
}

/** Times in µs on V8's own clock; sample i was taken timeDeltas[0] + … + timeDeltas[i] after startTime. */
export interface CpuProfile {
  nodes: CpuProfileNode[]
  startTime: number
  endTime: number
  samples?: number[]
  timeDeltas?: number[]
}

export interface HeapProfileNode {
  callFrame: CallFrame
  /** Bytes still allocated here, not in children: V8 has already scaled its samples up to an estimate. */
  selfSize: number
  children: HeapProfileNode[]
}

export interface HeapProfile {
  head: HeapProfileNode
}

/** V8's frames that are not code of the program; (root) is the tree's top, not a caller. */
const ROOT = '(root)'
/** Samples of a thread waiting for work: time, but no CPU spent (Go's CPU profile has none either). */
const IDLE = '(idle)'

/** pprof's locations and functions, one of each per distinct call frame, made at first use. */
function frameTable(strings: StringTable) {
  const functions: PprofFunction[] = []
  const locations: Location[] = []
  const ids = new Map<string, number>()
  const locationOf = (frame: CallFrame): number => {
    const key = `${frame.functionName}\0${frame.url}\0${frame.lineNumber}\0${frame.columnNumber}`
    let id = ids.get(key)
    if (id === undefined) {
      id = locations.length + 1
      const line = Math.max(0, frame.lineNumber + 1) // pprof counts from 1, and 0 is "unknown"
      const name = strings.dedup(frame.functionName || '(anonymous)')
      functions.push(new PprofFunction({ id, name, systemName: name, filename: strings.dedup(fileOf(frame.url)), startLine: line }))
      locations.push(new Location({ id, line: [new Line({ functionId: id, line })] }))
      ids.set(key, id)
    }
    return id
  }
  return { functions, locations, locationOf }
}

/** A script's path rather than its file: URL, as pprof's tools show and match source files. */
function fileOf(url: string): string {
  if (!url.startsWith('file://')) return url
  try {
    return decodeURIComponent(new URL(url).pathname)
  } catch {
    return url
  }
}

const valueType = (strings: StringTable, type: string, unit: string) => new ValueType({ type: strings.dedup(type), unit: strings.dedup(unit) })

/** A CPU profile as pprof: samples/count and cpu/nanoseconds, per stack; `startedAt` is when it began, in ms since the epoch. */
export function cpuProfileToPprof(profile: CpuProfile, { startedAt, intervalMicros }: { startedAt: number; intervalMicros: number }): Uint8Array {
  const strings = new StringTable()
  const frames = frameTable(strings)
  const nodes = new Map(profile.nodes.map((node) => [node.id, node]))
  const parents = new Map<number, CpuProfileNode>()
  for (const node of profile.nodes) for (const child of node.children ?? []) parents.set(child, node)

  // Each sample stands for the time until the next one (the last: until the profile ended).
  const totals = new Map<number, { count: number; micros: number }>()
  const ids = profile.samples ?? []
  const deltas = profile.timeDeltas ?? []
  let at = profile.startTime
  for (let i = 0; i < ids.length; i++) {
    at += deltas[i] ?? 0
    const next = i + 1 < ids.length ? at + (deltas[i + 1] ?? 0) : profile.endTime
    const total = totals.get(ids[i]!) ?? { count: 0, micros: 0 }
    total.count++
    total.micros += Math.max(0, next - at)
    totals.set(ids[i]!, total)
  }

  const samples: Sample[] = []
  for (const [id, { count, micros }] of totals) {
    const node = nodes.get(id)
    if (!node || node.callFrame.functionName === IDLE) continue
    const stack: number[] = [] // leaf first, as pprof has it
    for (let n: CpuProfileNode | undefined = node; n; n = parents.get(n.id)) {
      if (!parents.has(n.id) && n.callFrame.functionName === ROOT) break
      stack.push(frames.locationOf(n.callFrame))
    }
    samples.push(new Sample({ locationId: stack, value: [count, Math.round(micros * 1000)] }))
  }
  return new Profile({
    sampleType: [valueType(strings, 'samples', 'count'), valueType(strings, 'cpu', 'nanoseconds')],
    sample: samples,
    location: frames.locations,
    function: frames.functions,
    stringTable: strings,
    timeNanos: BigInt(Math.round(startedAt)) * 1_000_000n,
    durationNanos: Math.round(Math.max(0, profile.endTime - profile.startTime) * 1000),
    periodType: valueType(strings, 'cpu', 'nanoseconds'),
    period: intervalMicros * 1000,
  }).encode()
}

/** A sampling heap profile as pprof: inuse_space/bytes per stack; `takenAt` in ms since the epoch. */
export function heapProfileToPprof(profile: HeapProfile, { takenAt, intervalBytes }: { takenAt: number; intervalBytes: number }): Uint8Array {
  const strings = new StringTable()
  const frames = frameTable(strings)
  const samples: Sample[] = []
  // Depth first, without recursion: a deep stack in the program is a deep tree here.
  const pending: { node: HeapProfileNode; stack: number[] }[] = [{ node: profile.head, stack: [] }]
  for (let item = pending.pop(); item; item = pending.pop()) {
    const { node } = item
    const stack = item.node === profile.head && node.callFrame.functionName === ROOT ? item.stack : [frames.locationOf(node.callFrame), ...item.stack]
    if (node.selfSize > 0) samples.push(new Sample({ locationId: stack, value: [node.selfSize] }))
    for (const child of node.children) pending.push({ node: child, stack })
  }
  return new Profile({
    sampleType: [valueType(strings, 'inuse_space', 'bytes')],
    sample: samples,
    location: frames.locations,
    function: frames.functions,
    stringTable: strings,
    timeNanos: BigInt(Math.round(takenAt)) * 1_000_000n,
    periodType: valueType(strings, 'space', 'bytes'),
    period: intervalBytes,
  }).encode()
}
