// The Worker bundle, as `wrangler deploy` would upload it, stays under 1 MiB.
import { execFileSync } from 'node:child_process'
import { mkdtempSync, readdirSync, readFileSync } from 'node:fs'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import { gzipSync } from 'node:zlib'
import { expect, it } from 'vitest'
import { ROOT } from './support/server.ts'
import { OFFLINE_ENV, WRANGLER } from './support/wrangler.ts'

it('bundles the Worker under 1 MiB with wrangler deploy --dry-run', () => {
  const outdir = mkdtempSync(join(tmpdir(), 'pulsegate-bundle-'))
  execFileSync(process.execPath, [WRANGLER, 'deploy', '--dry-run', '--outdir', outdir], {
    cwd: ROOT,
    env: { ...process.env, ...OFFLINE_ENV },
    stdio: 'pipe',
  })
  const script = readdirSync(outdir).find((f) => f.endsWith('.js'))!
  const bundle = readFileSync(join(outdir, script))
  const gzip = gzipSync(bundle).byteLength
  console.log(`worker bundle: ${bundle.byteLength} bytes raw, ${gzip} bytes gzip`)
  expect(bundle.byteLength).toBeGreaterThan(10_000) // the app really is in there
  expect(bundle.toString()).toContain('process_state')
  expect(bundle.byteLength).toBeLessThan(1024 * 1024)
}, 120_000)
