// The README quotes the snippets the conformance tests run, word for word.
import { readFileSync } from 'node:fs'
import { describe, expect, it } from 'vitest'
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
