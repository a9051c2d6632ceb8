#!/usr/bin/env node
// `npm run check [-- FILE]`: validate the Worker's [vars] in wrangler.toml (and in
// every [env.NAME.vars]) with the schema the Worker itself uses, so a bad value
// stops a deploy here instead of answering every route with an error there.
import { readFileSync } from 'node:fs'
import { parse } from 'smol-toml'
import { SettingsError, loadSettings, settingNames } from '../lib/settings.ts'

/** Settings that are secrets: `wrangler secret put NAME`, never [vars], which are stored in plain text. */
const SECRETS = ['HEARTBEAT_TOKEN', 'METRICS_TOKEN', 'READ_TOKEN', 'PING_KEY', 'WEBHOOK_SECRET']

type Config = { vars?: Record<string, unknown>; env?: Record<string, { vars?: Record<string, unknown> }> }

/** What is wrong (the deploy stops) and what is only odd (a var the Worker never reads, such as PORT). */
export function checkConfig(text: string): { errors: string[]; warnings: string[] } {
  const config = parse(text) as Config
  const sections: [string, Record<string, unknown>][] = [['[vars]', config.vars ?? {}]]
  for (const [name, env] of Object.entries(config.env ?? {})) sections.push([`[env.${name}.vars]`, env.vars ?? {}])
  const known = new Set(settingNames('workers'))
  const errors: string[] = []
  const warnings: string[] = []
  for (const [section, vars] of sections) {
    try {
      loadSettings(vars, 'workers')
    } catch (error) {
      if (!(error instanceof SettingsError)) throw error
      errors.push(`${section}: ${error.message}`)
    }
    for (const name of Object.keys(vars)) {
      if (SECRETS.includes(name)) errors.push(`${section}: ${name} is a secret; use \`wrangler secret put ${name}\`, not [vars]`)
      else if (!known.has(name)) warnings.push(`${section}: ${name} is not a setting pulsegate reads on Workers; it is ignored`)
    }
  }
  return { errors, warnings }
}

if (import.meta.main) {
  const file = process.argv[2] ?? 'wrangler.toml'
  const { errors, warnings } = checkConfig(readFileSync(file, 'utf8'))
  for (const warning of warnings) console.warn(`${file}: warning: ${warning}`)
  for (const error of errors) console.error(`${file}: ${error}`)
  if (errors.length > 0) process.exit(1)
  console.log(`${file}: the Worker's settings are valid`)
}
