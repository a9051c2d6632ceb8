// Headless Chromium for tests: Debian's /usr/bin/chromium driven by playwright-core
// (no browser download). Every request that is not to 127.0.0.1 is aborted and
// recorded in `outside`, so a test can assert that a page fetched nothing from
// the internet. playwright's launch() gives each browser a fresh temporary
// --user-data-dir of its own (and refuses one passed in args), removed on close.
import { mkdirSync, readFileSync } from 'node:fs'
import { createRequire } from 'node:module'
import { tmpdir } from 'node:os'
import { dirname, join } from 'node:path'
import { type Browser, type BrowserContext, type BrowserContextOptions, chromium, type Page } from 'playwright-core'
import { ROOT } from './server.ts'

export const CHROMIUM = '/usr/bin/chromium'
export const CHROMIUM_ARGS = [
  '--headless',
  '--no-sandbox',
  '--disable-gpu',
  '--disable-quic',
  '--no-first-run',
  '--disable-background-networking',
  '--disable-component-update',
  '--disable-sync',
  // A second fence behind the request router: no host name resolves, so nothing
  // the router cannot see (the browser's own fetches) leaves the machine either.
  '--host-resolver-rules=MAP * ~NOTFOUND, EXCLUDE 127.0.0.1',
]

/** The phone the pages must work on. */
export const PHONE = { width: 360, height: 740 }

export interface PageOptions {
  javaScript?: boolean
  colorScheme?: 'light' | 'dark'
  /** 360 × 740 at 2× instead of 1280 × 800. */
  phone?: boolean
}

export interface Harness {
  browser: Browser
  /** Requests a page tried to make beyond 127.0.0.1, all aborted. */
  outside: string[]
  /** Requests to 127.0.0.1, in order: what a page fetched. */
  inside: string[]
  /** A page in a new context of its own (JavaScript, colour scheme and size are per context). */
  page(options?: PageOptions): Promise<Page>
  close(): Promise<void>
}

function isLocal(url: string): boolean {
  const u = new URL(url)
  if (u.protocol === 'data:' || u.protocol === 'blob:' || u.protocol === 'about:') return true
  return u.hostname === '127.0.0.1'
}

async function fence(context: BrowserContext, outside: string[], inside: string[]): Promise<void> {
  await context.route('**/*', (route) => {
    const url = route.request().url()
    if (isLocal(url)) {
      inside.push(url)
      return route.continue()
    }
    outside.push(url)
    return route.abort('blockedbyclient')
  })
  await context.routeWebSocket(/.*/, (ws) => {
    if (isLocal(ws.url())) return void ws.connectToServer()
    outside.push(ws.url())
    return ws.close()
  })
}

export async function launchChromium(): Promise<Harness> {
  const browser = await chromium.launch({ executablePath: CHROMIUM, args: CHROMIUM_ARGS })
  const outside: string[] = []
  const inside: string[] = []
  const contexts: BrowserContext[] = []
  return {
    browser,
    outside,
    inside,
    async page({ javaScript = true, colorScheme = 'light', phone = false }: PageOptions = {}) {
      const options: BrowserContextOptions = {
        javaScriptEnabled: javaScript,
        colorScheme,
        viewport: phone ? PHONE : { width: 1280, height: 800 },
        deviceScaleFactor: phone ? 2 : 1,
        isMobile: phone,
        hasTouch: phone,
        reducedMotion: 'reduce',
      }
      const context = await browser.newContext(options)
      contexts.push(context)
      await fence(context, outside, inside)
      return context.newPage()
    },
    async close() {
      for (const context of contexts) await context.close().catch(() => {})
      await browser.close()
    },
  }
}

const require = createRequire(import.meta.url)
let axeSource: string | undefined

export interface AxeViolation {
  id: string
  impact: string | null
  help: string
  nodes: { target: unknown[]; failureSummary?: string }[]
}

/**
 * Run axe-core in the page, loaded from node_modules (never a CDN) and evaluated
 * through the DevTools protocol, so the page's own Content-Security-Policy stays on.
 */
export async function axe(page: Page): Promise<AxeViolation[]> {
  axeSource ??= readFileSync(require.resolve('axe-core/axe.min.js'), 'utf8')
  await page.evaluate(axeSource)
  const results = await page.evaluate(async () => {
    const run = (globalThis as unknown as { axe: { run: (context: unknown, options: unknown) => Promise<{ violations: AxeViolation[] }> } }).axe.run
    const { violations } = await run((globalThis as any).document, {
      runOnly: { type: 'tag', values: ['wcag2a', 'wcag2aa', 'wcag21a', 'wcag21aa', 'wcag22aa', 'best-practice'] },
    })
    return violations.map((v) => ({ id: v.id, impact: v.impact, help: v.help, nodes: v.nodes.map((n) => ({ target: n.target, failureSummary: n.failureSummary })) }))
  })
  return results
}

/** Violations that fail a test: serious and critical. */
export const serious = (violations: AxeViolation[]) => violations.filter((v) => v.impact === 'serious' || v.impact === 'critical')

/**
 * Take a full-page screenshot. With SCREENSHOTS=update it replaces
 * docs/screenshots/<name>.png (the README's pictures); otherwise it goes to a
 * temp dir, so a test run leaves the work tree as it was. Resolves with its path.
 */
export async function screenshot(page: Page, name: string): Promise<string> {
  const dir = process.env.SCREENSHOTS === 'update' ? join(ROOT, 'docs/screenshots') : join(tmpdir(), 'pulsegate-screenshots')
  const path = join(dir, `${name}.png`)
  mkdirSync(dirname(path), { recursive: true })
  await page.screenshot({ path, fullPage: true })
  return path
}
