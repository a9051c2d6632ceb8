#!/usr/bin/env node
// pulsegate: `start` runs the server as `npm start` does; `debug profile` takes profiles
// of a running server through its debug socket (DATA_DIR/debug.sock, always on) and
// writes them to standard output as a .tar.gz, as `teleport debug profile` does.
// Needs a Node that strips TypeScript types (≥ 22.18): bin/pulsegate finds one.
import { request } from 'node:http'
import { gzipSync } from 'node:zlib'
import { DEFAULT_PROFILE_SECONDS, MAX_PROFILE_SECONDS } from '../lib/routes/debug.ts'
import { debugSocketPath } from '../lib/server/debug-service.ts'

const HELP = `Usage:
  pulsegate start [--debug] [--data-dir DIR]
      Run the server, as npm start does; its settings come from the environment
      (--debug is DEBUG=true, --data-dir is DATA_DIR).
  pulsegate debug profile [-s SECONDS] [--data-dir DIR] [PROFILES]
      Take profiles of the server whose DATA_DIR is DIR (default: $DATA_DIR, else
      ./data), through its debug socket, and write them to standard output as a
      .tar.gz of cpu.pprof and heap.pprof. PROFILES: cpu, heap or cpu,heap (the
      default). -s, --seconds: how long the CPU profile runs, 1-${MAX_PROFILE_SECONDS} (default ${DEFAULT_PROFILE_SECONDS}).
      pulsegate debug profile -s 10 > profiles.tar.gz && tar -xzf profiles.tar.gz
      go tool pprof -top cpu.pprof
`

const PROFILES = { cpu: 'profile', heap: 'heap' } as const
type ProfileName = keyof typeof PROFILES

class UsageError extends Error {}

/** The next argument as the value of `flag` (--flag VALUE or --flag=VALUE). */
function valueOf(args: string[], flag: string, inline: string | undefined): string {
  const value = inline ?? args.shift()
  if (value === undefined || value === '') throw new UsageError(`${flag} needs a value`)
  return value
}

/** Flags anywhere, the rest in order: `--data-dir`, `-s`/`--seconds`, `--debug`, `--help`. */
function parse(argv: string[], env: Record<string, string | undefined>) {
  const args = [...argv]
  const words: string[] = []
  let dataDir = env.DATA_DIR?.trim() || './data'
  let seconds = DEFAULT_PROFILE_SECONDS
  let debug = false
  let help = false
  for (let arg = args.shift(); arg !== undefined; arg = args.shift()) {
    const [flag = '', inline] = arg.startsWith('--') ? (arg.split(/=(.*)/s) as [string, string?]) : [arg]
    if (flag === '--data-dir') dataDir = valueOf(args, flag, inline)
    else if (flag === '-s' || flag === '--seconds') {
      const text = valueOf(args, flag, inline)
      seconds = /^\d{1,3}$/.test(text) ? Number(text) : NaN
      if (!(seconds >= 1 && seconds <= MAX_PROFILE_SECONDS)) throw new UsageError(`${flag} must be a whole number of seconds from 1 to ${MAX_PROFILE_SECONDS}, not ${text}`)
    } else if (flag === '--debug') debug = true
    else if (flag === '-h' || flag === '--help') help = true
    else if (arg.startsWith('-')) throw new UsageError(`unknown option ${arg}`)
    else words.push(arg)
  }
  return { words, dataDir, seconds, debug, help }
}

/** The profiles named, in the order named: "cpu,heap". */
function profileNames(list: string | undefined): ProfileName[] {
  const names = (list ?? 'cpu,heap').split(',').map((n) => n.trim()).filter(Boolean)
  for (const name of names) if (!(name in PROFILES)) throw new UsageError(`unknown profile ${JSON.stringify(name)}: pulsegate takes cpu and heap`)
  if (names.length === 0) throw new UsageError('name a profile: cpu, heap or cpu,heap')
  return [...new Set(names)] as ProfileName[]
}

/**
 * A POSIX ustar archive of regular files: per file a 512-byte header, then its bytes,
 * padded to 512; two empty blocks end it. Enough for a few short names, and every tar reads it.
 */
function tarOf(files: { name: string; bytes: Uint8Array }[], mtimeMs: number): Buffer {
  const octal = (n: number, width: number) => `${n.toString(8).padStart(width - 1, '0')}\0`
  const blocks: Buffer[] = []
  for (const { name, bytes } of files) {
    const header = Buffer.alloc(512)
    header.write(name, 0, 100)
    header.write(octal(0o644, 8), 100) // mode
    header.write(octal(0, 8), 108) // uid
    header.write(octal(0, 8), 116) // gid
    header.write(octal(bytes.length, 12), 124)
    header.write(octal(Math.floor(mtimeMs / 1000), 12), 136)
    header.write(' '.repeat(8), 148) // the checksum counts its own field as spaces
    header.write('0', 156) // a regular file
    header.write('ustar\x0000', 257)
    header.write(octal(header.reduce((sum, byte) => sum + byte, 0), 7), 148)
    blocks.push(header, Buffer.from(bytes), Buffer.alloc(-bytes.length & 511))
  }
  blocks.push(Buffer.alloc(1024))
  return Buffer.concat(blocks)
}

