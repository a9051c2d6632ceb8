// A real browser against the real Node server: Debian's Chromium, headless, driven
// by playwright-core. /docs opens with nothing fetched beyond 127.0.0.1, and pages
// on other origins (other 127.0.0.1 ports) call the API when CORS_ORIGINS allows
// their origin, and are refused when it does not.
import { existsSync } from 'node:fs'
import { type Server, createServer } from 'node:http'
import { join } from 'node:path'
import { afterAll, beforeAll, describe, expect, it } from 'vitest'
import { CHROMIUM, type Harness, launchChromium } from './support/browser.ts'
import { type RunningServer, startServer, tempDir } from './support/server.ts'

const TOKEN = 'browser-secret'

/** A server on 127.0.0.1 that answers every path with an empty page: an origin of its own. */
async function pageServer(): Promise<{ origin: string; server: Server }> {
  const server = createServer((_req, res) => {
    res.writeHead(200, { 'Content-Type': 'text/html; charset=utf-8' })
    res.end('<!doctype html><html lang="en"><title>another origin</title><p>another origin</p></html>')
  })
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve))
  const { port } = server.address() as { port: number }
  return { origin: `http://127.0.0.1:${port}`, server }
}

describe.skipIf(!existsSync(CHROMIUM))('in Chromium', () => {
  let browser: Harness
  let pulsegate: RunningServer
  let allowed: Awaited<ReturnType<typeof pageServer>>
  let refused: Awaited<ReturnType<typeof pageServer>>

  beforeAll(async () => {
    ;[allowed, refused] = await Promise.all([pageServer(), pageServer()])
    ;[browser, pulsegate] = await Promise.all([
      launchChromium(),
      startServer({ CORS_ORIGINS: allowed.origin, HEARTBEAT_TOKEN: TOKEN }),
    ])
  })
  afterAll(async () => {
    await browser?.close()
    await pulsegate?.stop()
    for (const page of [allowed, refused]) page?.server.close()
  })

  it('opens /docs with no request leaving 127.0.0.1, and shows the heartbeat route', async () => {
    const page = await browser.page()
    const answer = await page.goto(`${pulsegate.url}/docs`)
    expect(answer?.status()).toBe(200)
    await page.waitForLoadState('networkidle')
    expect(browser.outside).toEqual([])
    expect(browser.inside).toEqual([`${pulsegate.url}/docs`])
    expect(await page.title()).toBe('pulsegate 0.1.0 API reference')
    const heartbeat = page.getByRole('heading', { name: 'POST /v1/heartbeat', level: 3 })
    await expect(heartbeat.isVisible()).resolves.toBe(true)
    expect(await page.getByRole('navigation', { name: 'Operations' }).getByRole('link', { name: /POST \/v1\/heartbeat/ }).count()).toBe(1)
    expect(await page.getByRole('main').count()).toBe(1)
    await page.screenshot({ path: join(tempDir('pulsegate-docs-'), 'docs.png'), fullPage: false })
    await page.close()
  })

  /** From a page of `origin`: post a heartbeat with the token, then read /readyz; what the page could see. */
  async function callFrom(origin: string, agent: string) {
    // Not the harness's fenced page: with request routing on, Playwright answers every CORS preflight
    // itself, allowing any origin, so pulsegate's answer would never be asked. The launch's
    // host-resolver rules still keep this page on 127.0.0.1.
    const page = await browser.browser.newPage()
    await page.goto(`${origin}/`)
    const seen = await page.evaluate(
      async ({ base, agent, token }) => {
        const attempt = async (run: () => Promise<Response>) => {
          try {
            const res = await run()
            return { status: res.status, body: await res.json(), challenge: res.headers.get('WWW-Authenticate') }
          } catch (error) {
            return { failed: String(error) }
          }
        }
        const heartbeat = JSON.stringify({ agent, status: 'ok' })
        const post = await attempt(() =>
          fetch(`${base}/v1/heartbeat`, {
            method: 'POST',
            headers: { 'Content-Type': 'application/json', Authorization: `Bearer ${token}` },
            body: heartbeat,
          }),
        )
        const unauthorized = await attempt(() =>
          fetch(`${base}/v1/heartbeat`, { method: 'POST', headers: { 'Content-Type': 'application/json' }, body: heartbeat }),
        )
        const readyz = await attempt(() => fetch(`${base}/readyz`))
        return { post, unauthorized, readyz }
      },
      { base: pulsegate.url, agent, token: TOKEN },
    )
    await page.close()
    return seen
  }

  it('lets a page of an allowed origin post a heartbeat and read /readyz', async () => {
    expect(await callFrom(allowed.origin, 'browser-1')).toEqual({
      post: { status: 200, body: { accepted: 1, results: [{ agent: 'browser-1', component: 'main', state: 'ok' }] }, challenge: null },
      // Exposed: the page can read why it was refused.
      unauthorized: { status: 401, body: { error: expect.objectContaining({ code: 'unauthorized' }) }, challenge: 'Bearer realm="pulsegate"' },
      readyz: { status: 200, body: { status: 'ok', state: 'ok' }, challenge: null },
    })
  })

  it('refuses a page of another origin: the browser blocks both calls, and nothing is stored', async () => {
    const seen = await callFrom(refused.origin, 'browser-2')
    expect(seen).toEqual({
      post: { failed: 'TypeError: Failed to fetch' },
      unauthorized: { failed: 'TypeError: Failed to fetch' },
      readyz: { failed: 'TypeError: Failed to fetch' },
    })
    // The preflight was refused, so the POST itself was never sent.
    expect((await fetch(`${pulsegate.url}/readyz/browser-2`)).status).toBe(404)
  })
})
