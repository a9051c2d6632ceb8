// The data directory a server owns: made (without Node's recursive mkdir, which
// never returns for a path under /proc), checked before anything opens in it, and
// held by one server at a time. Every failure is one line that says what to do.
import { closeSync, mkdirSync, openSync, readFileSync, statSync, writeFileSync } from 'node:fs'
import { dirname, join } from 'node:path'
import { StartError } from '../settings.ts'
import type { SqlDatabase } from './sql.ts'

export class DataDirError extends StartError {
  name = 'DataDirError'
}

/** The lock every runtime takes (an exclusive SQLite lock), and who holds it, for the message of the next one. */
export const LOCK_FILE = 'pulsegate.lock'
export const HOLDER_FILE = 'pulsegate.pid'

const REASONS: Readonly<Record<string, string>> = {
  EACCES: 'permission denied',
  EPERM: 'permission denied',
  EROFS: 'it is on a read-only file system',
  ENOSPC: 'no space is left on the device',
  ENOTDIR: 'a part of the path is a file, not a directory',
  ENOENT: 'there is no such directory, and it cannot be made',
  ELOOP: 'there are too many symbolic links in the path',
  EEXIST: 'a file of that name is in the way',
}

/** Why a file system call failed, in words. */
export function reasonOf(error: unknown): string {
  const code = (error as { code?: string }).code
  return (code && REASONS[code]) ?? (error as Error).message
}

/** mkdir -p, one level at a time: a second ENOENT where the parent exists is an answer, not a loop. */
function makeDirectory(dir: string): void {
  try {
    mkdirSync(dir)
  } catch (error) {
    const code = (error as { code?: string }).code
    if (code === 'EEXIST' && statSync(dir).isDirectory()) return
    const parent = dirname(dir)
    if (code !== 'ENOENT' || parent === dir) throw error
    makeDirectory(parent)
    mkdirSync(dir)
  }
}

/** Make DATA_DIR if it is missing, and make sure it is a directory this process can write in. */
export function prepareDataDir(dir: string): void {
  try {
    makeDirectory(dir)
  } catch (error) {
    throw new DataDirError(`cannot use DATA_DIR ${dir}: ${reasonOf(error)}`)
  }
  // Whether it can be written is asked by opening the lock file for appending (made if
  // missing, never truncated): a real write, with an errno to say why not.
  try {
    closeSync(openSync(join(dir, LOCK_FILE), 'a'))
  } catch (error) {
    throw new DataDirError(`cannot write in DATA_DIR ${dir}: ${reasonOf(error)}`)
  }
}

/** A file pulsegate opens in DATA_DIR must be a file: a directory in its place is a mistake to name. */
export function checkFile(path: string): void {
  try {
    if (statSync(path).isDirectory()) throw new DataDirError(`${path} is a directory, where pulsegate keeps its database file; move it away`)
  } catch (error) {
    if (error instanceof DataDirError) throw error
    // Missing: pulsegate creates it.
  }
}

export interface Holder {
  pid: number
  runtime: string
  since: string
}

function holderOf(dir: string): string {
  try {
    const { pid, runtime, since } = JSON.parse(readFileSync(join(dir, HOLDER_FILE), 'utf8')) as Holder
    return ` (pid ${pid}, ${runtime}, since ${since})`
  } catch {
    return ''
  }
}

/**
 * Hold DATA_DIR for this process: an exclusive lock on DATA_DIR/pulsegate.lock,
 * which SQLite takes with the file system's own locks, so every runtime honours it
 * and the system drops it when the process ends, kill -9 included: no stale lock,
 * no pid to trust. A second server on the directory fails here, at once. Resolves
 * with the release.
 */
export function lockDataDir(dir: string, open: (path: string) => SqlDatabase, runtime: string): () => void {
  const db = open(join(dir, LOCK_FILE))
  try {
    db.exec('PRAGMA locking_mode = EXCLUSIVE')
    db.exec('PRAGMA busy_timeout = 0')
    // BEGIN EXCLUSIVE takes the lock at once; in exclusive mode it is kept until the connection closes.
    db.exec('BEGIN EXCLUSIVE')
    db.exec('CREATE TABLE IF NOT EXISTS held (since TEXT)')
    db.exec('COMMIT')
  } catch (error) {
    db.close()
    if (/locked|busy/i.test((error as Error).message)) {
      throw new DataDirError(`DATA_DIR ${dir} is in use by another pulsegate${holderOf(dir)}; stop it, or give this one another DATA_DIR`)
    }
    throw new DataDirError(`cannot lock DATA_DIR ${dir}: ${reasonOf(error)}`)
  }
  const holder: Holder = { pid: process.pid, runtime, since: new Date().toISOString() }
  writeFileSync(join(dir, HOLDER_FILE), `${JSON.stringify(holder)}\n`)
  return () => db.close()
}

/** The identity of a file, so a file deleted or replaced under a running server is noticed. */
export function fileIdentity(path: string): string | undefined {
  try {
    const { dev, ino } = statSync(path)
    return `${dev}:${ino}`
  } catch {
    return undefined
  }
}

/**
 * A check that `path` is still the file that was opened: a database file deleted
 * or replaced under a running server would take acknowledged heartbeats into a
 * file nobody will open again. Throws, saying so, once it is not.
 */
export function watchFile(path: string): () => void {
  const opened = fileIdentity(path)
  return () => {
    if (fileIdentity(path) === opened) return
    throw new Error(`the database file ${path} was deleted or replaced while pulsegate ran; restart pulsegate to open the file that is there now`)
  }
}
