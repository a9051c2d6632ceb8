// The status pages, server-rendered with hono/html: tagged templates escape every
// value they are given, nest without a build step (Node's type stripping cannot
// compile JSX) and read like the markup they produce. The pages work without
// JavaScript; lib/status/live.ts only keeps what they show up to date.
import { html } from 'hono/html'
import type { State } from '../readiness.ts'
import { duration, iso, percent, relative, utc } from './format.ts'
import {
  type AgentPage,
  type AgentRow,
  type ComponentDetail,
  type DayBar,
  type EventItem,
  type FleetPage,
  type Uptime,
  UPTIME_WINDOWS,
  type Visibility,
  reasonText,
  visibleReason,
} from './model.ts'

type Markup = ReturnType<typeof html>

/** What every page needs besides its model. */
export interface PageContext {
  now: number
  visibility: Visibility
  /** Relative path from the page to the mount point ('' at /status, '../' at /status/:agent), so a sub-path proxy works. */
  root: string
  /** Cache-busting versions of the stylesheet and the script. */
  assets: { style: string; script: string }
  /** Whether the stream is there: without it the page needs no script at all. */
  live: boolean
}

const TITLE = 'pulsegate status'
/** JavaScript off: the page reloads itself, so it still tracks reality, only less quickly. */
const NOSCRIPT_REFRESH_SECONDS = 60

const agentHref = (ctx: PageContext, id: string) => `${ctx.root}status/${encodeURIComponent(id)}`

function when(at: number, ctx: PageContext): Markup {
  return html`<time datetime="${iso(at)}" title="${utc(at)}">${relative(at, ctx.now)}</time>`
}

function stateWord(state: State | null, absent = 'no data'): Markup {
  return html`<span class="st s-${state ?? 'starting'}">${state ?? absent}</span>`
}

const ratio = (r: number | null) => (r === null ? '—' : percent(r))

function layout(ctx: PageContext, title: string, stream: string | null, body: Markup): Markup {
  return html`<!doctype html>
<html lang="en"><head><meta charset="utf-8"><meta name="viewport" content="width=device-width,initial-scale=1">
<meta name="color-scheme" content="light dark"><title>${title}</title>
<link rel="stylesheet" href="${ctx.root}status/~/style.css?v=${ctx.assets.style}">
${stream ? html`<script src="${ctx.root}status/~/live.js?v=${ctx.assets.script}" defer></script>` : ''}
<noscript><meta http-equiv="refresh" content="${NOSCRIPT_REFRESH_SECONDS}"></noscript></head>
<body${stream ? html` data-stream="${stream}"` : ''}>
<a class="sr" href="#main">Skip to content</a>
<header class="top"><div class="wrap"><a class="brand" href="${ctx.root}status">pulsegate</a></div></header>
<main id="main" class="wrap">${body}
<p class="live" id="live" role="status">As of ${utc(ctx.now)}. ${stream ? 'Without JavaScript, this page reloads itself every minute.' : 'Reload to update.'}</p>
</main>
<footer class="wrap">Uptime counts ok and recovering as up, degraded as down; time starting is not counted. Times in UTC.</footer>
</body></html>`
}

/** Consecutive days of the same worst state, drawn as one stretch (fewer elements per row). */
function runs(bars: readonly DayBar[]): DayBar[][] {
  const out: DayBar[][] = []
  for (const bar of bars) {
    const last = out.at(-1)
    if (last && last[0]!.worst === bar.worst) last.push(bar)
    else out.push([bar])
  }
  return out
}

/** The bars in words: what a screen reader reads instead of the colours. */
export function barsLabel(bars: readonly DayBar[]): string {
  const count = (worst: State | null) => bars.filter((b) => b.worst === worst).length
  const days = (n: number) => `${n} ${n === 1 ? 'day' : 'days'}`
  const parts: string[] = []
  if (count('ok') > 0) parts.push(`${days(count('ok'))} ok`)
  const bad = bars.filter((b) => b.worst !== null && b.worst !== 'ok')
  for (const b of bad.slice(-3)) parts.push(`${b.worst} on ${b.day}${b.ratio === null ? '' : ` (${percent(b.ratio)} up)`}`)
  if (bad.length > 3) parts.push(`${bad.length - 3} more days not ok`)
  if (count(null) > 0) parts.push(`${days(count(null))} without data`)
  return `Last ${bars.length} days: ${parts.join(', ')}`
}

