// Cron schedules on Deno (deno task test): the same hand-worked cases as on Node,
// against Deno's own Intl time zones.
import { scheduleSuite } from '../schedule.suite.ts'

scheduleSuite('deno')
