// Shields-style flat badges, drawn here: shields' own badge-maker would add about
// 900 KB to the Worker bundle (anafanafo's four full-Unicode width tables), more
// than the rest of pulsegate. Labels and messages are ids, state words and
// percentages, so Verdana 11px widths for printable ASCII are all it needs.
import type { State } from '../readiness.ts'
import { percent } from './format.ts'
import type { UptimeWindow } from './model.ts'

/** Verdana 11px advance widths of U+0020–U+007E, from anafanafo's table (MIT), which shields measures with. */
const VERDANA_11: readonly number[] = [
  3.87, 4.33, 5.05, 9, 6.99, 11.84, 7.99, 2.95, 5, 5, 6.99, 9, 4, 5, 4, 5, 6.99, 6.99, 6.99, 6.99, 6.99, 6.99, 6.99, 6.99,
  6.99, 6.99, 5, 5, 9, 9, 9, 6, 11, 7.52, 7.54, 7.68, 8.48, 6.96, 6.32, 8.53, 8.27, 4.63, 5, 7.62, 6.12, 9.27, 8.23,
  8.66, 6.63, 8.66, 7.65, 7.52, 6.78, 8.05, 7.52, 10.88, 7.54, 6.77, 7.54, 5, 5, 5, 9, 6.99, 6.99, 6.61, 6.85, 5.73,
  6.85, 6.55, 3.87, 6.85, 6.96, 3.02, 3.79, 6.51, 3.02, 10.7, 6.96, 6.68, 6.85, 6.85, 4.69, 5.73, 4.33, 6.96, 6.51, 9,
  6.51, 6.51, 5.78, 6.98, 5, 6.98, 9,
]
/** What anafanafo guesses for a character it has no width for: the width of `m`. */
const UNKNOWN_WIDTH = 10.7

/** The width of `text` in Verdana 11px, as shields measures it. */
export function textWidth(text: string): number {
  let width = 0
  for (const char of text) {
    const code = char.codePointAt(0)!
    if (code < 32 || code === 127) continue
    width += code < 127 ? VERDANA_11[code - 32]! : UNKNOWN_WIDTH
  }
  return width
}

/** Shields' named colours, as badge-maker 6 draws them. */
export const SHIELDS_COLORS = {
  brightgreen: '#4b0',
  green: '#67ac09',
  yellowgreen: '#95991a',
  yellow: '#d8b800',
  orange: '#ea7233',
  red: '#dd4343',
  lightgrey: '#939393',
} as const
export type ShieldsColor = keyof typeof SHIELDS_COLORS

export const STATE_COLOR: Readonly<Record<State, ShieldsColor>> = {
  ok: 'brightgreen',
  recovering: 'yellow',
  degraded: 'red',
  starting: 'lightgrey',
}

/** Shields' scale for uptime (its Uptime Robot badges): 99.9% and up is bright green. */
export function uptimeColor(ratio: number | null): ShieldsColor {
  if (ratio === null) return 'lightgrey'
  const p = ratio * 100
  if (p >= 99.9) return 'brightgreen'
  if (p >= 99) return 'yellowgreen'
  if (p >= 97) return 'yellow'
  if (p >= 94) return 'orange'
  return 'red'
}

export interface Badge {
  label: string
  message: string
  color: ShieldsColor
}

/** What a badge says about a subject: its state, or its uptime over one window. */
export function badgeFor(subject: string, state: State, uptime?: { window: UptimeWindow; ratio: number | null }): Badge {
  if (!uptime) return { label: subject, message: state, color: STATE_COLOR[state] }
  return {
    label: `${subject} uptime ${uptime.window}`,
    message: uptime.ratio === null ? 'no data' : percent(uptime.ratio),
    color: uptimeColor(uptime.ratio),
  }
}

const escapeXml = (s: string) =>
  s.replace(/[&<>"']/g, (c) => ({ '&': '&amp;', '<': '&lt;', '>': '&gt;', '"': '&quot;', "'": '&apos;' })[c]!)

/** Shields rounds widths to an odd number of pixels, for a better chance of pixel-grid alignment. */
function preferredWidth(text: string): number {
  const w = Math.floor(textWidth(text))
  return w % 2 === 0 ? w + 1 : w
}

/** The flat style: 20 px high, 5 px padding, text drawn at 10× and scaled down, as shields does. */
export function badgeSvg({ label, message, color }: Badge): string {
  const lw = preferredWidth(label) + 10
  const mw = preferredWidth(message) + 10
  const width = lw + mw
  const title = escapeXml(`${label}: ${message}`)
  const text = (value: string, center: number, length: number) => {
    const v = escapeXml(value)
    const x = center * 10
    return `<text aria-hidden="true" x="${x}" y="150" fill="#010101" fill-opacity=".3" transform="scale(.1)" textLength="${length * 10}">${v}</text><text x="${x}" y="140" transform="scale(.1)" fill="#fff" textLength="${length * 10}">${v}</text>`
  }
  return (
    `<svg xmlns="http://www.w3.org/2000/svg" width="${width}" height="20" role="img" aria-label="${title}"><title>${title}</title>` +
    `<linearGradient id="s" x2="0" y2="100%"><stop offset="0" stop-color="#bbb" stop-opacity=".1"/><stop offset="1" stop-opacity=".1"/></linearGradient>` +
    `<clipPath id="r"><rect width="${width}" height="20" rx="3" fill="#fff"/></clipPath>` +
    `<g clip-path="url(#r)"><rect width="${lw}" height="20" fill="#555"/><rect x="${lw}" width="${mw}" height="20" fill="${SHIELDS_COLORS[color]}"/><rect width="${width}" height="20" fill="url(#s)"/></g>` +
    `<g fill="#fff" text-anchor="middle" font-family="Verdana,Geneva,DejaVu Sans,sans-serif" text-rendering="geometricPrecision" font-size="110">` +
    text(label, lw / 2, lw - 10) +
    text(message, lw + mw / 2, mw - 10) +
    `</g></svg>`
  )
}

/** The shields.io endpoint schema (https://shields.io/badges/endpoint-badge). */
export interface ShieldsEndpoint {
  schemaVersion: 1
  label: string
  message: string
  color: ShieldsColor
  isError?: boolean
  cacheSeconds?: number
}

/** Shields caches endpoint badges for at least 300 s whatever we say; saying so keeps the two in step. */
export const SHIELDS_CACHE_SECONDS = 300

export function shieldsEndpoint(badge: Badge, isError = false): ShieldsEndpoint {
  const body: ShieldsEndpoint = { schemaVersion: 1, label: badge.label, message: badge.message, color: badge.color }
  if (isError) body.isError = true
  body.cacheSeconds = SHIELDS_CACHE_SECONDS
  return body
}
