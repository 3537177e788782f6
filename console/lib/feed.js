// The live feed: GET /events read with fetch streaming (EventSource cannot
// send the Authorization header), kept in memory, drawn as a list with a
// verdict mark per event, and filtered by agent, capability, verdict and
// reason code. The filters live in the URL (#/?agent=…&verdict=…), so a
// filtered view can be bookmarked and shared.

import { $, AuthError, agentLink, decisionLink, el, session } from './dom.js';
import { rateChart } from './svg.js';

const KEEP = 1000;
const SHOWN = 100;
export const FILTERS = ['agent', 'capability', 'verdict', 'reason'];

const feed = { events: [], stream: null, lastEventId: null, filters: {}, listeners: [] };

/** The verdict an event stands for, where it stands for one. */
export function verdictOf(e) {
  const d = e.data || {};
  if (e.type === 'EscalationOpened' || (e.type === 'PolicyDecided' && d.decision === 'escalate')) return 'escalated';
  if (e.type === 'IntentRejected' || (e.type === 'ActionOutcome' && d.ok === false)) return 'rejected';
  if (e.type === 'EscalationResolved') return d.resolution === 'approved' ? 'accepted' : 'rejected';
  if (e.type === 'ActionOutcome' && d.ok === true) return 'accepted';
  return null;
}

function matches(e, f) {
  return (
    (!f.agent || e.concerns === f.agent || e.agent === f.agent) &&
    (!f.capability || (e.data && e.data.capability === f.capability)) &&
    (!f.verdict || verdictOf(e) === f.verdict) &&
    (!f.reason || e.reasons.includes(f.reason))
  );
}

function item(e) {
  const verdict = verdictOf(e);
  const d = e.data || {};
  return el(
    'li',
    { 'data-seq': e.seq, 'data-verdict': verdict || '', 'data-agent': e.concerns, 'data-capability': d.capability || '' },
    el('span', { class: `mark ${verdict || 'none'}`, text: verdict ? verdict[0].toUpperCase() : '·', title: verdict || 'no verdict', 'aria-label': verdict || 'no verdict' }),
    el('span', { class: 'mono', text: `#${e.seq} ${new Date(e.time).toLocaleTimeString()} ` }),
    e.decision_id ? decisionLink(e.decision_id, e.type) : el('strong', { text: e.type }),
    ' ',
    agentLink(e.concerns),
    `${d.capability ? ` ${d.capability}` : ''}${d.act ? ` ${d.act}` : ''}${e.agent !== e.concerns ? ` by ${e.agent}` : ''}${d.by ? ` by ${d.by}` : ''} `,
    e.reasons.length ? el('span', { class: 'reasons', text: e.reasons.join(', ') }) : null,
  );
}

const STEP_MS = 10_000;
const STEPS = 30;

/** The feed drawn: the shown events of the last five minutes, per ten seconds, by verdict. */
function drawStrip() {
  const first = Math.floor(Date.now() / STEP_MS) - STEPS + 1;
  const buckets = Array.from({ length: STEPS }, (_, i) => ({ at: new Date((first + i) * STEP_MS).toISOString(), accepted: 0, rejected: 0, escalated: 0 }));
  for (const e of feed.events) {
    const v = verdictOf(e);
    const b = buckets[Math.floor(Date.parse(e.time) / STEP_MS) - first];
    if (v && b && matches(e, feed.filters)) b[v] += 1;
  }
  $('feed-strip').replaceChildren(rateChart(buckets, { what: 'Live feed, last 5 minutes in 10-second steps', barWidth: 16, height: 48, step: '10 s' }));
}
setInterval(() => {
  if (feed.stream) drawStrip();
}, STEP_MS);

/** Redraws the list from the kept events and the current filters. */
export function drawFeed() {
  drawStrip();
  const shown = feed.events.filter((e) => matches(e, feed.filters)).slice(0, SHOWN);
  $('feed').replaceChildren(...shown.map(item));
  $('feed-count').textContent = `${shown.length} shown of ${feed.events.length} received`;
}

