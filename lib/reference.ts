// The API reference page of GET /docs, rendered on the server from the OpenAPI
// document itself: plain HTML and a little CSS, no script, nothing fetched from
// anywhere. Every client renderer measured (Scalar, RapiDoc, Redoc, Swagger UI,
// Stoplight Elements) would have taken the Worker bundle past its limit on its own;
// see docs/decisions.md.
import { html, raw } from 'hono/html'
import type { HtmlEscapedString } from 'hono/utils/html'

type Html = HtmlEscapedString | Promise<HtmlEscapedString>
type Json = Record<string, any>

const METHODS = ['get', 'head', 'post', 'put', 'patch', 'delete', 'options'] as const

/** Inline `code` spans of a description, the rest escaped. */
function inline(text: string): Html[] {
  return text.split('`').map((part, i) => (i % 2 === 1 ? html`<code>${part}</code>` : html`${part}`))
}

/** A description: paragraphs, and `- ` lines as a list. */
function prose(text: string | undefined): Html | string {
  if (!text) return ''
  return html`${text.split(/\n\s*\n/).map((block) => {
    const lines = block.split('\n')
    if (lines.every((l) => l.startsWith('- '))) return html`<ul>${lines.map((l) => html`<li>${inline(l.slice(2))}</li>`)}</ul>`
    return html`<p>${inline(block)}</p>`
  })}`
}

const refName = (ref: string) => ref.slice(ref.lastIndexOf('/') + 1)
const schemaAnchor = (name: string) => `schema-${name}`

/** What a schema is, in a few words: `string`, `array of Agent`, `integer or null`. */
function typeOf(schema: Json): Html | string {
  if (schema.$ref) {
    const name = refName(schema.$ref)
    return html`<a href="#${schemaAnchor(name)}">${name}</a>`
  }
  const alternatives = schema.anyOf ?? schema.oneOf
  if (alternatives) return html`one of ${alternatives.map((s: Json, i: number) => html`${i ? ', ' : ''}${typeOf(s)}`)}`
  const types: string[] = Array.isArray(schema.type) ? schema.type : schema.type ? [schema.type] : []
  const named = types.map((t) => (t === 'array' && schema.items ? html`array of ${typeOf(schema.items)}` : t))
  if (schema.const !== undefined) return html`${JSON.stringify(schema.const)}`
  if (named.length === 0) return 'any'
  return html`${named.map((t, i) => html`${i ? ' or ' : ''}${t}`)}`
}

/** The limits a schema states, in words. */
function rules(schema: Json): string[] {
  const said: string[] = []
  const range = (low: unknown, high: unknown, unit: string) => {
    if (low !== undefined && high !== undefined) said.push(`${low}–${high} ${unit}`)
    else if (low !== undefined) said.push(`at least ${low} ${unit}`)
    else if (high !== undefined) said.push(`at most ${high} ${unit}`)
  }
  range(schema.minLength, schema.maxLength, 'characters')
  range(schema.minItems, schema.maxItems, 'items')
  range(schema.minProperties, schema.maxProperties, 'entries')
  if (schema.exclusiveMinimum !== undefined) said.push(`> ${schema.exclusiveMinimum}`)
  if (schema.minimum !== undefined) said.push(`≥ ${schema.minimum}`)
  if (schema.maximum !== undefined) said.push(`≤ ${schema.maximum}`)
  if (schema.enum) said.push(`one of ${schema.enum.map((v: unknown) => JSON.stringify(v)).join(', ')}`)
  if (schema.pattern) said.push(`matches ${schema.pattern}`)
  if (schema.format) said.push(schema.format)
  if (schema.default !== undefined) said.push(`default ${JSON.stringify(schema.default)}`)
  if (schema.additionalProperties === false) said.push('no other fields')
  return said
}

/** The fields of an object schema, nested ones inline; named schemas are links. */
function fields(schema: Json, depth = 0): Html | string {
  if (depth > 4 || schema.$ref) return ''
  const alternatives: Json[] | undefined = schema.anyOf ?? schema.oneOf
  if (alternatives) return html`${alternatives.map((s) => fields(s, depth + 1))}`
  if (schema.type === 'array' && schema.items) return fields(schema.items, depth + 1)
  const properties: Record<string, Json> = schema.properties ?? {}
  const names = Object.keys(properties)
  const values = schema.additionalProperties && typeof schema.additionalProperties === 'object' ? schema.additionalProperties : undefined
  if (names.length === 0 && !values) return ''
  const required = new Set<string>(schema.required ?? [])
  return html`<ul class="fields">
    ${names.map((name) => field(name, properties[name]!, required.has(name), depth))}
    ${values ? field('any name', values, false, depth) : ''}
  </ul>`
}

