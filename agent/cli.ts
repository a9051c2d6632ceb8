// pulsegate-agent, the Node sidecar: agent/ may use node: modules (unlike the
// portable core in lib/). main() wires the command line to the real world —
// fetch, the system clock, stderr and signals — and answers the exit code.
import { createClient } from '../lib/client.ts'
import { systemClock, stderrLog } from './clock.ts'
import { HELP, parseCommandLine, UsageError } from './config.ts'
import { runJob } from './job.ts'
import type { AgentDeps } from './reporter.ts'
import { runSidecar } from './sidecar.ts'

export async function main(argv: string[], env: Record<string, string | undefined>): Promise<number> {
  const log = stderrLog(systemClock)
  let command
  try {
    command = parseCommandLine(argv, env)
  } catch (error) {
    if (!(error instanceof UsageError)) throw error
    process.stderr.write(`pulsegate-agent: ${error.message}\nTry pulsegate-agent --help.\n`)
    return 2
  }
  if (command.kind === 'help') {
    process.stdout.write(HELP)
    return 0
  }

  const deps: AgentDeps = {
    client: createClient({ baseUrl: command.url, token: command.token, timeout: command.timeoutMs }),
    clock: systemClock,
    random: Math.random,
    log,
  }
  if (command.kind === 'run') return runJob(command.config, deps)

  const { config } = command
  const stop = new AbortController()
  const onSignal = (signal: NodeJS.Signals) => {
    if (stop.signal.aborted) {
      log(`${signal} again: exiting without deregistering`)
      process.exit(1)
    }
    log(`${signal}: stopping${config.keep || config.once ? '' : ', deregistering'}`)
    stop.abort()
  }
  process.on('SIGTERM', onSignal)
  process.on('SIGINT', onSignal)
  const parts = config.components.map((c) => `${c.name} (${c.describe})`).join(', ')
  if (!config.quiet || config.verbose) log(`agent ${config.agent} → ${command.url}: ${parts}; every ${config.intervalMs / 1000}s`)
  try {
    return await runSidecar(config, deps, stop.signal)
  } finally {
    process.off('SIGTERM', onSignal)
    process.off('SIGINT', onSignal)
  }
}
