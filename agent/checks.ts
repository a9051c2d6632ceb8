// pulsegate-agent, the Node sidecar: agent/ may use node: modules (unlike the
// portable core in lib/). The checks it runs: an HTTP(S) health endpoint, or a
// shell command; each answers ok or degraded with a message that fits a heartbeat.
import { spawn } from 'node:child_process'
import { fetchFailureReason } from '../lib/client.ts'
import { MAX_MESSAGE_BYTES, cutToBytes } from '../lib/heartbeat.ts'

export interface Probe {
  status: 'ok' | 'degraded'
  message?: string | undefined
}

/** One probe; `signal` aborts it when the agent stops. */
export type Check = (signal: AbortSignal) => Promise<Probe>

export interface Component {
  name: string
  check: Check
  /** What the check is, for the start-up log line. */
  describe: string
}

/** A heartbeat-only component: the agent itself is alive. */
export const alwaysOk: Check = async () => ({ status: 'ok' })

/** Cut `text` to at most `maxBytes` of UTF-8, on a character boundary, marking the cut with "…". */
export function truncateUtf8(text: string, maxBytes = MAX_MESSAGE_BYTES): string {
  return cutToBytes(text, maxBytes, '…')
}

/** The last line that holds something, trimmed; undefined for no output. */
export function lastLine(output: string): string | undefined {
  const lines = output.split(/\r?\n/).map((l) => l.trim()).filter(Boolean)
  const line = lines.at(-1)
  return line === undefined ? undefined : truncateUtf8(line)
}

/** 5000 → "5s", 1500 → "1.5s", 90000 → "1m30s". */
export function formatDuration(ms: number): string {
  if (ms < 60_000) return `${Number((ms / 1000).toFixed(ms < 10_000 ? 2 : 1))}s`
  const s = Math.round(ms / 1000)
  const h = Math.floor(s / 3600)
  const m = Math.floor((s % 3600) / 60)
  return h > 0 ? `${h}h${m}m` : `${m}m${s % 60}s`
}

/** Ok on 200–399 within the timeout (redirects are not followed: a 3xx is an answer). */
export function httpCheck(url: string, timeoutMs: number): Check {
  return async (signal) => {
    const timeout = AbortSignal.timeout(timeoutMs)
    try {
      const res = await fetch(url, {
        redirect: 'manual',
        headers: { 'User-Agent': 'pulsegate-agent' },
        signal: AbortSignal.any([signal, timeout]),
      })
      await res.body?.cancel()
      if (res.status >= 200 && res.status < 400) return { status: 'ok' }
      return { status: 'degraded', message: `HTTP ${res.status}` }
    } catch (error) {
      if (timeout.aborted) return { status: 'degraded', message: `timeout after ${formatDuration(timeoutMs)}` }
      return { status: 'degraded', message: truncateUtf8(fetchFailureReason(error)) }
    }
  }
}

/**
 * Ok when `/bin/sh -c command` exits 0 within the timeout; its last line of output
 * (stdout and stderr) is the message. It runs in a process group of its own, so a
 * timeout or the agent stopping kills everything it started.
 */
export function execCheck(command: string, timeoutMs: number): Check {
  return (signal) =>
    new Promise((resolve) => {
      const child = spawn('/bin/sh', ['-c', command], { stdio: ['ignore', 'pipe', 'pipe'], detached: true })
      let tail = ''
      const keep = (chunk: string) => {
        tail = (tail + chunk).slice(-8192)
      }
      child.stdout.setEncoding('utf8').on('data', keep)
      child.stderr.setEncoding('utf8').on('data', keep)
      let timedOut = false
      let exitCode: number | null = null
      const killGroup = () => {
        try {
          if (child.pid) process.kill(-child.pid, 'SIGKILL')
        } catch {
          // already gone
        }
      }
      const timer = setTimeout(() => {
        timedOut = true
        killGroup()
      }, timeoutMs)
      signal.addEventListener('abort', killGroup, { once: true })
      const finish = (probe: Probe) => {
        clearTimeout(timer)
        signal.removeEventListener('abort', killGroup)
        resolve(probe)
      }
      child.on('error', (error) => finish({ status: 'degraded', message: truncateUtf8(error.message) }))
      child.on('exit', (code) => (exitCode = code))
      child.on('close', (code, killedBy) => {
        const line = lastLine(tail)
        const exit = exitCode ?? code
        if (exit === 0) return finish({ status: 'ok', message: line })
        if (timedOut && exit === null) return finish({ status: 'degraded', message: `timeout after ${formatDuration(timeoutMs)}` })
        finish({ status: 'degraded', message: line ?? (exit === null ? `killed by ${killedBy}` : `exit code ${exit}`) })
      })
    })
}
