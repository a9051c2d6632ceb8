// The debug service: the profile routes (lib/routes/debug.ts) on a Unix socket,
// DATA_DIR/debug.sock, always on, for `pulsegate debug profile`. A socket rather
// than a loopback port: its file mode (0600) is the access control, so only the
// user that runs the server (and root) can ask, where any local user or process
// could reach a loopback port; it listens on nothing of the network; and it lives
// in DATA_DIR, behind that folder's own permissions, with no port to pick or clash.
import { chmodSync, mkdtempSync, renameSync, rmSync } from 'node:fs'
import { createServer, type IncomingMessage, type ServerResponse } from 'node:http'
import { join } from 'node:path'
import { Hono } from 'hono'
import { ApiError, errorResponse, toApiError } from '../errors.ts'
import { debugRoutes, type Profiler } from '../routes/debug.ts'

export const DEBUG_SOCKET = 'debug.sock'
/** The longest path a Unix socket may have on macOS (Linux: 107 bytes). */
const MAX_SOCKET_PATH_BYTES = 103

export const debugSocketPath = (dataDir: string): string => join(dataDir, DEBUG_SOCKET)

export interface DebugService {
  path: string
  /** Stop listening, drop what is in flight (a CPU profile stops), and remove the socket; waits for nothing. */
  close(): void
}

function debugApp(profiler: Profiler): Hono {
  const app = new Hono()
  app.onError((error, c) => {
    const apiError = toApiError(error)
    if (apiError.status >= 500 && !(error instanceof ApiError)) console.error(error)
    return errorResponse(c, apiError)
  })
  app.notFound((c) => errorResponse(c, new ApiError(404, 'not_found', 'no such path; the debug socket serves /debug/pprof/profile and /debug/pprof/heap')))
  app.route('/', debugRoutes({ profiler }))
  return app
}

/**
 * Node's request as the app's, and its answer back: a few lines rather than
 * @hono/node-server, whose import replaces the global Response (Bun's server then
 * refuses every answer). Enough for GETs without a body.
 */
function listener(fetch: (request: Request) => Response | Promise<Response>) {
  return async (req: IncomingMessage, res: ServerResponse) => {
    const gone = new AbortController() // the client hung up: a CPU profile stops
    res.once('close', () => gone.abort())
    try {
      const headers = new Headers()
      for (const [name, value] of Object.entries(req.headers)) for (const v of [value ?? []].flat()) headers.append(name, v)
      const response = await fetch(new Request(`http://pulsegate${req.url ?? '/'}`, { method: req.method, headers, signal: gone.signal }))
      const body = new Uint8Array(await response.arrayBuffer())
      res.writeHead(response.status, { ...Object.fromEntries(response.headers), 'Content-Length': body.byteLength })
      res.end(body)
    } catch {
      res.destroy()
    }
  }
}

/**
 * Listen on DATA_DIR/debug.sock. The socket is bound in a fresh folder only this
 * user can enter, made 0600 there, and only then renamed into place: so it is never
 * reachable with wider permissions, and the rename replaces, in one step, a stale
 * socket left by a server that was killed (DATA_DIR is this server's alone: the
 * store holds its lock).
 */
export async function openDebugService(dataDir: string, profiler: Profiler): Promise<DebugService> {
  const path = debugSocketPath(dataDir)
  const staging = mkdtempSync(join(dataDir, '.debug-'))
  const bound = join(staging, 's')
  const server = createServer(listener(debugApp(profiler).fetch))
  try {
    if (new TextEncoder().encode(bound).length > MAX_SOCKET_PATH_BYTES) {
      throw new Error(`the path is too long for a Unix socket (at most ${MAX_SOCKET_PATH_BYTES} bytes): use a shorter DATA_DIR`)
    }
    await new Promise<void>((resolve, reject) => {
      server.once('error', reject)
      server.listen(bound, () => {
        server.off('error', reject)
        resolve()
      })
    })
    chmodSync(bound, 0o600)
    renameSync(bound, path)
  } catch (error) {
    server.close()
    throw error
  } finally {
    rmSync(staging, { recursive: true, force: true })
  }
  return {
    path,
    close: () => {
      rmSync(path, { force: true })
      server.close()
      if ('closeAllConnections' in server) server.closeAllConnections()
    },
  }
}
