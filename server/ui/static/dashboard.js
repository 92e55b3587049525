// The switch's live dashboard: GET /v1/diagnostics drawn as tables, and GET /v1/trace, long-polled in a loop,
// drawn as a sequence chart. Each batch of trace events also refreshes the diagnostics (debounced): the page
// changes when the switch does, and polls nothing on a timer. No build step and nothing from elsewhere.
import { held, serviceState } from '/ui/services.js'

/** Events the chart shows: the latest ones. */
const CHART_EVENTS = 60
/** Seconds a trace long-poll waits (the switch caps it); each one holds the session's lease while it waits. */
const TRACE_WAIT = 25
/** Milliseconds a burst of events is gathered before the diagnostics are read again. */
const REFRESH_AFTER = 150
/** Milliseconds before trying again once the switch cannot be reached. */
const RETRY_AFTER = 2000
const TOKEN_KEY = 'switch.dashboard.token'
const SVG = 'http://www.w3.org/2000/svg'

const $ = (selector) => document.querySelector(selector)

/** An answer of 401 (log in) or 403 (this principal may not observe). */
class Refused extends Error {
  constructor (status, message) {
    super(message)
    this.status = status
  }
}

let token = sessionStorage.getItem(TOKEN_KEY) ?? undefined
let after = 0
let events = []
let refreshTimer
/** Bumped at each (re)start, so that a loop from before a login stops. */
let generation = 0

async function api (path, init = {}) {
  const headers = { ...init.headers }
  if (token !== undefined) headers.authorization = `Bearer ${token}`
  const response = await fetch(path, { ...init, headers })
  const body = response.status === 204 ? undefined : await response.json()
  if (response.status === 401 || response.status === 403) throw new Refused(response.status, body?.error?.message ?? response.statusText)
  if (!response.ok) throw new Error(body?.error?.message ?? `${response.status} ${response.statusText}`)
  return body
}

function element (tag, attributes = {}, ...children) {
  const node = document.createElement(tag)
  for (const [name, value] of Object.entries(attributes)) {
    if (value !== undefined) node.setAttribute(name, String(value))
  }
  node.append(...children)
  return node
}

function svg (tag, attributes = {}, ...children) {
  const node = document.createElementNS(SVG, tag)
  for (const [name, value] of Object.entries(attributes)) node.setAttribute(name, String(value))
  node.append(...children)
  return node
}

function duration (ms) {
  const s = Math.max(0, Math.round(ms / 1000))
  if (s < 60) return `${s}s`
  if (s < 3600) return `${Math.floor(s / 60)}m${String(s % 60).padStart(2, '0')}s`
  if (s < 86400) return `${Math.floor(s / 3600)}h${String(Math.floor(s / 60) % 60).padStart(2, '0')}m`
  return `${Math.floor(s / 86400)}d${String(Math.floor(s / 3600) % 24).padStart(2, '0')}h`
}

const BYTE_LIMITS = new Set(['payload', 'queuedBytes', 'answerBytes', 'unreadBytes'])

function amount (name, value) {
  if (value === undefined) return ''
  if (name === 'timeout') return `${value} s`
  if (!BYTE_LIMITS.has(name)) return value.toLocaleString('en')
  const units = ['B', 'KiB', 'MiB', 'GiB']
  let shown = value
  let unit = 0
  while (shown >= 1024 && unit < units.length - 1) { shown /= 1024; unit++ }
  return `${Number.isInteger(shown) ? shown : shown.toFixed(1)} ${units[unit]}`
}

function status (text, kind) {
  const node = $('#status')
  node.textContent = text
  node.className = `status ${kind}`
}

function notice (text) {
  const node = $('#notice')
  node.textContent = text ?? ''
  node.hidden = text === undefined
}

function rows (tbody, items, columns, empty) {
  tbody.replaceChildren(...(items.length === 0
    ? [element('tr', {}, element('td', { class: 'empty', colspan: columns }, empty))]
    : items))
}

const SERVICE_STATES = [
  ['running', 'Running'],
  ['never_started', 'Called but never started'],
  ['crashed', 'Gone: crashed or stuck'],
  ['stopped', 'Stopped (logged out) with requests waiting']
]

