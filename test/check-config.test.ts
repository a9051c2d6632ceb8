// npm run check: wrangler.toml's vars validated with the Worker's own schema before a deploy.
import { spawnSync } from 'node:child_process'
import { readFileSync, writeFileSync } from 'node:fs'
import { join } from 'node:path'
import { describe, expect, it } from 'vitest'
import { checkConfig } from '../bin/check-config.ts'
import { ROOT, tempDir } from './support/server.ts'

const shipped = readFileSync(join(ROOT, 'wrangler.toml'), 'utf8')

describe('npm run check', () => {
  it("passes the repository's wrangler.toml, and the script exits 0 on it", () => {
    expect(checkConfig(shipped)).toEqual({ errors: [], warnings: [] })
    const run = spawnSync(process.execPath, ['bin/check-config.ts'], { cwd: ROOT, encoding: 'utf8' })
    expect(run.status).toBe(0)
    expect(run.stdout).toContain("the Worker's settings are valid")
  })

  it('stops on a bad value, in [vars] or an environment, naming the variable', () => {
    const bad = shipped.replace('RECOVERY_SECONDS = "10"', 'RECOVERY_SECONDS = "-1"') + '\n[env.staging.vars]\nPROBE_SOURCE = "kv"\n'
    const { errors } = checkConfig(bad)
    expect(errors).toEqual([
      expect.stringMatching(/^\[vars\]: invalid setting RECOVERY_SECONDS:/),
      expect.stringMatching(/^\[env\.staging\.vars\]: invalid setting PROBE_SOURCE:/),
    ])
    const file = join(tempDir('pulsegate-check-'), 'wrangler.toml')
    writeFileSync(file, bad)
    const run = spawnSync(process.execPath, ['bin/check-config.ts', file], { cwd: ROOT, encoding: 'utf8' })
    expect(run.status).toBe(1)
    expect(run.stderr).toMatch(/RECOVERY_SECONDS/)
    expect(run.stderr).not.toMatch(/\n\s+at /) // one line each, no stack
  })

  it('refuses a token in [vars], and only warns about a setting Workers never read', () => {
    const config = shipped.replace('[vars]', '[vars]\nHEARTBEAT_TOKEN = "in-plain-text"\nPORT = "9000"')
    const { errors, warnings } = checkConfig(config)
    expect(errors).toEqual([expect.stringMatching(/HEARTBEAT_TOKEN is a secret; use `wrangler secret put HEARTBEAT_TOKEN`/)])
    expect(errors.join()).not.toContain('in-plain-text')
    expect(warnings).toEqual(['[vars]: PORT is not a setting pulsegate reads on Workers; it is ignored'])
  })
})
