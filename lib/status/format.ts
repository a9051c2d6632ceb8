// Numbers and times in the words the pages and badges use. Pure: `now` is passed in.

/**
 * An uptime ratio as a percentage, never rounded up: 0.99996 is 99.99%, so
 * 100% means no moment was down.
 */
export function percent(ratio: number): string {
  if (ratio >= 1) return '100%'
  const hundredths = Math.floor(Math.max(0, ratio) * 10_000)
  return `${(hundredths / 100).toFixed(hundredths % 100 === 0 ? 0 : 2)}%`
}

/** A span of time in the largest unit that fits: `42 s`, `5 min`, `3 h`, `2 d`. */
export function span(ms: number): string {
  const s = Math.round(Math.abs(ms) / 1000)
  if (s < 60) return `${s} s`
  if (s < 3600) return `${Math.floor(s / 60)} min`
  if (s < 86_400) return `${Math.floor(s / 3600)} h`
  return `${Math.floor(s / 86_400)} d`
}

/** `12 s ago`, `in 30 s`, `just now`. */
export function relative(at: number, now: number): string {
  const delta = at - now
  if (Math.abs(delta) < 1000) return 'just now'
  return delta < 0 ? `${span(delta)} ago` : `in ${span(delta)}`
}

export const iso = (ms: number): string => new Date(ms).toISOString()

/** `2026-11-22 18:04 UTC`: what a person reads, unambiguous without JavaScript. */
export function utc(ms: number): string {
  return `${iso(ms).slice(0, 16).replace('T', ' ')} UTC`
}

/** A run's duration, to the precision a person cares about. */
export function duration(ms: number): string {
  if (ms < 1000) return `${Math.round(ms)} ms`
  if (ms < 60_000) return `${(ms / 1000).toFixed(ms < 10_000 ? 1 : 0)} s`
  const minutes = Math.floor(ms / 60_000)
  const seconds = Math.round((ms % 60_000) / 1000)
  return minutes < 60 ? `${minutes} min ${seconds} s` : `${Math.floor(minutes / 60)} h ${minutes % 60} min`
}