/** Sets the filters (from the URL) into the form and redraws. */
export function setFilters(params) {
  feed.filters = {};
  for (const k of FILTERS) {
    const v = params.get(k) || '';
    if (v) feed.filters[k] = v;
    const input = $(`filter-${k}`);
    if (input && input.value !== v) {
      if (input.tagName === 'SELECT' && v && ![...input.options].some((o) => o.value === v)) input.append(el('option', { value: v, text: v }));
      input.value = v;
    }
  }
  drawFeed();
}

/** The filter form writes the URL; the router reads it back (one source of truth). */
export function wireFilters() {
  const write = () => {
    const q = new URLSearchParams();
    for (const k of FILTERS) {
      const v = $(`filter-${k}`).value.trim();
      if (v) q.set(k, v);
    }
    const hash = `#/${q.toString() ? `?${q}` : ''}`;
    if (location.hash !== hash) history.replaceState(null, '', hash);
    setFilters(q);
  };
  $('feed-filters').addEventListener('change', write);
  $('feed-filters').addEventListener('submit', (ev) => {
    ev.preventDefault();
    write();
  });
  $('filter-clear').addEventListener('click', () => {
    for (const k of FILTERS) $(`filter-${k}`).value = '';
    write();
  });
}

/** Called with (category, event) for every event that arrives. */
export function onFeedEvent(fn) {
  feed.listeners.push(fn);
}

function received(category, data) {
  const e = JSON.parse(data);
  feed.events.unshift(e);
  if (feed.events.length > KEEP) feed.events.length = KEEP;
  if (matches(e, feed.filters)) {
    const list = $('feed');
    list.prepend(item(e));
    while (list.children.length > SHOWN) list.lastElementChild.remove();
    $('feed-count').textContent = `${list.children.length} shown of ${feed.events.length} received`;
    drawStrip();
  }
  for (const fn of feed.listeners) fn(category, e);
}

export function stopFeed() {
  if (feed.stream) feed.stream.abort();
  feed.stream = null;
}

export async function startFeed(onAuthLost) {
  let delay = 1000;
  while (session.key) {
    const controller = new AbortController();
    feed.stream = controller;
    try {
      const headers = { Authorization: `Bearer ${session.key}`, Accept: 'text/event-stream' };
      if (feed.lastEventId) headers['Last-Event-ID'] = feed.lastEventId;
      const res = await fetch(feed.lastEventId ? '/events' : '/events?backlog=200', { headers, signal: controller.signal });
      if (res.status === 401) throw new AuthError('the key was refused');
      if (res.status !== 200 || !res.body) throw new Error(`events: HTTP ${res.status}`);
      $('feed-state').textContent = 'live';
      delay = 1000;
      await readSse(res.body, received);
    } catch (err) {
      if (err instanceof AuthError) return onAuthLost(err);
      if (controller.signal.aborted) return;
    }
    $('feed-state').textContent = 'reconnecting…';
    await new Promise((r) => setTimeout(r, delay));
    delay = Math.min(delay * 2, 15000);
  }
}

async function readSse(body, handler) {
  const reader = body.pipeThrough(new TextDecoderStream()).getReader();
  let buffer = '';
  for (;;) {
    const { value, done } = await reader.read();
    if (done) return;
    buffer += value;
    let cut;
    while ((cut = buffer.indexOf('\n\n')) >= 0) {
      const block = buffer.slice(0, cut);
      buffer = buffer.slice(cut + 2);
      let event = 'message';
      let id = null;
      const data = [];
      for (const line of block.split('\n')) {
        if (line.startsWith(':')) continue;
        const i = line.indexOf(':');
        const field = i < 0 ? line : line.slice(0, i);
        const val = i < 0 ? '' : line.slice(i + 1).replace(/^ /, '');
        if (field === 'event') event = val;
        else if (field === 'id') id = val;
        else if (field === 'data') data.push(val);
      }
      if (id) feed.lastEventId = id;
      if (data.length) handler(event, data.join('\n'));
    }
  }
}
