// Mandate operator console: the entry module. Logs in with an operator key
// (kept in this tab's sessionStorage, sent as an Authorization header), routes
// between the pages by the URL's hash, and keeps the overview fresh. Same
// origin only: the server's CSP forbids any other source. Data is rendered as
// text, never as HTML.

import { $, AuthError, say, session, api } from './lib/dom.js';
import { onFeedEvent, setFilters, startFeed, stopFeed, wireFilters } from './lib/feed.js';
import { showAgent } from './pages/agent.js';
import { showDecision } from './pages/decision.js';
import { loadAgents, loadApprovals, loadCharts, verifyLedger } from './pages/home.js';

const KEY = 'mandate.operatorKey';
const timers = [];
let refreshTimer = null;

function guard(promise) {
  return promise.catch((err) => {
    if (err instanceof AuthError) logout(`Logged out: ${err.message}`);
    else say(`Error: ${err.message}`);
  });
}

const VIEWS = ['view-home', 'view-decision', 'view-agent'];

function show(view, heading) {
  for (const v of VIEWS) $(v).hidden = v !== view;
  for (const a of document.querySelectorAll('nav a[data-view]')) {
    if (a.dataset.view === view) a.setAttribute('aria-current', 'page');
    else a.removeAttribute('aria-current');
  }
  // Move the keyboard and screen readers to the page that opened.
  if (heading) $(heading).focus();
}

/** The hash is the route: #/ (with feed filters), #/decisions/<id>, #/agents/<name>. */
function route() {
  if (!session.key) return;
  const hash = location.hash.replace(/^#/, '') || '/';
  const [path, query] = hash.split('?');
  const parts = path.split('/').filter(Boolean).map(decodeURIComponent);
  if (parts[0] === 'decisions' && parts[1]) {
    show('view-decision', 'decision-title');
    return guard(showDecision(parts[1]));
  }
  if (parts[0] === 'agents' && parts[1]) {
    show('view-agent', 'agent-title');
    return guard(showAgent(parts[1]));
  }
  show('view-home', null);
  setFilters(new URLSearchParams(query || ''));
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
onFeedEvent((category) => {
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