function field(name: string, schema: Json, required: boolean, depth: number): Html {
  const said = rules(schema)
  return html`<li>
    <code class="name">${name}</code> <span class="type">${typeOf(schema)}</span>${required ? html` <span class="required">required</span>` : ''}
    ${said.length ? html`<span class="rules">${said.join('; ')}</span>` : ''} ${prose(schema.description)}
    ${fields(schema, depth + 1)}
  </li>`
}

/** A schema where an operation uses it: its type, its limits, and its fields (a named one's too). */
function schemaBlock(schema: Json, spec: Json): Html {
  const named = schema.$ref ? spec.components?.schemas?.[refName(schema.$ref)] : undefined
  const said = rules(schema)
  return html`<p>Schema: ${typeOf(schema)}${said.length ? html` <span class="rules">${said.join('; ')}</span>` : ''}</p>
    ${prose(schema.description)} ${fields(named ?? schema)}`
}

function content(map: Json | undefined, spec: Json): Html | string {
  if (!map) return html`<p>No body.</p>`
  return html`${Object.entries(map).map(
    ([type, media]: [string, Json]) => html`<div class="media"><p class="type-line">Content-Type: <code>${type}</code></p>
      ${media.schema ? schemaBlock(media.schema, spec) : ''}</div>`,
  )}`
}

function headersOf(headers: Json | undefined): Html | string {
  if (!headers || Object.keys(headers).length === 0) return ''
  return html`<p>Headers:</p><ul class="fields">
    ${Object.entries(headers).map(
      ([name, header]: [string, Json]) => html`<li><code class="name">${name}</code> ${header.required ? html`<span class="required">always</span>` : ''}
        ${prose(header.description ?? header.schema?.description)}</li>`,
    )}
  </ul>`
}

function responses(map: Json, spec: Json): Html {
  return html`<h4>Responses</h4>${Object.entries(map).map(
    ([status, response]: [string, Json]) => html`<section class="response" aria-label="${status} response">
      <h5><span class="status s${status[0]}">${status}</span> ${inline(response.description ?? '')}</h5>
      ${headersOf(response.headers)} ${response.content ? content(response.content, spec) : ''}
    </section>`,
  )}`
}

function parameters(list: Json[] | undefined): Html | string {
  if (!list?.length) return ''
  return html`<h4>Parameters</h4>
    <table>
      <thead><tr><th scope="col">Name</th><th scope="col">In</th><th scope="col">Type</th><th scope="col">Meaning</th></tr></thead>
      <tbody>${list.map(
        (p) => html`<tr><td><code>${p.name}</code>${p.required ? html` <span class="required">required</span>` : ''}</td><td>${p.in}</td>
          <td>${typeOf(p.schema ?? {})} ${rules(p.schema ?? {}).join('; ')}</td><td>${prose(p.description ?? p.schema?.description)}</td></tr>`,
      )}</tbody>
    </table>`
}

function security(operation: Json, spec: Json): Html | string {
  const schemes: string[] = (operation.security ?? []).flatMap((requirement: Json) => Object.keys(requirement))
  if (schemes.length === 0) return html`<p class="auth">No token.</p>`
  return html`${schemes.map((name) => {
    const scheme = spec.components?.securitySchemes?.[name] ?? {}
    return html`<p class="auth">Token: <code>Authorization: Bearer …</code> (<a href="#auth-${name}">${name}</a>). ${inline(scheme.description ?? '')}</p>`
  })}`
}

interface Operation {
  method: string
  path: string
  operation: Json
}

function operationsOf(spec: Json): Operation[] {
  const paths: Record<string, Json> = spec.paths ?? {}
  return Object.entries(paths).flatMap(([path, item]) =>
    METHODS.filter((m) => item[m]).map((method) => ({ method, path, operation: item[method] as Json })),
  )
}

const anchorOf = ({ method, path, operation }: Operation) => operation.operationId ?? `${method}-${path.replace(/[^A-Za-z0-9]+/g, '-')}`

function operationSection(op: Operation, spec: Json): Html {
  const { method, path, operation } = op
  return html`<article class="operation" id="${anchorOf(op)}" aria-labelledby="${anchorOf(op)}-title">
    <h3 id="${anchorOf(op)}-title"><span class="method ${method}">${method.toUpperCase()}</span> <code>${path}</code></h3>
    <p class="summary">${inline(operation.summary ?? '')}</p>
    ${prose(operation.description)} ${security(operation, spec)} ${parameters(operation.parameters)}
    ${operation.requestBody ? html`<h4>Request body${operation.requestBody.required ? '' : ' (optional)'}</h4>
      ${prose(operation.requestBody.description)} ${content(operation.requestBody.content, spec)}` : ''}
    ${responses(operation.responses ?? {}, spec)}
  </article>`
}