function render (diagnostics) {
  const { now } = diagnostics
  const queues = [...diagnostics.queues].sort((a, b) => a.name < b.name ? -1 : a.name > b.name ? 1 : 0)
  const store = diagnostics.store.location === undefined ? diagnostics.store.kind : `${diagnostics.store.kind} at ${diagnostics.store.location}`
  $('#summary').textContent = `up ${duration(now - diagnostics.startTime)}, store: ${store}, ${queues.length} queues, ${diagnostics.sessions.length} sessions`

  const services = queues.filter((queue) => queue.kind === 'persistent')
  $('#services').replaceChildren(...SERVICE_STATES.map(([state, title]) => {
    const listed = services.filter((queue) => serviceState(queue, now) === state)
    return element('div', { 'data-state': state },
      element('h3', { class: `state-${state}` }, `${title} (${listed.length})`),
      listed.length === 0
        ? element('p', { class: 'none' }, 'none')
        : element('ul', {}, ...listed.map((queue) => element('li', { 'data-queue': queue.name },
          `${queue.name}: ${held(queue)} waiting, ${queue.waiting} listening`))))
  }))

  rows($('#queues tbody'), queues.map((queue) => {
    const state = queue.kind === 'persistent' ? serviceState(queue, now) : ''
    return element('tr', { 'data-queue': queue.name },
      element('td', {}, queue.name),
      element('td', {}, queue.kind),
      element('td', { class: 'number depth' }, String(held(queue))),
      element('td', { class: 'number waiting' }, String(queue.waiting)),
      element('td', { class: `state-${state}` }, state.replace('_', ' ')),
      element('td', {}, queue.owner ?? ''),
      element('td', {}, (queue.bindings ?? []).join(', ')))
  }), 7, 'no queues')

  const sessions = [...diagnostics.sessions].sort((a, b) => a.client < b.client ? -1 : a.client > b.client ? 1 : 0)
  rows($('#sessions tbody'), sessions.map((session) => element('tr', { 'data-session': session.id },
    element('td', {}, session.client),
    element('td', {}, session.principal ?? ''),
    element('td', {}, `${duration(now - session.lastActivity)} ago`),
    element('td', { class: 'number' }, String(session.inFlight)),
    element('td', {}, session.subscriptions.join(' ')),
    element('td', {}, session.queues.join(' ')))), 6, 'no sessions')

  rows($('#limits tbody'), Object.entries(diagnostics.limits ?? {}).map(([name, { limit, used }]) =>
    element('tr', { 'data-limit': name },
      element('td', {}, name),
      element('td', { class: 'number used' }, amount(name, used)),
      element('td', { class: 'number limit' }, amount(name, limit)),
      element('td', {}, used === undefined ? '' : element('meter', { min: 0, max: limit, value: used, high: limit * 0.9 })))), 4, 'none')
}

/** A participant's lifeline key and label: clients and queues each have their own column. */
function ends (event) {
  const client = event.client === undefined ? undefined : `client ${event.client}`
  const queue = event.queue === undefined ? undefined : `queue ${event.queue}`
  // A delivery goes from the queue to its receiver; everything else from the client to what it acts on.
  return event.type === 'deliver' ? [queue, client] : [client, queue]
}

function label (event) {
  const id = event.messageId === undefined ? '' : ` #${event.messageId}`
  const took = event.processingTime === undefined || event.type !== 'ack' ? '' : ` (${event.processingTime} ms)`
  return `${event.type.replace('_', ' ')}${id}${took}`
}

