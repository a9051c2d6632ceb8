// Cron schedules on Bun (npm run test:bun): the same hand-worked cases as on Node,
// against Bun's own Intl time zones.
import { scheduleSuite } from '../schedule.suite.ts'

scheduleSuite('bun')
