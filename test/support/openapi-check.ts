// Hold an answer to what the served OpenAPI document says its route answers: the
// status is listed, the headers it always has are there and match their schema,
// the Content-Type is one the document names, and the body validates against
// that media type's schema (JSON Schema 2020-12, as OpenAPI 3.1 uses). Answers no
// route can describe are held to the document's shared responses: NotFound for a
// path no route has, MethodNotAllowed for a method a path lacks, Preflight for CORS.
// Runs everywhere the HTTP tests run, workerd included: @cfworker/json-schema
// validates without generating code, which workerd forbids.
import { Validator } from '@cfworker/json-schema'

type Json = Record<string, any>

/** Check one answer; throws, naming the request, when the document does not say it. */
export type AnswerCheck = (method: string, url: string, response: Response) => Promise<void>

const essence = (type: string | null) => (type ?? '').split(';')[0]!.trim().toLowerCase()
const isJson = (type: string) => /^application\/([\w.-]+\+)?json$/.test(type)

export function answerChecker(document: Json): AnswerCheck {
  const components = document.components ?? {}
  const validators = new Map<Json, Validator>()
  const validate = (schema: Json, value: unknown, what: string) => {
    let validator = validators.get(schema)
    if (!validator) {
      // Refs (#/components/schemas/…) resolve against the root, so the components ride along.
      validator = new Validator({ ...schema, components } as never, '2020-12', false)
      validators.set(schema, validator)
    }
    const result = validator.validate(value)
    if (!result.valid) {
      const why = result.errors.map((e) => `${e.instanceLocation} ${e.error}`).join('; ')
      throw new Error(`${what} does not match the document: ${why}\n${JSON.stringify(value)?.slice(0, 2000)}`)
    }
  }
  const routes = Object.keys(document.paths ?? {}).map((template) => ({
    template,
    pattern: new RegExp(`^${template.replace(/[.*+?^$()|[\]\\]/g, '\\$&').replace(/\{[^/}]+\}/g, '[^/]+')}$`),
    exact: !template.includes('{'),
  }))
  const shared = (name: string) => components.responses?.[name] as Json

  return async (method, url, response) => {
    const { pathname } = new URL(url)
    const what = `${method} ${pathname} → ${response.status}`
    const route = routes.find((r) => r.exact && r.pattern.test(pathname)) ?? routes.find((r) => r.pattern.test(pathname))
    const verb = method.toLowerCase() === 'head' ? 'get' : method.toLowerCase()
    const operation = route && (document.paths[route.template][verb] as Json | undefined)
    let answer: Json | undefined
    if (method === 'OPTIONS' && response.status === 204) answer = shared('Preflight')
    else if (operation) answer = operation.responses?.[String(response.status)] ?? operation.responses?.default
    else if (route) answer = response.status === 405 ? shared('MethodNotAllowed') : undefined
    else answer = response.status === 404 ? shared('NotFound') : undefined
    if (answer?.$ref) answer = shared(String(answer.$ref).split('/').at(-1)!)
    if (!answer) throw new Error(`${what}: the document lists no such answer`)

    for (const [name, header] of Object.entries((answer.headers ?? {}) as Record<string, Json>)) {
      const value = response.headers.get(name)
      if (value === null) {
        if (header.required) throw new Error(`${what}: no ${name} header, which the document says it always has`)
      } else if (header.schema) validate(header.schema, value, `${what}: header ${name}`)
    }

    // A stream has no end to read to: its Content-Type is checked here, its events by the tests that read them.
    // Not awaited: a branch of a cloned body finishes cancelling only once the other branch is cancelled too.
    if (essence(response.headers.get('Content-Type')) === 'text/event-stream' && answer.content?.['text/event-stream']) {
      void response.body?.cancel()
      return
    }
    const text = await bodyText(response)
    if (method === 'HEAD') {
      if (text !== '') throw new Error(`${what}: a HEAD answer with a body`)
      return
    }
    if (!answer.content) {
      if (text !== '') throw new Error(`${what}: a body the document does not describe`)
      return
    }
    const type = essence(response.headers.get('Content-Type'))
    const media = Object.entries(answer.content as Record<string, Json>).find(([key]) => essence(key) === type)?.[1]
    if (!media) throw new Error(`${what}: Content-Type ${type || 'none'}, the document says ${Object.keys(answer.content).join(' or ')}`)
    if (!media.schema) return
    let value: unknown = text
    if (isJson(type)) {
      try {
        value = JSON.parse(text)
      } catch {
        throw new Error(`${what}: the body is not JSON: ${text.slice(0, 200)}`)
      }
    }
    validate(media.schema, value, `${what}: the body`)
  }
}

/** The body as text. app.request hands over a gzipped body as sent; a real fetch has already unzipped it. */
async function bodyText(response: Response): Promise<string> {
  const bytes = new Uint8Array(await response.arrayBuffer())
  const zipped = response.headers.get('Content-Encoding') === 'gzip' && bytes[0] === 0x1f && bytes[1] === 0x8b
  if (!zipped) return new TextDecoder().decode(bytes)
  return new Response(new Blob([bytes]).stream().pipeThrough(new DecompressionStream('gzip'))).text()
}

/** `fetch`, with every answer held to the document first (the caller gets the answer unread). */
export function checkedFetch(
  send: (input: string, init?: RequestInit) => Promise<Response>,
  check: () => AnswerCheck,
): (input: string, init?: RequestInit) => Promise<Response> {
  return async (input, init) => {
    const response = await send(input, init)
    await check()(init?.method ?? 'GET', input, response.clone())
    return response
  }
}

/** `app.request` on a path, with every answer held to the document that app serves. */
export function checkedRequest(app: { request: (url: string, init?: RequestInit) => Response | Promise<Response> }) {
  const url = (path: string) => `http://pulsegate.test${path}`
  let check: AnswerCheck | undefined
  return async (path: string, init: RequestInit = {}): Promise<Response> => {
    check ??= answerChecker((await (await app.request(url('/openapi.json'))).json()) as Json)
    const response = await app.request(url(path), init)
    await check(init.method ?? 'GET', url(path), response.clone())
    return response
  }
}