/** The latest events as a sequence chart, one lifeline per client and queue, one arrow per event (as mscgen draws). */
function drawTrace () {
  const shown = events.slice(-CHART_EVENTS)
  const columns = []
  for (const event of shown) {
    for (const end of ends(event)) if (end !== undefined && !columns.includes(end)) columns.push(end)
  }
  const column = 150
  const row = 26
  const top = 44
  const left = 90
  const width = left + Math.max(1, columns.length) * column
  const height = top + shown.length * row + 16
  const x = (key) => left + columns.indexOf(key) * column + column / 2
  const chart = svg('svg', { width, height, viewBox: `0 0 ${width} ${height}`, role: 'img', 'aria-label': 'trace sequence chart' },
    svg('defs', {}, svg('marker', { id: 'arrow', viewBox: '0 0 10 10', refX: 10, refY: 5, markerWidth: 7, markerHeight: 7, orient: 'auto-start-reverse' },
      svg('path', { d: 'M 0 0 L 10 5 L 0 10 z' }))))
  for (const key of columns) {
    const [kind, ...name] = key.split(' ')
    chart.append(
      svg('line', { class: 'lifeline', x1: x(key), y1: top - 10, x2: x(key), y2: height }),
      svg('g', { class: `head ${kind}`, 'data-lifeline': key },
        svg('rect', { x: x(key) - column / 2 + 8, y: 6, width: column - 16, height: 24, rx: 4 }),
        svg('text', { x: x(key), y: 22 }, name.join(' '))))
  }
  shown.forEach((event, i) => {
    const y = top + i * row + row / 2
    const [from, to] = ends(event)
    const group = svg('g', { class: `event ${event.type}`, 'data-type': event.type, 'data-id': event.id })
    if (event.queue !== undefined) group.setAttribute('data-queue', event.queue)
    if (event.messageId !== undefined) group.setAttribute('data-message', event.messageId)
    group.append(svg('text', { class: 'time', x: 4, y: y + 4 }, new Date(event.time).toLocaleTimeString()))
    const start = from ?? to
    if (to === undefined || from === undefined || start === to) {
      // A login or a session's end: a mark on its own lifeline.
      group.classList.add('self')
      group.append(svg('line', { x1: x(start) - 12, y1: y, x2: x(start) + 12, y2: y }),
        svg('text', { x: x(start), y: y - 5 }, label(event)))
    } else {
      group.append(svg('line', { x1: x(from), y1: y, x2: x(to), y2: y }),
        svg('text', { x: (x(from) + x(to)) / 2, y: y - 5 }, label(event)))
    }
    chart.append(group)
  })
  $('#trace').replaceChildren(chart)
}

async function refresh () {
  render(await api('/v1/diagnostics'))
}

function refreshSoon (run) {
  if (refreshTimer !== undefined) return
  refreshTimer = setTimeout(() => {
    refreshTimer = undefined
    refresh().catch((error) => { stopped(run, error) })
  }, REFRESH_AFTER)
}

/** Follows the trace for as long as this run is the current one. */
async function follow (run) {
  let wait = 0
  while (run === generation) {
    const { events: fresh, next } = await api(`/v1/trace?after=${after}&timeout=${wait}`)
    if (run !== generation) return
    after = next
    if (fresh.length > 0) {
      events = events.concat(fresh).slice(-CHART_EVENTS)
      drawTrace()
      refreshSoon(run)
    }
    // The first call reads what the trace holds at once; the next ones wait for news.
    wait = TRACE_WAIT
    status('live', 'live')
  }
}

function askToLogIn (message) {
  $('#dashboard').hidden = true
  $('#login').hidden = false
  $('#logout').hidden = true
  status('not logged in', 'down')
  notice(message)
}

/** What to do when a run ends: log in again, say why it cannot be shown, or try again shortly. */
function stopped (run, error) {
  if (run !== generation) return
  generation++
  if (error instanceof Refused && error.status === 401) {
    const expired = token !== undefined
    token = undefined
    sessionStorage.removeItem(TOKEN_KEY)
    askToLogIn(expired ? 'Your session has ended: log in again.' : undefined)
  } else if (error instanceof Refused) {
    askToLogIn(`Refused: ${error.message}. The dashboard needs the observe permission: log in as a principal that has it.`)
  } else {
    status('switch unreachable, retrying…', 'down')
    setTimeout(start, RETRY_AFTER)
  }
}

async function start () {
  const run = ++generation
  try {
    await refresh()
    if (run !== generation) return
    $('#login').hidden = true
    $('#dashboard').hidden = false
    $('#logout').hidden = token === undefined
    notice(undefined)
    await follow(run)
  } catch (error) {
    stopped(run, error)
  }
}

$('#login').addEventListener('submit', async (submitted) => {
  submitted.preventDefault()
  const apiKey = $('#api-key').value
  const credentials = apiKey === '' ? { principal: $('#principal').value, secret: $('#secret').value } : { apiKey }
  try {
    token = undefined
    const session = await api('/v1/sessions', {
      method: 'POST',
      headers: { 'content-type': 'application/json' },
      body: JSON.stringify({ client: 'dashboard', ...credentials })
    })
    token = session.token
    sessionStorage.setItem(TOKEN_KEY, token)
    $('#secret').value = ''
    $('#api-key').value = ''
    after = 0
    events = []
    await start()
  } catch (error) {
    notice(`Login failed: ${error.message}`)
  }
})

$('#logout').addEventListener('click', async () => {
  generation++
  await api('/v1/session', { method: 'DELETE' }).catch(() => {})
  token = undefined
  sessionStorage.removeItem(TOKEN_KEY)
  askToLogIn(undefined)
})

start()
