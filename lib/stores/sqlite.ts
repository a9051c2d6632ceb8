// The Node store: a SQLite file through node:sqlite (Node ≥ 22.18). Only the binding
// is here. node:sqlite is synchronous, and a COMMIT waits for its fsync: so commits
// run on a writer thread with a connection of its own (sqlite-writer.ts), and the
// event loop serves other requests meanwhile. Those that arrive while a commit is
// under way share the next one. A heartbeat is still answered only once committed.
import { fileURLToPath } from 'node:url'
import { Worker } from 'node:worker_threads'
import { openSqliteFile, type SqliteOptions, type Synchronous } from './sqlite-file.ts'
import type { Write } from './driver.ts'
import type { Engine, EngineSettings } from './engine.ts'
import { openNodeSqlite } from './node-sqlite.ts'
import type { SqlWriter } from './sql.ts'

export { DATABASE_FILE, type SqliteOptions } from './sqlite-file.ts'

/** The answer of the writer thread to one commit. */
export interface WriterAnswer {
  id: number
  error?: string
}

/** Commits on a thread of their own; a thread that dies fails its commit and every later one. */
function writerThread(path: string, synchronous: Synchronous): SqlWriter {
  const worker = new Worker(fileURLToPath(import.meta.resolve('./sqlite-writer.ts')), { workerData: { path, synchronous } })
  // The server keeps the process alive; the writer must not keep it from exiting.
  worker.unref()
  const pending = new Map<number, { resolve: () => void; reject: (error: Error) => void }>()
  let lastId = 0
  let dead: Error | undefined
  const fail = (error: Error) => {
    dead ??= error
    for (const { reject } of pending.values()) reject(dead)
    pending.clear()
  }
  worker.on('message', ({ id, error }: WriterAnswer) => {
    const waiting = pending.get(id)
    pending.delete(id)
    if (error === undefined) waiting?.resolve()
    else waiting?.reject(new Error(error))
  })
  worker.on('error', (error) => fail(new Error(`the SQLite writer thread failed: ${error.message}`)))
  worker.on('exit', (code) => fail(new Error(`the SQLite writer thread exited (${code})`)))
  return {
    write: (writes: readonly Write[]) =>
      new Promise<void>((resolve, reject) => {
        if (dead) return reject(dead)
        const id = ++lastId
        pending.set(id, { resolve, reject })
        worker.postMessage({ id, writes })
      }),
    close: async () => {
      await worker.terminate()
    },
  }
}

export function openSqliteStore(options: SqliteOptions, settings: EngineSettings): Promise<Engine> {
  return openSqliteFile(options, settings, openNodeSqlite, 'node', writerThread)
}
