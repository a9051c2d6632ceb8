// Work no request waits for — a sweep, counting a scrape once it is answered —
// must never end the process nor reach an answer already decided. A failure is
// logged once a minute per kind of work, with its cause (lib/logging.ts), and
// counted: pulsegate_background_errors_total{task}.
import { logOnce } from './logging.ts'

/** The kinds of background work; each has its series from the start, at 0. */
export const BACKGROUND_TASKS = ['sweep', 'count'] as const
export type BackgroundTask = (typeof BACKGROUND_TASKS)[number]

const failures = new Map<BackgroundTask, number>(BACKGROUND_TASKS.map((task) => [task, 0]))

/** Failures so far, by task, in this process (or Worker isolate). */
export function backgroundFailures(): ReadonlyMap<BackgroundTask, number> {
  return failures
}

/** Run `work`, and resolve once it is done, failed or not: a failure is logged and counted, never thrown. */
export async function inBackground(task: BackgroundTask, work: () => Promise<unknown>): Promise<void> {
  try {
    await work()
  } catch (error) {
    failures.set(task, (failures.get(task) ?? 0) + 1)
    logOnce(task, error)
  }
}
