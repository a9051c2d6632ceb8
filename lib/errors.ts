// One JSON shape for every 4xx and 5xx:
//   {"error": {"code": "invalid_heartbeat", "message": "...", "issues": [...]}}
import type { Context } from 'hono'
import { HTTPException } from 'hono/http-exception'
import type { ContentfulStatusCode } from 'hono/utils/http-status'
import { LimitError } from './limits.ts'

export interface Issue {
  path: (string | number)[]
  message: string
}

export interface ErrorBody {
  error: { code: string; message: string; issues?: Issue[] }
}

/** An error the API answers with: a status, a stable machine-readable code and a message for people. */
export class ApiError extends HTTPException {
  readonly code: string
  readonly issues: Issue[] | undefined
  readonly headers: Record<string, string>

  constructor(
    status: ContentfulStatusCode,
    code: string,
    message: string,
    options: { issues?: Issue[]; headers?: Record<string, string> } = {},
  ) {
    super(status, { message })
    this.code = code
    this.issues = options.issues
    this.headers = options.headers ?? {}
  }
}

/** Codes for the HTTPExceptions Hono's own middleware throws. */
function fromHonoException(error: HTTPException): ApiError {
  const challenge = error.res?.headers.get('WWW-Authenticate')
  const headers: Record<string, string> = challenge ? { 'WWW-Authenticate': challenge } : {}
  switch (error.status) {
    case 400:
      // bearer-auth: an Authorization header that is not "Bearer <token>"; the validator: bad JSON.
      return challenge
        ? new ApiError(400, 'invalid_authorization', 'the Authorization header must be "Bearer <token>"', { headers })
        : new ApiError(400, 'malformed_json', 'the request body is not valid JSON')
    case 401:
      return new ApiError(401, 'unauthorized', 'a valid bearer token is required', { headers })
    case 415:
      // @hono/zod-openapi's media type gate, behind requireJson: only a type requireJson lets through and it does not.
      return new ApiError(415, 'unsupported_media_type', 'send the body as Content-Type: application/json')
    default:
      return new ApiError(error.status as ContentfulStatusCode, 'http_error', error.message || 'request failed', { headers })
  }
}

export function toApiError(error: unknown): ApiError {
  if (error instanceof ApiError) return error
  if (error instanceof HTTPException) return fromHonoException(error)
  if (error instanceof LimitError) {
    const headers: Record<string, string> = error.retryAfter ? { 'Retry-After': String(error.retryAfter) } : {}
    return new ApiError(error.status, error.code, `${error.message}; nothing was stored`, { headers })
  }
  return new ApiError(500, 'internal_error', 'internal error')
}

export function errorResponse(c: Context, error: ApiError): Response {
  const body: ErrorBody = { error: { code: error.code, message: error.message } }
  if (error.issues) body.error.issues = error.issues
  return c.json(body, error.status as ContentfulStatusCode, error.headers)
}
