// The overview: pending approvals with the exact call, budgets and monitors
// drawn, the decision rate over the last hour, agents, the ledger check.

import { $, agentLink, api, el, errorText, say, session } from '../lib/dom.js';
import { budgetBar, monitorChart, rateChart } from '../lib/svg.js';
import { callDetails } from './call.js';

function countdown(node) {
  const left = Math.max(0, Math.round((Date.parse(node.dataset.expires) - Date.now()) / 1000));
  node.textContent = left > 0 ? `${Math.floor(left / 60)}:${String(left % 60).padStart(2, '0')} left` : 'expired';
  node.classList.toggle('soon', left < 60);
}
setInterval(() => document.querySelectorAll('.expiry[data-expires]').forEach(countdown), 1000);

function approvalItem(a, guard) {
  const reasonId = `reason-${a.decision_id}`;
  const readOnly = session.role !== 'operator';
  const expiry = el('span', { class: 'expiry', 'data-expires': a.expires_at });
  countdown(expiry);
  const decide = (act) => async (ev) => {
    ev.preventDefault();
    const reason = document.getElementById(reasonId).value.trim();
    item.querySelectorAll('button').forEach((b) => (b.disabled = true));
    await guard(
      api(`/api/v1/approvals/${encodeURIComponent(a.decision_id)}/${act}`, { method: 'POST', json: reason ? { reason } : {} }).then((r) => {
        if (r.status === 200) say(`${act === 'approve' ? 'Approved' : 'Denied'} ${a.capability} for ${a.agent}: ${r.body.outcome.verdict} (${r.body.outcome.status})${r.body.outcome.reasons.length ? ` ${r.body.outcome.reasons.join(', ')}` : ''}`);
        else say(`Could not ${act}: ${errorText(r)}`);
      }),
    );
    await guard(loadApprovals(guard));
  };
  const headingId = `approval-${a.decision_id}`;
  const item = el(
    'li',
    { class: 'approval', 'data-decision-id': a.decision_id, 'aria-labelledby': headingId },
    el('h3', { id: headingId, text: `${a.capability} — ${a.agent}` }),
    el(
      'dl',
      {},
      el('dt', { text: 'Decision' }), el('dd', {}, el('a', { class: 'mono', href: `#/decisions/${encodeURIComponent(a.decision_id)}`, text: a.decision_id })),
      el('dt', { text: 'DFID' }), el('dd', { class: 'mono', text: a.dfid }),
      el('dt', { text: 'Why' }), el('dd', { text: a.reason || '—' }),
      el('dt', { text: 'Expires' }), el('dd', {}, expiry),
    ),
    callDetails(a),
    el(
      'form',
      { class: 'actions', onsubmit: decide('approve'), 'aria-label': `Decide ${a.capability} for ${a.agent}` },
      el('label', { for: reasonId, text: 'Reason (recorded as a hash)' }),
      el('input', { id: reasonId, type: 'text', maxlength: 2000, disabled: readOnly }),
      el('button', { type: 'submit', class: 'approve', disabled: readOnly, text: 'Approve' }),
      el('button', { type: 'button', class: 'deny', disabled: readOnly, text: 'Deny', onclick: decide('deny') }),
    ),
  );
  return item;
}

export async function loadApprovals(guard) {
  const r = await api('/api/v1/approvals');
  if (r.status !== 200) return;
  const list = $('approvals');
  // Keep a reason an operator is typing, and where the keyboard is.
  const active = document.activeElement && list.contains(document.activeElement) ? document.activeElement : null;
  const typing = active ? active.id : null;
  const typed = active && active.tagName === 'INPUT' ? active.value : null;
  // Redraw only when the queue changed (an item, or what an item shows), so the poll does not disturb focus and typing.
  const sig = JSON.stringify(r.body.approvals);
  if (list.dataset.sig !== sig) {
    list.dataset.sig = sig;
    list.replaceChildren(...r.body.approvals.map((a) => approvalItem(a, guard)));
    if (typing && document.getElementById(typing)) {
      if (typed !== null) document.getElementById(typing).value = typed;
      document.getElementById(typing).focus();
    }
  }
  $('approvals-count').textContent = String(r.body.approvals.length);
  $('approvals-empty').hidden = r.body.approvals.length > 0;
}

function agentRow(a, guard) {
  const act = a.status === 'active' ? 'pause' : 'resume';
  const button = el('button', {
    type: 'button',
    disabled: session.role !== 'operator',
    text: act === 'pause' ? 'Pause' : 'Resume',
    'aria-label': `${act === 'pause' ? 'Pause' : 'Resume'} ${a.agent}`,
    onclick: async () => {
      button.disabled = true;
      await guard(
        api('/api/v1/interventions', { method: 'POST', json: { act, agent: a.agent, reason: `${act} from the console` } }).then((r) => {
          say(r.status === 200 ? `${a.agent}: ${act} applied` : `${a.agent}: ${act} refused (${(r.body && r.body.outcome && r.body.outcome.reasons.join(', ')) || errorText(r)})`);
        }),
      );
      await guard(loadAgents(guard));
    },
  });
  return el(
    'tr',
    { 'data-agent': a.agent },
    el('th', { scope: 'row' }, agentLink(a.agent)),
    el('td', { text: a.role || '' }),
    el('td', { class: `st-${a.status}`, text: a.status }),
    el('td', { text: String(a.pending_approvals) }),
    el('td', { text: String(a.sessions) }),
    el('td', {}, button),
  );
}

export async function loadAgents(guard) {
  const r = await api('/api/v1/agents');
  if (r.status !== 200) return;
  $('agents').tBodies[0].replaceChildren(...r.body.agents.map((a) => agentRow(a, guard)));
  // The feed's agent filter offers the agents there are.
  const select = $('filter-agent');
  const chosen = select.value;
  select.replaceChildren(el('option', { value: '', text: 'any agent' }), ...r.body.agents.map((a) => el('option', { value: a.agent, text: a.agent })));
  select.value = chosen;
}

export async function loadCharts() {
  const [budgets, monitors, rate] = await Promise.all([api('/api/v1/budgets'), api('/api/v1/monitors'), api('/api/v1/stats/decisions?minutes=60')]);
  if (budgets.status === 200) {
    $('budgets').replaceChildren(
      ...budgets.body.agents.filter((a) => a.budgets.length).map((a) => el('div', { class: 'agent-budgets', 'data-agent': a.agent }, el('h3', {}, agentLink(a.agent)), a.budgets.map(budgetBar))),
    );
  }
  if (monitors.status === 200) {
    $('monitors').replaceChildren(...monitors.body.monitors.map(monitorChart));
    $('monitors-empty').hidden = monitors.body.monitors.length > 0;
  }
  if (rate.status === 200) $('rate').replaceChildren(rateChart(rate.body.minutes));
}

export async function verifyLedger() {
  const r = await api('/api/v1/ledger/verify');
  const node = $('ledger-status');
  if (r.status !== 200) return;
  node.classList.toggle('ok', r.body.intact);
  node.classList.toggle('broken', !r.body.intact);
  node.textContent = r.body.intact
    ? `Intact: ${r.body.events} events, head ${r.body.head.slice(0, 16)}… (verified ${new Date().toLocaleTimeString()})`
    : `BROKEN at seq ${r.body.first_bad_seq}: ${r.body.problem}`;
}
