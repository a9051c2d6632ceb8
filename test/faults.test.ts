// Faults of the disk under a running Node server: a full file system and a
// database that refuses writes. The heartbeat gets 503 with Retry-After, probes
// keep answering from what is stored, and writes resume by themselves.
import { execFileSync } from 'node:child_process'
import { mkdtempSync, openSync, rmSync, writeSync, closeSync } from 'node:fs'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import { DatabaseSync } from 'node:sqlite'
import { afterAll, describe, expect, it } from 'vitest'
import { client } from './support/burst.ts'
import { type RunningServer, startServer, tempDataDir } from './support/server.ts'

const running: RunningServer[] = []
const mounted: (() => void)[] = []
afterAll(async () => {
  for (const server of running) if (server.child.exitCode === null) await server.kill()
  for (const unmount of mounted) unmount()
})

/** A 2 MiB tmpfs of our own, where a full disk can be made; needs root, as CI and this machine have. */
function smallFileSystem(): { dir: string } | undefined {
  const dir = mkdtempSync(join(tmpdir(), 'pulsegate-full-'))
  try {
    execFileSync('mount', ['-t', 'tmpfs', '-o', 'size=2m', 'tmpfs', dir], { stdio: 'pipe' })
  } catch (error) {
    if (process.env.CI === 'true') throw error
    console.warn(`\n*** cannot mount a tmpfs (${(error as Error).message.split('\n')[0]}): skipping the full-disk test ***\n`)
    return undefined
  }
  const unmount = () => execFileSync('umount', ['-l', dir])
  mounted.push(unmount)
  return { dir }
}

/** Fill the file system to the last byte. */
function fill(path: string): void {
  const fd = openSync(path, 'w')
  const chunk = Buffer.alloc(64 * 1024, 1)
  try {
    for (;;) writeSync(fd, chunk)
  } catch {
    // ENOSPC: full; now the last few bytes
    try {
      for (;;) writeSync(fd, chunk, 0, 512)
    } catch {
      // full to the block
    }
  } finally {
    closeSync(fd)
  }
}

const bigBatch = (round: number) =>
  Array.from({ length: 12 }, (_, i) => ({ agent: `filler-${round}-${i}`, status: 'ok', message: 'x'.repeat(1000) }))

describe('a full disk', () => {
  const fs = smallFileSystem()
  it.skipIf(!fs)('answers 503 with Retry-After, keeps probing, and resumes when space is back', async () => {
    const server = await startServer({ RATE_LIMIT_PER_SECOND: '0', MAX_AGENTS: '0' }, join(fs!.dir, 'data'))
    running.push(server)
    const { beat, get } = client(server.url)
    expect((await beat({ agent: 'node-17', status: 'ok' })).status).toBe(200)
    expect((await beat({ agent: 'node-9', status: 'degraded' })).status).toBe(200)
    fill(join(fs!.dir, 'filler'))

    let refused: Awaited<ReturnType<typeof beat>> | undefined
    for (let round = 0; round < 40 && !refused; round++) {
      const answer = await beat(bigBatch(round))
      if (answer.status !== 200) refused = answer
    }
    expect(refused, 'the disk never filled').toBeDefined()
    expect(refused!.status).toBe(503)
    expect(refused!.body.error.code).toBe('store_unavailable')
    const res = await fetch(`${server.url}/v1/heartbeat`, {
      method: 'POST', headers: { 'Content-Type': 'application/json' }, body: JSON.stringify(bigBatch(99)),
    })
    expect(res.status).toBe(503)
    expect(res.headers.get('Retry-After')).toBe('1')

    // Probes answer from what is stored.
    expect((await get('/readyz/node-17')).status).toBe(200)
    expect((await get('/readyz/node-9')).status).toBe(503)
    expect((await get('/metrics')).status).toBe(200)

    rmSync(join(fs!.dir, 'filler'))
    expect((await beat({ agent: 'node-9', status: 'ok' })).status).toBe(200)
    await server.stop()
    const again = await startServer({}, join(fs!.dir, 'data'))
    running.push(again)
    expect((await client(again.url).get('/readyz/node-9')).json().state).toBe('recovering')
    await again.stop()
  })
})

describe('a database that refuses writes', () => {
  it('answers 503 while it does, and takes heartbeats again by itself', async () => {
    const dataDir = tempDataDir()
    const server = await startServer({}, dataDir)
    running.push(server)
    const { beat, get } = client(server.url)
    expect((await beat({ agent: 'a', status: 'ok' })).status).toBe(200)
    const saboteur = new DatabaseSync(join(dataDir, 'pulsegate.sqlite'))
    saboteur.exec("CREATE TRIGGER refuse BEFORE INSERT ON entries WHEN NEW.kind = 'component' BEGIN SELECT RAISE(ABORT, 'attempt to write a readonly database'); END")
    const refused = await beat({ agent: 'a', status: 'degraded' })
    expect(refused.status).toBe(503)
    expect(JSON.stringify(refused.body)).not.toMatch(/readonly|sqlite|\/tmp/i) // no internals in the answer
    expect((await get('/readyz/a')).status).toBe(200)
    saboteur.exec('DROP TRIGGER refuse')
    saboteur.close()
    expect((await beat({ agent: 'a', status: 'degraded' })).status).toBe(200)
    expect((await get('/readyz/a')).status).toBe(503)
    await server.stop()
  })
})