const STYLE = `
:root{color-scheme:light dark;--fg:#1b1f24;--bg:#fff;--muted:#4d5561;--line:#d0d7de;--code:#f3f4f6;--link:#0a58ca}
@media (prefers-color-scheme:dark){:root{--fg:#e6e8eb;--bg:#14171a;--muted:#aab2bd;--line:#3a424b;--code:#23282e;--link:#7fb0ff}}
*{box-sizing:border-box}body{margin:0;font:16px/1.5 system-ui,sans-serif;color:var(--fg);background:var(--bg)}
a{color:var(--link)}.skip{position:absolute;left:-999px}.skip:focus{left:1rem;top:1rem;background:var(--bg);padding:.5rem}
header,main,nav{max-width:62rem;margin:0 auto;padding:0 1rem}header{padding-top:1.5rem}
code{font:.9em ui-monospace,monospace;background:var(--code);padding:0 .25em;border-radius:3px}
nav ul{list-style:none;padding:0}nav li{margin:.2rem 0}
.operation{border-top:1px solid var(--line);padding:.5rem 0 1rem}
.method{display:inline-block;min-width:4.5em;text-align:center;font:700 .8em ui-monospace,monospace;border:1px solid currentColor;border-radius:4px;padding:0 .3em}
.get{color:#0b6b3a}.post{color:#0a4fa8}.delete{color:#a4161a}
@media (prefers-color-scheme:dark){.get{color:#6fdc9c}.post{color:#8ab8ff}.delete{color:#ff8a8f}}
.status{font-weight:700;font-family:ui-monospace,monospace}.s4,.s5{color:#a4161a}.s2{color:#0b6b3a}
@media (prefers-color-scheme:dark){.s4,.s5{color:#ff8a8f}.s2{color:#6fdc9c}}
.required{font-size:.8em;font-weight:700;text-transform:uppercase;color:var(--muted)}.rules,.type{color:var(--muted)}
.fields{padding-left:1.2rem}.fields p{margin:.1rem 0}h5{font-size:1rem;margin:.8rem 0 .2rem}
table{border-collapse:collapse;width:100%}th,td{border:1px solid var(--line);padding:.3rem .5rem;text-align:left;vertical-align:top}
`

/** The whole page: an index of operations by tag, each operation, the token schemes and the named schemas. */
export function renderReference(spec: Json): string {
  const ops = operationsOf(spec)
  const tags: Json[] = spec.tags ?? []
  const byTag = (name: string) => ops.filter((op) => (op.operation.tags ?? []).includes(name))
  const title = `${spec.info?.title ?? 'API'} ${spec.info?.version ?? ''} API reference`
  const schemes: Record<string, Json> = spec.components?.securitySchemes ?? {}
  const schemas: Record<string, Json> = spec.components?.schemas ?? {}
  const page = html`<!doctype html>
<html lang="en">
<head><meta charset="utf-8"><meta name="viewport" content="width=device-width, initial-scale=1"><title>${title}</title><style>${raw(STYLE)}</style></head>
<body>
<a class="skip" href="#main">Skip to the operations</a>
<header><h1>${title}</h1>${prose(spec.info?.description)}
<p>The same, for programs: <a href="openapi.json">openapi.json</a> (OpenAPI ${spec.openapi}).</p></header>
<nav aria-label="Operations"><h2>Operations</h2>
${tags.map((tag) => html`<h3>${tag.name}</h3><ul>${byTag(tag.name).map(
    (op) => html`<li><a href="#${anchorOf(op)}"><span class="method ${op.method}">${op.method.toUpperCase()}</span> <code>${op.path}</code></a> ${inline(op.operation.summary ?? '')}</li>`,
  )}</ul>`)}
</nav>
<main id="main">
${tags.map((tag) => html`<section aria-labelledby="tag-${tag.name}"><h2 id="tag-${tag.name}">${tag.name}</h2>${prose(tag.description)}
  ${byTag(tag.name).map((op) => operationSection(op, spec))}</section>`)}
<section aria-labelledby="auth"><h2 id="auth">Tokens</h2>
${Object.entries(schemes).map(([name, scheme]) => html`<h3 id="auth-${name}">${name}</h3><p>HTTP ${scheme.scheme} token. ${inline(scheme.description ?? '')}</p>`)}
</section>
<section aria-labelledby="schemas"><h2 id="schemas">Schemas</h2>
${Object.entries(schemas).map(([name, schema]) => html`<article id="${schemaAnchor(name)}"><h3>${name}</h3>
  <p><span class="type">${typeOf({ ...schema, $ref: undefined })}</span> <span class="rules">${rules(schema).join('; ')}</span></p>
  ${prose(schema.description)} ${fields(schema)}</article>`)}
</section>
</main>
</body>
</html>`
  return String(page)
}
