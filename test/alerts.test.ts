// docs/alerts.yml, the alerting rules the README offers: valid for promtool, its
// unit tests (docs/alerts.test.yml) pass and cover each rule firing and not,
// and every metric a rule reads is one pulsegate exports (or Prometheus' own up),
// so a renamed metric cannot leave a rule that silently never fires.
import { spawnSync } from 'node:child_process'
import { copyFileSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import { describe, expect, it } from 'vitest'
import { METRICS } from '../lib/metrics.ts'
import { skipWithout } from './conformance/support.ts'
import { ROOT } from './support/server.ts'

const RULES = join(ROOT, 'docs/alerts.yml')
const TESTS = join(ROOT, 'docs/alerts.test.yml')
const rules = readFileSync(RULES, 'utf8')
const tests = readFileSync(TESTS, 'utf8')

// The notification metrics, exported by the notifications work that lands beside
// these rules: accepted by name until lib/metrics.ts lists them (then both hold).
const NOTIFICATION_METRICS = ['pulsegate_notifications_total', 'pulsegate_notifications_oldest_pending_seconds']
/** Prometheus' own series for each target. */
const PROMETHEUS_METRICS = ['up']

const promtool = (...args: string[]) => {
  const run = spawnSync('promtool', args, { cwd: ROOT, encoding: 'utf8', timeout: 60_000 })
  return { status: run.status, output: `${run.stdout}${run.stderr}` }
}

/** Each rule: its name and the text of its entry (expr, for, labels, annotations), comments left out. */
const alerts = rules
  .split(/^ {6}- alert: /m)
  .slice(1)
  .map((block) => ({ name: block.slice(0, block.indexOf('\n')), body: block.split('\n').filter((l) => !/^\s*#/.test(l)).join('\n') }))

/** Each rule's expression: one line, or a block scalar (`expr: |`) of the lines indented under it. */
function expressionOf(body: string): string {
  const lines = body.split('\n')
  const at = lines.findIndex((l) => /^\s+expr:/.test(l))
  const first = lines[at]!.replace(/^\s+expr:\s*/, '')
  if (!/^[|>]/.test(first)) return first
  const indent = lines[at]!.search(/\S/)
  const rest = lines.slice(at + 1)
  const end = rest.findIndex((l) => l.trim() !== '' && l.search(/\S/) <= indent)
  return rest.slice(0, end < 0 ? undefined : end).join('\n')
}

/** Metric names an expression reads: every selector with matchers, and every name of pulsegate's prefixes. */
function metricNames(expr: string): string[] {
  const selectors = [...expr.matchAll(/([a-zA-Z_:][a-zA-Z0-9_:]*)\s*\{/g)].map((m) => m[1]!)
  const prefixed = [...expr.matchAll(/\b(pulsegate_\w+|process_state|heartbeat_\w+|teleport_\w+|promhttp_\w+)\b/g)].map((m) => m[1]!)
  return [...new Set([...selectors, ...prefixed])]
}

describe('docs/alerts.yml', () => {
  it('is read the way these tests assume: eight rules, each with an expression', () => {
    expect(alerts.map((a) => a.name)).toEqual([
      'PulsegateComponentDegraded',
      'PulsegateComponentsOverdue',
      'PulsegateComponentsExpired',
      'PulsegateNotificationsBacklog',
      'PulsegateNotificationsFailing',
      'PulsegateNotificationsDropped',
      'PulsegateDown',
      'PulsegateAbsent',
    ])
    for (const { body } of alerts) expect(expressionOf(body)).toMatch(/\S/)
  })

  it('reads only metrics pulsegate exports, and up', () => {
    const known = new Set([...Object.keys(METRICS), ...NOTIFICATION_METRICS, ...PROMETHEUS_METRICS])
    const used = alerts.flatMap(({ name, body }) => metricNames(expressionOf(body)).map((metric) => `${name}: ${metric}`))
    expect(used.filter((u) => !known.has(u.slice(u.indexOf(': ') + 2)))).toEqual([])
    // Not vacuous: the parse finds each family the rules are about.
    expect(new Set(used.map((u) => u.slice(u.indexOf(': ') + 2)))).toEqual(
      new Set(['process_state', 'pulsegate_overdue_components', 'pulsegate_expired_total', ...NOTIFICATION_METRICS, 'up']),
    )
  })

  it('flags an unknown metric, as a rule reading a renamed one would', () => {
    const known = new Set([...Object.keys(METRICS), ...NOTIFICATION_METRICS, ...PROMETHEUS_METRICS])
    expect(metricNames('increase(pulsegate_expiries_total{job="pulsegate"}[1h]) > 0').filter((m) => !known.has(m))).toEqual(['pulsegate_expiries_total'])
    expect(metricNames('absent(upp{job="pulsegate"})').filter((m) => !known.has(m))).toEqual(['upp'])
  })

  it.each(alerts)('$name has a severity, and a summary and description from $labels', ({ body }) => {
    expect(body).toMatch(/^ {10}severity: (critical|warning)$/m)
    const summary = body.match(/^ {10}summary: (.+)$/m)?.[1]
    const description = body.match(/^ {10}description: >-\n((?: {12}.+\n?)+)/m)?.[1]
    expect(summary).toMatch(/\{\{ \$(labels\.\w+|value)/)
    expect(description).toMatch(/\{\{ \$labels\.\w+ \}\}/)
  })

  it.each(alerts)('$name is tested firing and not firing in docs/alerts.test.yml', ({ name }) => {
    const cases = [...tests.matchAll(/^ {8}alertname: (\w+)\n {8}exp_alerts:( \[\])?$/gm)].filter((m) => m[1] === name)
    expect(cases.some((m) => m[2] === undefined)).toBe(true) // exp_alerts: with alerts under it
    expect(cases.some((m) => m[2] === ' []')).toBe(true)
  })
})

describe.skipIf(skipWithout('promtool'))('promtool', () => {
  it('check rules: passes, with every rule found', () => {
    const check = promtool('check', 'rules', 'docs/alerts.yml')
    expect(check, check.output).toMatchObject({ status: 0 })
    expect(check.output).toContain(`SUCCESS: ${alerts.length} rules found`)
  })

  it('test rules: every unit test of docs/alerts.test.yml passes', () => {
    const run = promtool('test', 'rules', 'docs/alerts.test.yml')
    expect(run, run.output).toMatchObject({ status: 0 })
    expect(run.output).toContain('SUCCESS')
  })

  it('test rules fails when a threshold moves: the unit tests hold the rules to what they say', () => {
    const dir = mkdtempSync(join(tmpdir(), 'pulsegate-alerts-'))
    try {
      copyFileSync(TESTS, join(dir, 'alerts.test.yml'))
      const moved = rules.replace('pulsegate_notifications_oldest_pending_seconds{job="pulsegate"} > 300', 'pulsegate_notifications_oldest_pending_seconds{job="pulsegate"} > 900')
      expect(moved).not.toBe(rules)
      writeFileSync(join(dir, 'alerts.yml'), moved)
      const run = spawnSync('promtool', ['test', 'rules', 'alerts.test.yml'], { cwd: dir, encoding: 'utf8', timeout: 60_000 })
      expect(run.status).toBe(1)
      expect(run.stdout + run.stderr).toMatch(/FAILED:[\s\S]*alertname: PulsegateNotificationsBacklog/)
    } finally {
      rmSync(dir, { recursive: true, force: true })
    }
  })
})

describe('README.md', () => {
  it('points to docs/alerts.yml and shows how to load it', () => {
    const readme = readFileSync(join(ROOT, 'README.md'), 'utf8')
    const section = readme.slice(readme.indexOf('\n## Scrape it with Prometheus\n'), readme.indexOf('\n## Probe it\n'))
    expect(section).toContain('[docs/alerts.yml](docs/alerts.yml)')
    expect(section).toContain('```yaml\nrule_files:\n  - alerts.yml\n```\n')
  })
})
