// /readyz, /livez and /healthz with ?verbose and ?exclude, line for line as the
// Kubernetes apiserver answers them (k8s.io/apiserver pkg/server/healthz,
// handleRootHealth), with Teleport's codes; and no message can forge a line.
// Through app.request, every answer held to the OpenAPI document.
import { describe, expect, it } from 'vitest'
import { createApp } from '../lib/app.ts'
import { loadSettings } from '../lib/settings.ts'
import { MemoryStore } from '../lib/stores/memory.ts'
import { checkedRequest } from './support/openapi-check.ts'

const NOW = 1_800_000_000_000

function setup() {
  const settings = loadSettings({})
  const app = createApp({ store: new MemoryStore(settings), settings, runtime: 'test', clock: () => NOW })
  const request = checkedRequest(app)
  const beat = async (body: unknown) => {
    const res = await request('/v1/heartbeat', { method: 'POST', headers: { 'Content-Type': 'application/json' }, body: JSON.stringify(body) })
    expect(res.status, await res.clone().text()).toBe(200)
  }
  const get = async (path: string) => {
    const res = await request(path)
    return { status: res.status, type: res.headers.get('Content-Type'), body: await res.text() }
  }
  return { beat, get }
}

describe('every check excluded: the verdict passes, as in Kubernetes', () => {
  it('/readyz: 200, each check "excluded: ok", readyz check passed', async () => {
    const { beat, get } = setup()
    await beat([{ agent: 'node-9', status: 'degraded' }, { agent: 'node-3', status: 'starting' }])
    expect(await get('/readyz?exclude=node-9&exclude=node-3&verbose')).toEqual({
      status: 200,
      type: 'text/plain; charset=UTF-8',
      body: '[+]node-3 excluded: ok\n[+]node-9 excluded: ok\nreadyz check passed\n',
    })
    expect(await get('/readyz?exclude=node-9&exclude=node-3')).toMatchObject({ status: 200, body: '{"status":"ok","state":"ok"}' })
  })

  it('/readyz/<agent>: 200 when every component is excluded', async () => {
    const { beat, get } = setup()
    await beat([{ agent: 'db-1', component: 'backup', status: 'degraded', pid: 7 }, { agent: 'db-1', component: 'postgres', status: 'starting' }])
    expect(await get('/readyz/db-1?exclude=backup&exclude=postgres&verbose')).toMatchObject({
      status: 200,
      body: '[+]backup excluded: ok\n[+]postgres excluded: ok\nreadyz check passed\n',
    })
    expect(await get('/readyz/db-1?exclude=backup&exclude=postgres')).toMatchObject({ status: 200, body: '{"status":"ok","state":"ok","pid":7}' })
    // One left in: its state decides, with Teleport's code.
    expect(await get('/readyz/db-1?exclude=backup&verbose')).toMatchObject({
      status: 400,
      body: '[+]backup excluded: ok\n[-]postgres starting\nreadyz check failed\n',
    })
  })
})

describe('an exclusion that matches no check', () => {
  it('adds the warn line, quoted, sorted and comma-joined as Go formats it', async () => {
    const { beat, get } = setup()
    await beat({ agent: 'web-1', status: 'ok' })
    expect(await get('/readyz?verbose&exclude=nope')).toMatchObject({
      status: 200,
      body: '[+]web-1 ok\nwarn: some health checks cannot be excluded: no matches for "nope"\nreadyz check passed\n',
    })
    expect(await get('/readyz?verbose&exclude=z-nope&exclude=web-1&exclude=a-nope')).toMatchObject({
      status: 200,
      body: '[+]web-1 excluded: ok\nwarn: some health checks cannot be excluded: no matches for "a-nope","z-nope"\nreadyz check passed\n',
    })
    expect(await get('/readyz/web-1?verbose&exclude=ssh')).toMatchObject({
      status: 200,
      body: '[+]main ok\nwarn: some health checks cannot be excluded: no matches for "ssh"\nreadyz check passed\n',
    })
  })

  it('escapes a name that would break the line', async () => {
    const { beat, get } = setup()
    await beat({ agent: 'web-1', status: 'ok' })
    const forged = encodeURIComponent('x"\nreadyz check failed')
    expect((await get(`/readyz?verbose&exclude=${forged}`)).body).toBe(
      '[+]web-1 ok\nwarn: some health checks cannot be excluded: no matches for "x\\"\\nreadyz check failed"\nreadyz check passed\n',
    )
  })

  it('changes nothing without ?verbose', async () => {
    const { beat, get } = setup()
    await beat({ agent: 'web-1', status: 'ok' })
    expect(await get('/readyz?exclude=nope')).toMatchObject({ status: 200, body: '{"status":"ok","state":"ok"}' })
  })
})