function runTitle(run: DayBar[]): string {
  const first = run[0]!
  const last = run.at(-1)!
  const span = run.length === 1 ? first.day : `${first.day} – ${last.day}`
  const up = run.length === 1 && first.ratio !== null ? `, ${percent(first.ratio)} up` : ''
  return `${span}: ${first.worst ?? 'no data'}${up}`
}

/** Hover titles per stretch only where rows are few (the agent page); the label says it all anyway. */
function barStrip(bars: readonly DayBar[], wide = false): Markup {
  const items = runs(bars).map((run) =>
    wide ? html`<i class="${run[0]!.worst ?? 'x'} w${run.length}" title="${runTitle(run)}"></i>` : html`<i class="${run[0]!.worst ?? 'x'} w${run.length}"></i>`,
  )
  return html`<span class="bars${wide ? ' bars-wide' : ''}" role="img" aria-label="${barsLabel(bars)}">${items}</span>`
}

/** One agent's row; the client script finds it by data-agent and keeps it current. */
export function agentRow(agent: AgentRow, ctx: PageContext): Markup {
  const reason = reasonText(visibleReason(agent.reason, ctx.visibility), agent.reasonComponent)
  return html`<tr class="s-${agent.state}" data-agent="${agent.id}" data-n="${agent.components}"><th scope="row"><a href="${agentHref(ctx, agent.id)}">${agent.id}</a>${agent.silenced ? html`<span class="tag">silenced</span>` : ''}</th><td><span class="st">${agent.state}</span></td><td class="r">${reason ?? ''}</td><td>${when(agent.lastSeen, ctx)}</td>${UPTIME_WINDOWS.map((w) => html`<td>${ratio(agent.uptime[w])}</td>`)}<td>${barStrip(agent.bars)}</td></tr>`
}

function plural(n: number, word: string): string {
  return `${n} ${word}${n === 1 ? '' : 's'}`
}

/** The fleet's state in one sentence, as the banner and the page title say it. */
export function fleetHeadline(state: State, byState: Record<State, number>, total: number): string {
  if (total === 0) return 'No agents have reported yet'
  if (state === 'ok') return total === 1 ? 'The agent is ok' : `All ${total} agents ok`
  return `${plural(byState[state], 'agent')} ${state}`
}

export function countStates(states: Iterable<State>): Record<State, number> {
  const byState: Record<State, number> = { ok: 0, recovering: 0, degraded: 0, starting: 0 }
  for (const s of states) byState[s]++
  return byState
}

function banner(state: State, byState: Record<State, number>, total: number): Markup {
  const order: State[] = ['degraded', 'recovering', 'starting', 'ok']
  return html`<section class="banner s-${state}" aria-labelledby="headline" data-banner><strong id="headline">${fleetHeadline(state, byState, total)}</strong>
<ul class="counts">${order.map((s) => html`<li data-count="${s}">${byState[s]} ${s}</li>`)}</ul></section>`
}

export function fleetPage(page: FleetPage, ctx: PageContext): Markup {
  const byState = countStates(page.agents.map((a) => a.state))
  const body = html`<h1>Fleet status</h1>
${banner(page.state, byState, page.agents.length)}
<div class="card"><table class="fleet"><caption class="sr">Agents, their state and uptime</caption>
<thead><tr><th scope="col">Agent</th><th scope="col">State</th><th scope="col">Reason</th><th scope="col">Last seen</th><th scope="col" class="n">24 h</th><th scope="col" class="n">7 d</th><th scope="col" class="n">30 d</th><th scope="col">Last 30 days</th></tr></thead>
<tbody>${page.agents.map((a) => agentRow(a, ctx))}</tbody></table></div>`
  const title = `${fleetHeadline(page.state, byState, page.agents.length)} · ${TITLE}`
  return layout(ctx, title, ctx.live ? `${ctx.root}status/~/events` : null, body)
}

function uptimeFacts(uptime: Uptime): Markup {
  const label: Record<string, string> = { '24h': 'Uptime 24 h', '7d': 'Uptime 7 d', '30d': 'Uptime 30 d' }
  return html`${UPTIME_WINDOWS.map((w) => html`<div><dt>${label[w]}</dt><dd>${ratio(uptime[w])}</dd></div>`)}`
}

function lastRun(c: ComponentDetail): string {
  if (c.lastDurationMs === null && c.lastExitCode === null) return '—'
  const parts = []
  if (c.lastDurationMs !== null) parts.push(duration(c.lastDurationMs))
  if (c.lastExitCode !== null) parts.push(`exit ${c.lastExitCode}`)
  return parts.join(', ')
}

function labelsText(labels: Record<string, string>): string {
  const entries = Object.entries(labels)
  return entries.length === 0 ? '—' : entries.map(([k, v]) => `${k}=${v}`).join(', ')
}

