// What `npm install` leaves behind on a fresh clone: one wrangler, one workerd and
// one miniflare (the vitest plugin's own pins are overridden in package.json), and,
// in CI, which installs into a fresh clone, a tree git calls clean.
import { execFileSync } from 'node:child_process'
import { describe, expect, it } from 'vitest'
import { ROOT } from './support/server.ts'

type Tree = { version?: string; dependencies?: Record<string, Tree> }

function versions(tree: Tree, name: string, found = new Set<string>()): Set<string> {
  for (const [dependency, sub] of Object.entries(tree.dependencies ?? {})) {
    if (dependency === name && sub.version) found.add(sub.version)
    versions(sub, name, found)
  }
  return found
}

describe('npm install', () => {
  it('installs one wrangler, one workerd and one miniflare', () => {
    const tree = JSON.parse(execFileSync('npm', ['ls', '--all', '--json', 'wrangler', 'workerd', 'miniflare'], { cwd: ROOT, encoding: 'utf8' })) as Tree
    for (const name of ['wrangler', 'workerd', 'miniflare']) expect([...versions(tree, name)], name).toHaveLength(1)
  })

  it.skipIf(process.env.CI !== 'true')('leaves the tree of a fresh clone as git has it', () => {
    expect(execFileSync('git', ['status', '--porcelain'], { cwd: ROOT, encoding: 'utf8' })).toBe('')
  })
})