describe('/livez and /healthz list their one check, ping', () => {
  it.each(['livez', 'healthz'])('/%s?verbose: [+]ping ok, then the verdict', async (probe) => {
    const { get } = setup()
    expect(await get(`/${probe}?verbose`)).toEqual({ status: 200, type: 'text/plain; charset=UTF-8', body: `[+]ping ok\n${probe} check passed\n` })
    expect((await get(`/${probe}?verbose&exclude=ping`)).body).toBe(`[+]ping excluded: ok\n${probe} check passed\n`)
    expect((await get(`/${probe}?verbose&exclude=nope`)).body).toBe(
      `[+]ping ok\nwarn: some health checks cannot be excluded: no matches for "nope"\n${probe} check passed\n`,
    )
    expect(await get(`/${probe}`)).toMatchObject({ status: 200, body: '{"status":"ok"}' })
  })
})

describe('an empty fleet', () => {
  it('still has a check line, and stays starting whatever is excluded', async () => {
    const { get } = setup()
    expect(await get('/readyz?verbose')).toMatchObject({ status: 400, body: '[-]fleet starting: no agent has reported yet\nreadyz check failed\n' })
    expect(await get('/readyz?verbose&exclude=fleet')).toMatchObject({
      status: 400,
      body: '[-]fleet starting: no agent has reported yet\nwarn: some health checks cannot be excluded: no matches for "fleet"\nreadyz check failed\n',
    })
  })
})

describe('the last line', () => {
  it('is the verdict, ended by one newline, and nothing follows it', async () => {
    const { beat, get } = setup()
    await beat([{ agent: 'a', status: 'ok' }, { agent: 'b', status: 'degraded', message: 'disk full' }])
    const failed = (await get('/readyz?verbose')).body
    expect(failed.split('\n')).toEqual(['[+]a ok', '[-]b degraded: disk full', 'readyz check failed', ''])
    const passed = (await get('/readyz?verbose&exclude=b')).body
    expect(passed.split('\n')).toEqual(['[+]a ok', '[+]b excluded: ok', 'readyz check passed', ''])
  })
})

describe('text answers cannot be forged', () => {
  it('a message holding a newline and a verdict stays on its own line, escaped', async () => {
    const { beat, get } = setup()
    await beat({ agent: 'node-9', status: 'degraded', message: 'disk\nreadyz check passed' })
    const listing = await get('/readyz?verbose')
    expect(listing).toMatchObject({ status: 503, body: '[-]node-9 degraded: disk\\nreadyz check passed\nreadyz check failed\n' })
    expect(listing.body.split('\n').filter((line) => line.startsWith('readyz check'))).toEqual(['readyz check failed'])
    expect((await get('/readyz/node-9?verbose')).body).toBe('[-]main degraded: disk\\nreadyz check passed\nreadyz check failed\n')
  })

  it('escapes every control character, the line separators, bidi overrides and the backslash', async () => {
    const { beat, get } = setup()
    await beat({ agent: 'node-9', status: 'degraded', message: 'a\r\tb\u0000c\u001b[2Jd\u0085e\u2028f\u202eg\\h é ✓' })
    expect((await get('/readyz/node-9?verbose')).body).toBe(
      '[-]main degraded: a\\r\\tb\\u0000c\\u001b[2Jd\\u0085e\\u2028f\\u202eg\\\\h é ✓\nreadyz check failed\n',
    )
  })

  it('names an agent with several components by component, escaped all the same', async () => {
    const { beat, get } = setup()
    await beat([{ agent: 'db-1', component: 'backup', status: 'degraded', message: 'x\n[+]db-2 ok' }, { agent: 'db-1', component: 'pg', status: 'ok' }])
    expect((await get('/readyz?verbose')).body).toBe('[-]db-1 degraded: backup: x\\n[+]db-2 ok\nreadyz check failed\n')
  })
})
