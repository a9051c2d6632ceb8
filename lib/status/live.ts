// The pages' only script, served from /status/~/live.js. It is a string, not a
// function turned into one: bundlers (wrangler keeps names) would rewrite a
// function's body with helpers that do not exist in the browser. It listens to
// the page's event stream and rewrites the row of the agent (or component) a
// transition names: state word, class, reason and last seen. Plain ES2017, no
// framework; the page is complete without it.
export const LIVE_SCRIPT = `(function () {
  'use strict'
  var body = document.body
  var url = body.getAttribute('data-stream')
  if (!url || !window.EventSource) return
  var live = document.getElementById('live')
  var ORDER = ['degraded', 'recovering', 'starting', 'ok']
  // Transitions pulsegate itself makes as time passes: no heartbeat arrived for them.
  var TIMED = ['missed heartbeat', 'ran too long', 'expired', 'deregistered']

  function span(ms) {
    var s = Math.round(Math.abs(ms) / 1000)
    if (s < 60) return s + ' s'
    if (s < 3600) return Math.floor(s / 60) + ' min'
    if (s < 86400) return Math.floor(s / 3600) + ' h'
    return Math.floor(s / 86400) + ' d'
  }
  function relative(at) {
    var d = at - Date.now()
    if (Math.abs(d) < 1000) return 'just now'
    return d < 0 ? span(d) + ' ago' : 'in ' + span(d)
  }
  function setTime(el, at) {
    if (!el) return
    var t = new Date(at).toISOString()
    el.setAttribute('datetime', t)
    el.title = t.slice(0, 16).replace('T', ' ') + ' UTC'
    el.textContent = relative(at)
  }
  function setState(el, state) {
    el.className = el.className.replace(/\\bs-[a-z]+/, '') + ' s-' + state
    el.className = el.className.trim()
    var word = el.querySelector('.st')
    if (word) word.textContent = state
  }
  function aggregate(states) {
    if (!states.length) return 'starting'
    for (var i = 0; i < 3; i++) if (states.indexOf(ORDER[i]) >= 0) return ORDER[i]
    return 'ok'
  }
  function say(text) { if (live) live.textContent = text }

  var rows = {}
  var list = document.querySelectorAll('tr[data-agent]')
  for (var i = 0; i < list.length; i++) rows[list[i].getAttribute('data-agent')] = list[i]
  var components = {}
  list = document.querySelectorAll('tr[data-component]')
  for (i = 0; i < list.length; i++) components[list[i].getAttribute('data-component')] = list[i]
  var banner = document.querySelector('[data-banner]')
  var added = 0

  // The agent's reason after a transition, by the page's own rule: the reason of a
  // component in the agent's state, named when the agent has several components.
  function agentReason(cell, d, several) {
    if (d.agent_state === 'ok') return ''
    if (d.to === d.agent_state) return several ? (d.reason ? d.component + ': ' + d.reason : d.component) : (d.reason || '')
    var current = cell.textContent
    // That component no longer explains the agent's state; another one does, unknown here.
    if (current === d.component || current.indexOf(d.component + ': ') === 0) return ''
    return current
  }

  function updateBanner() {
    if (!banner) return
    var states = []
    for (var id in rows) states.push(/\\bs-([a-z]+)/.exec(rows[id].className)[1])
    var state = aggregate(states)
    var n = { ok: 0, recovering: 0, degraded: 0, starting: 0 }
    states.forEach(function (s) { n[s]++ })
    setState(banner, state)
    var head = banner.querySelector('strong')
    var total = states.length
    head.textContent = total === 0 ? 'No agents have reported yet'
      : state === 'ok' ? (total === 1 ? 'The agent is ok' : 'All ' + total + ' agents ok')
      : n[state] + ' agent' + (n[state] === 1 ? '' : 's') + ' ' + state
    ORDER.forEach(function (s) {
      var li = banner.querySelector('[data-count="' + s + '"]')
      if (li) li.textContent = n[s] + ' ' + s
    })
    document.title = head.textContent + ' · pulsegate status'
  }

  function onFleet(d) {
    var row = rows[d.agent]
    if (!row) {
      if (d.to !== null) { added++; say(added + ' new agent' + (added === 1 ? '' : 's') + ' reported: reload to see ' + (added === 1 ? 'it' : 'them') + '.') }
      return
    }
    var n = Number(row.getAttribute('data-n')) + (d.from === null ? 1 : 0) - (d.to === null ? 1 : 0)
    row.setAttribute('data-n', String(n))
    // agent_state null: the agent is gone (its components' events come one by one, after the whole removal).
    if (n <= 0 || d.agent_state === null) { row.parentNode.removeChild(row); delete rows[d.agent]; updateBanner(); return }
    setState(row, d.agent_state)
    var reason = row.querySelector('td.r')
    if (reason) reason.textContent = agentReason(reason, d, n > 1)
    if (TIMED.indexOf(d.reason) < 0 && d.to !== null) setTime(row.querySelector('time'), d.at)
    updateBanner()
  }

  function stateSpan(state, absent) {
    var s = document.createElement('span')
    s.className = 'st s-' + (state || 'starting')
    s.textContent = state || absent
    return s
  }

  function onAgent(d) {
    var head = document.querySelector('[data-agent-state]')
    if (head && d.agent_state) setState(head, d.agent_state)
    var row = components[d.component]
    if (row && d.to !== null) {
      setState(row, d.to)
      row.querySelector('td.r').textContent = d.reason || ''
      if (TIMED.indexOf(d.reason) < 0) setTime(row.querySelector('time'), d.at)
    } else if (d.to !== null) {
      say('A new component reported: reload to see it.')
    }
    var reason = document.querySelector('[data-agent-reason]')
    if (reason) reason.textContent = agentReason(reason, d, Object.keys(components).length > 1)
    var events = document.querySelector('[data-events]')
    if (!events) return
    var li = document.createElement('li')
    var time = document.createElement('time')
    setTime(time, d.at)
    var name = document.createElement('strong')
    name.textContent = d.component
    var change = document.createElement('span')
    var arrow = document.createElement('span')
    arrow.className = 'arrow'
    arrow.setAttribute('aria-hidden', 'true')
    arrow.textContent = ' → '
    var to = document.createElement('span')
    to.className = 'sr'
    to.textContent = 'to'
    change.appendChild(stateSpan(d.from, 'new'))
    change.appendChild(arrow)
    change.appendChild(to)
    change.appendChild(stateSpan(d.to, 'removed'))
    li.appendChild(time)
    li.appendChild(name)
    li.appendChild(change)
    if (d.reason) {
      var why = document.createElement('span')
      why.className = 'muted'
      why.textContent = d.reason
      li.appendChild(why)
    }
    events.insertBefore(li, events.firstChild)
    var empty = document.querySelector('[data-events-empty]')
    if (empty) empty.parentNode.removeChild(empty)
  }

  var source = new EventSource(url)
  source.onopen = function () { if (!added) say('Live: updates as they happen.') }
  source.onerror = function () { say('Live updates interrupted; reconnecting…') }
  source.addEventListener('transition', function (e) {
    var d
    try { d = JSON.parse(e.data) } catch (err) { return }
    if (banner || rows[d.agent]) onFleet(d)
    else onAgent(d)
  })
  // Keep "12 s ago" true without a reload.
  setInterval(function () {
    var times = document.querySelectorAll('time[datetime]')
    for (var i = 0; i < times.length; i++) times[i].textContent = relative(Date.parse(times[i].getAttribute('datetime')))
  }, 15000)
})()
`
