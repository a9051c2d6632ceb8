// The README quotes the snippets the conformance tests run, word for word, and the
// Kubernetes snippet's settings do what it says.
import { readFileSync } from 'node:fs'
import { describe, expect, it } from 'vitest'
import { checkExposure, isLoopback, loadSettings } from '../../lib/settings.ts'
import { runToExit, tempDataDir } from '../support/server.ts'
import { CURL_GET, CURL_HEAD, DOC_PATH, SNIPPET_FILES, snippet } from './support.ts'

describe('README.md', () => {
  const doc = readFileSync(DOC_PATH, 'utf8')

  it.each(SNIPPET_FILES)('quotes test/conformance/%s as a whole block', (name) => {
    expect(doc).toContain(`\`\`\`yaml\n${snippet(name)}\`\`\`\n`)
  })

  it.each([CURL_GET, CURL_HEAD])('quotes the command %s', (command) => {
    expect(doc).toContain(`\`\`\`sh\n${command}\n\`\`\`\n`)
  })

  it('has the two sections the README takes over', () => {
    expect(doc).toMatch(/^## Scrape it with Prometheus$/m)
    expect(doc).toMatch(/^## Probe it$/m)
  })
})

describe('the Kubernetes snippet', () => {
  const text = snippet('kubernetes-probes.yml')
  const env = Object.fromEntries([...text.matchAll(/- name: (\w+)\n\s+(value: (\S+)|valueFrom:)/g)].map((m) => [m[1]!, m[3]]))

  it('listens where the kubelet probes, the pod IP, and on the port it probes', () => {
    expect(Object.keys(env)).toEqual(['HOST', 'HEARTBEAT_TOKEN'])
    const settings = loadSettings({ HOST: env.HOST!, HEARTBEAT_TOKEN: 'from-the-secret' })
    expect(isLoopback(settings.host)).toBe(false)
    const ports = [...text.matchAll(/(?:port|containerPort): (\d+)/g)].map((m) => Number(m[1]))
    expect(ports).toEqual([settings.port, settings.port, settings.port])
  })

  it('needs the token from its secret: without it, that HOST refuses to start', async () => {
    expect(() => checkExposure(loadSettings({ HOST: env.HOST!, HEARTBEAT_TOKEN: 'from-the-secret' }))).not.toThrow()
    const refused = await runToExit({ HOST: env.HOST!, DATA_DIR: tempDataDir() })
    expect(refused.code).toBe(1)
    expect(refused.output).toMatch(/^pulsegate: HOST=0\.0\.0\.0 accepts heartbeats from other machines, but HEARTBEAT_TOKEN is unset/m)
  })
})