/** GET `path` on the debug socket. */
function get(socketPath: string, path: string, timeoutMs: number, onConnect: () => void): Promise<{ status: number; body: Buffer }> {
  return new Promise((resolve, reject) => {
    const req = request({ socketPath, path, headers: { Host: 'pulsegate' } }, (res) => {
      const chunks: Buffer[] = []
      res.on('data', (chunk: Buffer) => chunks.push(chunk))
      res.on('end', () => resolve({ status: res.statusCode ?? 0, body: Buffer.concat(chunks) }))
      res.on('error', reject)
    })
    req.setTimeout(timeoutMs, () => req.destroy(new Error(`the server did not answer in ${timeoutMs / 1000} s`)))
    req.on('error', reject)
    // A reused socket is connected already and says no 'connect' again.
    req.once('socket', (socket) => (socket.connecting ? socket.once('connect', onConnect) : onConnect()))
    req.end()
  })
}

/** Why the socket could not be asked, as one line that says what to do. */
function unreachable(error: unknown, dataDir: string, socketPath: string): string {
  switch ((error as { code?: string }).code) {
    case 'ENOENT':
      return `no pulsegate server is running with DATA_DIR ${dataDir}: there is no ${socketPath} (start one with pulsegate start, or name its DATA_DIR with --data-dir)`
    case 'ECONNREFUSED':
      return `no pulsegate server is running with DATA_DIR ${dataDir}: nothing answers on ${socketPath}, left by a server that was killed (the next start replaces it)`
    case 'EACCES':
    case 'EPERM':
      return `permission denied on ${socketPath}: run this as the user that runs the server (the socket is 0600)`
  }
  return `cannot ask the server on ${socketPath}: ${(error as Error).message}`
}

/** What the server said when it would not give a profile: its JSON error's message. */
function refusal(name: string, status: number, body: Buffer): string {
  let message = body.toString('utf8').trim()
  try {
    message = JSON.parse(message).error.message ?? message
  } catch {}
  return `the server took no ${name} profile (${status}): ${message}`
}

async function debugProfile(words: string[], dataDir: string, seconds: number): Promise<number> {
  const names = profileNames(words[0])
  if (words.length > 1) throw new UsageError(`unexpected ${words[1]}: list the profiles with commas, as in cpu,heap`)
  // As teleport debug profile does: a terminal would show the archive as garbage.
  if (process.stdout.isTTY) {
    process.stderr.write('pulsegate: refusing to write a binary .tar.gz to a terminal; redirect it, as in pulsegate debug profile > profiles.tar.gz\n')
    return 2
  }
  const socketPath = debugSocketPath(dataDir)
  const files: { name: string; bytes: Uint8Array }[] = []
  for (const name of names) {
    // A server without DEBUG samples the heap only for the window asked for: the same -s as the CPU profile.
    const path = name === 'cpu' ? `/debug/pprof/profile?seconds=${seconds}` : `/debug/pprof/heap?seconds=${seconds}`
    const saySo = () => process.stderr.write(`pulsegate: taking a ${seconds}-second ${name === 'cpu' ? 'CPU' : 'heap'} profile…\n`)
    let answer
    try {
      answer = await get(socketPath, path, (seconds + 30) * 1000, saySo)
    } catch (error) {
      process.stderr.write(`pulsegate: ${unreachable(error, dataDir, socketPath)}\n`)
      return 1
    }
    if (answer.status !== 200) {
      process.stderr.write(`pulsegate: ${refusal(name, answer.status, answer.body)}\n`)
      return 1
    }
    files.push({ name: `${name}.pprof`, bytes: answer.body })
  }
  const archive = gzipSync(tarOf(files, Date.now()))
  const written = await new Promise<Error | null | undefined>((resolve) => process.stdout.write(archive, resolve))
  if (!written) return 0
  process.stderr.write(`pulsegate: cannot write the profiles to standard output: ${written.message}\n`)
  return 1
}

/** The exit code; undefined while a server runs, until a signal ends it. */
async function main(argv: string[], env: Record<string, string | undefined>): Promise<number | undefined> {
  try {
    const { words, dataDir, seconds, debug, help } = parse(argv, env)
    const [command, sub, ...rest] = words
    if (help || command === 'help') {
      process.stdout.write(HELP)
      return 0
    }
    if (command === 'start' && sub === undefined) {
      if (debug) process.env.DEBUG = 'true'
      process.env.DATA_DIR = dataDir
      await import('../functions/node.ts')
      return undefined
    }
    if (command === 'debug' && sub === 'profile') return await debugProfile(rest, dataDir, seconds)
    throw new UsageError(command === undefined ? 'name a command: start, or debug profile' : `unknown command ${[command, sub].filter(Boolean).join(' ')}`)
  } catch (error) {
    if (!(error instanceof UsageError)) throw error
    process.stderr.write(`pulsegate: ${error.message}\nTry pulsegate --help.\n`)
    return 2
  }
}

// exitCode, not exit(): what is still being written to a pipe gets out first.
process.exitCode = await main(process.argv.slice(2), process.env)
