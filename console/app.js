// Mandate operator console: the entry module. Logs in with an operator key
// (kept in this tab's sessionStorage, sent as an Authorization header), routes
// between the pages by the URL's hash, and keeps the overview fresh. Same
// origin only: the server's CSP forbids any other source. Data is rendered as
// text, never as HTML.

import { $, AuthError, say, session, api } from './lib/dom.js';
import { onFeedEvent, setFilters, startFeed, stopFeed, wireFilters } from './lib/feed.js';
import { showAgent } from './pages/agent.js';
import { showCheck } from './pages/check.js';
import { showDecision } from './pages/decision.js';
import { showDelegations } from './pages/delegations.js';
import { loadAgents, loadApprovals, loadCharts, verifyLedger } from './pages/home.js';
import { showImpact } from './pages/impact.js';
import { showPlan, showPlans } from './pages/plans.js';

const KEY = 'mandate.operatorKey';
const timers = [];
let refreshTimer = null;

function guard(promise) {
  return promise.catch((err) => {
    if (err instanceof AuthError) logout(`Logged out: ${err.message}`);
    else say(`Error: ${err.message}`);
  });
}

const VIEWS = ['view-home', 'view-decision', 'view-agent', 'view-delegations', 'view-plans', 'view-plan', 'view-check', 'view-impact'];

/** Each page: the first path segment, whether it takes an id, its section and heading, and how it is drawn. */
/** `live`: the ledger event types after which the page, while shown, is drawn again (the tree and the plans follow what agents do). */
const PAGES = [
  { path: 'decisions', id: true, view: 'view-decision', heading: 'decision-title', draw: (id) => showDecision(id) },
  { path: 'agents', id: true, view: 'view-agent', heading: 'agent-title', draw: (id) => showAgent(id) },
  { path: 'delegations', id: false, view: 'view-delegations', heading: 'delegations-title', draw: (_, q) => showDelegations(q.get('root')), live: /^(Delegat|ActionOutcome$)/ },
  { path: 'plans', id: true, view: 'view-plan', heading: 'plan-title', draw: (id) => showPlan(id), live: /^(Plan|ActionOutcome$|IntentRejected$)/ },
  { path: 'plans', id: false, view: 'view-plans', heading: 'plans-title', draw: (_, q) => showPlans(q.get('agent')), live: /^Plan/ },
  { path: 'check', id: false, view: 'view-check', heading: 'check-title', draw: () => showCheck() },
  { path: 'impact', id: false, view: 'view-impact', heading: 'impact-title', draw: () => showImpact() },
];

function show(view, heading) {
  for (const v of VIEWS) $(v).hidden = v !== view;
  for (const a of document.querySelectorAll('nav a[data-view]')) {
    if (a.dataset.view === view) a.setAttribute('aria-current', 'page');
    else a.removeAttribute('aria-current');
  }
  // Move the keyboard and screen readers to the page that opened.
  if (heading) $(heading).focus();
}

/**
 * The hash is the route: #/ (with feed filters), #/decisions/<id>,
 * #/agents/<name>, #/delegations[?root=], #/plans[?agent=], #/plans/<id>,
 * #/check, #/impact.
 */
function current() {
  const hash = location.hash.replace(/^#/, '') || '/';
  const [path, query] = hash.split('?');
  const parts = path.split('/').filter(Boolean).map(decodeURIComponent);
  return { page: PAGES.find((p) => p.path === parts[0] && p.id === !!parts[1]), id: parts[1], query: new URLSearchParams(query || '') };
}

function route() {
  if (!session.key) return;
  const { page, id, query } = current();
  if (page) {
    show(page.view, page.heading);
    return guard(page.draw(id, query));
  }
  show('view-home', null);
  setFilters(query);
}

/**
 * Draws the shown page again after events it follows, unless the operator is
 * in the middle of something there (a confirm step open, or the keyboard on
 * one of its controls): a redraw would take that away.
 */
let liveTypes = new Set();
let liveTimer = null;
function redrawLive(type) {
  liveTypes.add(type);
  clearTimeout(liveTimer);
  liveTimer = setTimeout(() => {
    const types = [...liveTypes];
    liveTypes = new Set();
    const { page, id, query } = current();
    if (!page || !page.live || $(page.view).hidden || !types.some((t) => page.live.test(t))) return;
    const body = $(page.view);
    const busy = body.querySelector('.confirm:not([hidden])') || (body.contains(document.activeElement) && document.activeElement.id !== page.heading);
    if (!busy) void guard(page.draw(id, query));
  }, 300);
}

function refresh() {
  return guard(Promise.all([loadApprovals(guard), loadAgents(guard)]));
}

async function login(key) {
  session.key = key;
  const r = await api('/api/v1/whoami');
  if (r.status !== 200) throw new Error((r.body && r.body.error && r.body.error.message) || `HTTP ${r.status}`);
  sessionStorage.setItem(KEY, key);
  session.role = r.body.role;
  session.name = r.body.operator;
  $('who').textContent = `${session.name} (${session.role})`;
  for (const id of ['who', 'logout', 'nav']) $(id).hidden = false;
  $('login').hidden = true;
  $('app').hidden = false;
  route();
  await Promise.all([loadApprovals(guard), loadAgents(guard), verifyLedger(), loadCharts()]);
  void startFeed((err) => logout(`Logged out: ${err.message}`));
  timers.push(setInterval(() => void refresh(), 5000), setInterval(() => void guard(verifyLedger()), 30000), setInterval(() => void guard(loadCharts()), 10000));
}

function logout(message) {
  sessionStorage.removeItem(KEY);
  session.key = null;
  stopFeed();
  timers.splice(0).forEach(clearInterval);
  $('app').hidden = true;
  $('login').hidden = false;
  for (const id of ['who', 'logout', 'nav']) $(id).hidden = true;
  $('login-error').textContent = message || '';
  $('key').value = '';
  $('key').focus();
}

// Escalations and interventions change the queue and the agents; decisions change the charts.
onFeedEvent((category, e) => {
  redrawLive(e.type);
  clearTimeout(refreshTimer);
  refreshTimer = setTimeout(() => {
    if (category === 'escalation' || category === 'intervention') void refresh();
    void guard(loadCharts());
  }, 200);
});

$('login-form').addEventListener('submit', (ev) => {
  ev.preventDefault();
  $('login-error').textContent = '';
  login($('key').value.trim()).catch((err) => {
    sessionStorage.removeItem(KEY);
    session.key = null;
    $('login-error').textContent = `Login failed: ${err.message}`;
  });
});
$('logout').addEventListener('click', () => logout('Logged out.'));
$('verify').addEventListener('click', () => void guard(verifyLedger()));
$('search').addEventListener('submit', (ev) => {
  ev.preventDefault();
  const v = $('search-id').value.trim();
  if (v) location.hash = `#/decisions/${encodeURIComponent(v)}`;
});
window.addEventListener('hashchange', route);
wireFilters();

if (session.key) login(session.key).catch(() => logout('Your session ended; log in again.'));
else $('key').focus();
