// What every sink is: a name and a delivery of one notification, which throws
// DeliveryError when it did not take. And the one POST they share: a timeout,
// and an answer sorted into "retry" and "will never take".
import { DeliveryError, type Notification } from './notification.ts'

export interface Sink {
  /** Stable while its URL is: the outbox keys its notifications by it. */
  name: string
  deliver(notification: Notification): Promise<void>
}

export interface SinkOptions {
  /** The status page of an agent, for the link a notification carries; null: none. */
  statusUrl?: ((agent: string) => string | null) | undefined
  fetch?: typeof fetch | undefined
  /** ms per attempt (default 10 s). */
  timeoutMs?: number | undefined
  clock?: (() => number) | undefined
}

export const DELIVERY_TIMEOUT_MS = 10_000
const BODY_IN_MESSAGE = 200

/** A 4xx will answer the same next time, except a timeout (408) and a rate limit (429). */
export const retryable = (status: number) => status >= 500 || status === 408 || status === 429

/** A body on one line, cut short; a JSON string (Alertmanager answers its errors so) told unquoted. */
function excerpt(body: string): string {
  let text = body
  try {
    const parsed: unknown = JSON.parse(body)
    if (typeof parsed === 'string') text = parsed
  } catch {
    // Not JSON: said as it came.
  }
  const line = text.replace(/\s+/g, ' ').trim()
  return line.length > BODY_IN_MESSAGE ? `${line.slice(0, BODY_IN_MESSAGE)}…` : line
}

/** Why a fetch threw, in a few words: the timeout, or the network error and its code (Node's cause). */
function failure(error: unknown, timeoutMs: number): string {
  if (error instanceof Error && error.name === 'TimeoutError') return `no answer within ${timeoutMs} ms`
  const code = error instanceof Error ? (error.cause as { code?: unknown } | undefined)?.code : undefined
  const message = error instanceof Error ? error.message : String(error)
  return typeof code === 'string' ? `${message} (${code})` : message
}

export interface Exchange {
  /** How messages name the request: `POST hooks.example.com`. */
  label: string
  /** Who answers, in messages: `the receiver`, `Alertmanager`. */
  peer: string
}

/**
 * Send `init` to `url`; resolves on a 2xx (its body read, so the connection is
 * free for the next one), else throws DeliveryError: retry for a network error, a
 * timeout, a 5xx, 408 or 429; no retry for any other answer.
 */
export async function deliver(url: string, init: RequestInit, exchange: Exchange, options: SinkOptions = {}): Promise<void> {
  const send = options.fetch ?? fetch
  const timeoutMs = options.timeoutMs ?? DELIVERY_TIMEOUT_MS
  let response: Response
  try {
    response = await send(url, { ...init, signal: AbortSignal.timeout(timeoutMs), redirect: 'manual' })
  } catch (error) {
    throw new DeliveryError(`${exchange.label}: ${failure(error, timeoutMs)}`)
  }
  const body = await response.text().catch(() => '')
  if (response.ok) return
  const said = excerpt(body)
  throw new DeliveryError(`${exchange.label}: ${exchange.peer} answered ${response.status}${said ? `: ${said}` : ''}`, retryable(response.status))
}
