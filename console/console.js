// Mandate operator console. Same-origin only (the server's CSP forbids any
// other source). The operator key stays in sessionStorage and goes out as an
// Authorization header; the live feed reads GET /events with fetch streaming,
// because EventSource cannot send headers. All data is rendered as text.
'use strict';

(function () {
  const KEY = 'mandate.operatorKey';
  const FEED_MAX = 100;
  const $ = (id) => document.getElementById(id);
  const state = { key: sessionStorage.getItem(KEY), role: null, name: null, stream: null, lastEventId: null, refreshTimer: null, pollTimer: null, verifyTimer: null };

  function el(tag, props, ...children) {
    const node = document.createElement(tag);
    for (const [k, v] of Object.entries(props || {})) {
      if (k === 'class') node.className = v;
      else if (k === 'text') node.textContent = v;
      else if (k.startsWith('on')) node.addEventListener(k.slice(2), v);
      else if (v !== undefined && v !== null && v !== false) node.setAttribute(k, v === true ? '' : String(v));
    }
    for (const c of children) if (c !== null && c !== undefined) node.append(c);
    return node;
  }

  function say(text) {
    $('status').textContent = text;
  }

  class AuthError extends Error {}

  async function api(path, options) {
    const init = Object.assign({ headers: {} }, options || {});
    init.headers = Object.assign({ Authorization: `Bearer ${state.key}`, Accept: 'application/json' }, init.headers);
    if (init.json !== undefined) {
      init.headers['Content-Type'] = 'application/json';
      init.body = JSON.stringify(init.json);
      delete init.json;
    }
    const res = await fetch(path, init);
    let body = null;
    try {
      body = await res.json();
    } catch {
      body = null;
    }
    if (res.status === 401) throw new AuthError((body && body.error && body.error.message) || 'not authorised');
    return { status: res.status, body };
  }

  // ---- login ---------------------------------------------------------------

  async function login(key) {
    state.key = key;
    const r = await api('/api/v1/whoami');
    if (r.status !== 200) throw new Error((r.body && r.body.error && r.body.error.message) || `HTTP ${r.status}`);
    sessionStorage.setItem(KEY, key);
    state.role = r.body.role;
    state.name = r.body.operator;
    $('who').textContent = `${state.name} (${state.role})`;
    $('who').hidden = false;
    $('logout').hidden = false;
    $('login').hidden = true;
    $('app').hidden = false;
    await Promise.all([loadApprovals(), loadAgents(), verify()]);
    startFeed();
    state.pollTimer = setInterval(() => void refresh(), 5000);
    state.verifyTimer = setInterval(() => void verify(), 30000);
  }

  function logout(message) {
    sessionStorage.removeItem(KEY);
    state.key = null;
    if (state.stream) state.stream.abort();
    state.stream = null;
    clearInterval(state.pollTimer);
    clearInterval(state.verifyTimer);
    $('app').hidden = true;
    $('login').hidden = false;
    $('who').hidden = true;
    $('logout').hidden = true;
    $('login-error').textContent = message || '';
    $('key').value = '';
    $('key').focus();
  }

  function guard(promise) {
    return promise.catch((err) => {
      if (err instanceof AuthError) logout(`Logged out: ${err.message}`);
      else say(`Error: ${err.message}`);
    });
  }

  // ---- approvals -----------------------------------------------------------

  function countdown(node) {
    const left = Math.max(0, Math.round((Date.parse(node.dataset.expires) - Date.now()) / 1000));
    const m = Math.floor(left / 60);
    const s = String(left % 60).padStart(2, '0');
    node.textContent = left > 0 ? `${m}:${s} left` : 'expired';
    node.classList.toggle('soon', left < 60);
  }

  function paramsNode(a) {
    if (a.params_redacted) return el('span', { class: 'hint', text: 'redacted (the capability does not opt in with audit.recordParams)' });
    return el('code', { text: JSON.stringify(a.params) });
  }

  function approvalItem(a) {
    const reasonId = `reason-${a.decision_id}`;
    const readOnly = state.role !== 'operator';
    const expiry = el('span', { class: 'expiry', 'data-expires': a.expires_at });
    countdown(expiry);
    const decide = (act) => async (ev) => {
      ev.preventDefault();
      const reason = document.getElementById(reasonId).value.trim();
      item.querySelectorAll('button').forEach((b) => (b.disabled = true));
      await guard(
        api(`/api/v1/approvals/${encodeURIComponent(a.decision_id)}/${act}`, { method: 'POST', json: reason ? { reason } : {} }).then((r) => {
          if (r.status === 200) say(`${act === 'approve' ? 'Approved' : 'Denied'} ${a.capability} for ${a.agent}: ${r.body.outcome.verdict} (${r.body.outcome.status})${r.body.outcome.reasons.length ? ` ${r.body.outcome.reasons.join(', ')}` : ''}`);
          else say(`Could not ${act}: ${(r.body && r.body.error && r.body.error.message) || r.status}`);
        }),
      );
      await guard(loadApprovals());
    };
    const item = el(
      'li',
      { class: 'approval', 'data-decision-id': a.decision_id },
      el('h3', { text: `${a.capability} — ${a.agent}` }),
      el(
        'dl',
        {},
        el('dt', { text: 'Decision' }), el('dd', { class: 'mono', text: a.decision_id }),
        el('dt', { text: 'DFID' }), el('dd', { class: 'mono', text: a.dfid }),
        el('dt', { text: 'Why' }), el('dd', { text: a.reason || '—' }),
        el('dt', { text: 'Policies' }), el('dd', { class: 'mono', text: a.policies.join(', ') || '—' }),
        el('dt', { text: 'Params' }), el('dd', {}, paramsNode(a)),
        el('dt', { text: 'Expires' }), el('dd', {}, expiry),
      ),
      el(
        'form',
        { class: 'actions', onsubmit: decide('approve') },
        el('label', { for: reasonId, text: 'Reason (recorded as a hash)' }),
        el('input', { id: reasonId, type: 'text', maxlength: 2000, disabled: readOnly }),
        el('button', { type: 'submit', class: 'approve', disabled: readOnly, text: 'Approve' }),
        el('button', { type: 'button', class: 'deny', disabled: readOnly, text: 'Deny', onclick: decide('deny') }),
      ),
    );
    return item;
  }

  async function loadApprovals() {
    const r = await api('/api/v1/approvals');
    if (r.status !== 200) return;
    const list = $('approvals');
    // Keep a reason an operator is typing.
    const typing = document.activeElement && list.contains(document.activeElement) ? document.activeElement.id : null;
    const typed = typing ? document.activeElement.value : null;
    list.replaceChildren(...r.body.approvals.map(approvalItem));
    if (typing && document.getElementById(typing)) {
      document.getElementById(typing).value = typed;
      document.getElementById(typing).focus();
    }
    $('approvals-count').textContent = String(r.body.approvals.length);
    $('approvals-empty').hidden = r.body.approvals.length > 0;
  }

  // ---- agents --------------------------------------------------------------

  function agentRow(a) {
    const act = a.status === 'active' ? 'pause' : 'resume';
    const button = el('button', {
      type: 'button',
      disabled: state.role !== 'operator',
      text: act === 'pause' ? 'Pause' : 'Resume',
      'aria-label': `${act === 'pause' ? 'Pause' : 'Resume'} ${a.agent}`,
      onclick: async () => {
        button.disabled = true;
        await guard(
          api('/api/v1/interventions', { method: 'POST', json: { act, agent: a.agent, reason: `${act} from the console` } }).then((r) => {
            say(r.status === 200 ? `${a.agent}: ${act} applied` : `${a.agent}: ${act} refused (${(r.body && r.body.outcome && r.body.outcome.reasons.join(', ')) || (r.body && r.body.error && r.body.error.message) || r.status})`);
          }),
        );
        await guard(loadAgents());
      },
    });
    return el(
      'tr',
      { 'data-agent': a.agent },
      el('th', { scope: 'row', text: a.agent }),
      el('td', { text: a.role || '' }),
      el('td', { class: `st-${a.status}`, text: a.status }),
      el('td', { text: String(a.pending_approvals) }),
      el('td', { text: String(a.sessions) }),
      el('td', {}, button),
    );
  }

  async function loadAgents() {
    const r = await api('/api/v1/agents');
    if (r.status === 200) $('agents').tBodies[0].replaceChildren(...r.body.agents.map(agentRow));
  }

  // ---- ledger --------------------------------------------------------------

  async function verify() {
    const r = await api('/api/v1/ledger/verify');
    const node = $('ledger-status');
    if (r.status !== 200) return;
    node.classList.toggle('ok', r.body.intact);
    node.classList.toggle('broken', !r.body.intact);
    node.textContent = r.body.intact
      ? `Intact: ${r.body.events} events, head ${r.body.head.slice(0, 16)}… (verified ${new Date().toLocaleTimeString()})`
      : `BROKEN at seq ${r.body.first_bad_seq}: ${r.body.problem}`;
  }

  // ---- live feed -----------------------------------------------------------

  function feedItem(e) {
    const when = new Date(e.time).toLocaleTimeString();
    return el(
      'li',
      { 'data-seq': e.seq },
      el('span', { class: 'mono', text: `#${e.seq} ${when} ` }),
      el('strong', { text: e.type }),
      document.createTextNode(` ${e.concerns}${e.data && e.data.capability ? ` ${e.data.capability}` : ''}${e.data && e.data.act ? ` ${e.data.act}` : ''}${e.agent !== e.concerns ? ` by ${e.agent}` : ''}${e.data && e.data.by ? ` by ${e.data.by}` : ''} `),
      e.reasons.length ? el('span', { class: 'reasons', text: e.reasons.join(', ') }) : null,
    );
  }

  function onEvent(category, data) {
    const e = JSON.parse(data);
    const feed = $('feed');
    feed.prepend(feedItem(e));
    while (feed.children.length > FEED_MAX) feed.lastElementChild.remove();
    if (category === 'escalation' || category === 'intervention') {
      clearTimeout(state.refreshTimer);
      state.refreshTimer = setTimeout(() => void refresh(), 150);
    }
  }

  async function startFeed() {
    let delay = 1000;
    while (state.key) {
      const controller = new AbortController();
      state.stream = controller;
      try {
        const headers = { Authorization: `Bearer ${state.key}`, Accept: 'text/event-stream' };
        if (state.lastEventId) headers['Last-Event-ID'] = state.lastEventId;
        const res = await fetch(state.lastEventId ? '/events' : '/events?backlog=50', { headers, signal: controller.signal });
        if (res.status === 401) throw new AuthError('the key was refused');
        if (res.status !== 200 || !res.body) throw new Error(`events: HTTP ${res.status}`);
        $('feed-state').textContent = 'live';
        delay = 1000;
        await readSse(res.body, onEvent);
      } catch (err) {
        if (err instanceof AuthError) return logout(`Logged out: ${err.message}`);
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
        if (id) state.lastEventId = id;
        if (data.length) handler(event, data.join('\n'));
      }
    }
  }

  function refresh() {
    return guard(Promise.all([loadApprovals(), loadAgents()]));
  }

  // ---- wiring --------------------------------------------------------------

  $('login-form').addEventListener('submit', (ev) => {
    ev.preventDefault();
    $('login-error').textContent = '';
    login($('key').value.trim()).catch((err) => {
      sessionStorage.removeItem(KEY);
      state.key = null;
      $('login-error').textContent = `Login failed: ${err.message}`;
    });
  });
  $('logout').addEventListener('click', () => logout('Logged out.'));
  $('verify').addEventListener('click', () => void guard(verify()));
  setInterval(() => document.querySelectorAll('.expiry[data-expires]').forEach(countdown), 1000);

  if (state.key) login(state.key).catch(() => logout('Your session ended; log in again.'));
  else $('key').focus();
})();