function componentRow(c: ComponentDetail, ctx: PageContext): Markup {
  const details = ctx.visibility.details
  return html`<tr class="s-${c.state}" data-component="${c.name}"><th scope="row">${c.name}</th><td data-l="State"><span class="st">${c.state}</span></td><td class="r" data-l="Reason">${visibleReason(c.reason, ctx.visibility) ?? ''}</td><td data-l="Last seen">${when(c.lastSeen, ctx)}</td><td data-l="Due">${c.deadline === null ? '—' : when(c.deadline, ctx)}</td><td data-l="Schedule">${c.schedule}</td><td data-l="Running since">${c.runningSince === null ? '—' : when(c.runningSince, ctx)}</td><td data-l="Last run">${lastRun(c)}</td>${
    details
      ? html`<td data-l="Message">${c.message ?? '—'}</td><td data-l="Version">${c.version ?? '—'}</td><td data-l="PID">${c.pid ?? '—'}</td><td data-l="Labels">${labelsText(c.labels)}</td>`
      : ''
  }</tr>`
}

function eventItem(e: EventItem, ctx: PageContext): Markup {
  const reason = visibleReason(e.reason, ctx.visibility)
  return html`<li>${when(e.at, ctx)}<strong>${e.component}</strong><span>${stateWord(e.from, 'new')} <span class="arrow" aria-hidden="true">→</span><span class="sr">to</span> ${stateWord(e.to, 'removed')}</span>${reason ? html`<span class="muted">${reason}</span>` : ''}</li>`
}

function dayTable(bars: readonly DayBar[]): Markup {
  return html`<details><summary>Day by day</summary><div class="card"><table><caption class="sr">Uptime by day</caption>
<thead><tr><th scope="col">Day</th><th scope="col">Worst state</th><th scope="col" class="n">Up</th></tr></thead>
<tbody>${[...bars].reverse().map((b) => html`<tr><th scope="row">${b.day}</th><td>${stateWord(b.worst)}</td><td class="n">${ratio(b.ratio)}</td></tr>`)}</tbody></table></div></details>`
}

export function agentPage(page: AgentPage, ctx: PageContext): Markup {
  const reason = reasonText(visibleReason(page.reason, ctx.visibility), page.reasonComponent)
  const details = ctx.visibility.details
  const body = html`<p class="crumb"><a href="${ctx.root}status">All agents</a></p>
<h1 class="s-${page.state}" data-agent-state>${page.id} <span class="st">${page.state}</span>${page.silenced ? html`<span class="tag">silenced</span>` : ''}</h1>
<p class="r" data-agent-reason>${reason ?? ''}</p>
<dl class="facts"><div><dt>Last seen</dt><dd>${when(page.lastSeen, ctx)}</dd></div>${uptimeFacts(page.uptime)}</dl>
${barStrip(page.bars, true)}<div class="scale" aria-hidden="true"><span>${page.bars[0]?.day ?? ''}</span><span>today</span></div>
${dayTable(page.bars)}
<h2 id="components">Components</h2>
<div class="card"><table class="details" aria-labelledby="components"><thead><tr><th scope="col">Component</th><th scope="col">State</th><th scope="col">Reason</th><th scope="col">Last seen</th><th scope="col">Due</th><th scope="col">Schedule</th><th scope="col">Running since</th><th scope="col">Last run</th>${
    details ? html`<th scope="col">Message</th><th scope="col">Version</th><th scope="col">PID</th><th scope="col">Labels</th>` : ''
  }</tr></thead>
<tbody>${page.components.map((c) => componentRow(c, ctx))}</tbody></table></div>
<h2 id="events">Recent events</h2>
${page.events.length === 0
    ? html`<p class="muted" data-events-empty>No transitions recorded yet.</p>`
    : ''}<div class="card"><ol class="events" aria-labelledby="events" data-events>${page.events.map((e) => eventItem(e, ctx))}</ol></div>`
  const title = `${page.id}: ${page.state} · ${TITLE}`
  const stream = ctx.live ? `${ctx.root}status/~/events?agent=${encodeURIComponent(page.id)}` : null
  return layout(ctx, title, stream, body)
}

export function notFoundPage(id: string, ctx: PageContext): Markup {
  const body = html`<p class="crumb"><a href="${ctx.root}status">All agents</a></p>
<h1>No agent “${id}”</h1>
<p>pulsegate has no agent by that name: it may never have reported, or it expired or was deregistered.</p>`
  return layout(ctx, `Unknown agent · ${TITLE}`, null, body)
}
