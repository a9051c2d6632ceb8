// The writer thread of the Node store (sqlite.ts): its own connection to the file
// the main thread has checked and tuned, and one transaction per message, answered
// once committed (fsynced, with synchronous = FULL).
import { parentPort, workerData } from 'node:worker_threads'
import { watchFile } from './data-dir.ts'
import type { Write } from './driver.ts'
import { openNodeSqlite } from './node-sqlite.ts'
import { writeEntries } from './sql.ts'
import type { WriterAnswer } from './sqlite.ts'
import type { Synchronous } from './sqlite-file.ts'

const { path, synchronous } = workerData as { path: string; synchronous: Synchronous }
const db = openNodeSqlite(path)
// Checked before every transaction, here where the write happens: never into a file that is gone.
const verify = watchFile(path)
// Per connection: the main thread's pragmas do not reach this one (journal_mode is the file's).
db.exec(`PRAGMA synchronous = ${synchronous}`)
db.exec('PRAGMA busy_timeout = 5000')

parentPort!.on('message', ({ id, writes }: { id: number; writes: Write[] }) => {
  let answer: WriterAnswer = { id }
  try {
    verify()
    writeEntries(db, writes)
  } catch (error) {
    answer = { id, error: (error as Error).message }
  }
  parentPort!.postMessage(answer)
})
