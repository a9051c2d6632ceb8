// Cron schedules inside workerd: croner's time zones come from the runtime's Intl,
// so the same hand-worked cases (Berlin's DST changes among them) must hold here too.
import { scheduleSuite } from '../schedule.suite.ts'

scheduleSuite('workerd')
