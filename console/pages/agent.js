// An agent's page (#/agents/<name>): status, the contract (grants, limits,
// escalation rules, stewards, monitors), budgets used and left, recent
// decisions, and interventions with their lifecycle.

import { $, api, dateTime, decisionLink, dl, el, errorText, mono } from '../lib/dom.js';
import { budgetBar, monitorChart } from '../lib/svg.js';

const text = (v) => (typeof v === 'string' ? v : JSON.stringify(v));

function limitsText(limits) {
  const parts = [];
  for (const [k, v] of Object.entries(limits || {})) {
    if (k === 'budgets') continue;
    if (v && typeof v === 'object' && !Array.isArray(v)) for (const [field, x] of Object.entries(v)) parts.push(`${k} ${field} ${text(x)}`);
    else parts.push(`${k} ${text(v)}`);
  }
  for (const b of (limits && limits.budgets) || []) parts.push(`budget ${b.window}: ${b.max_calls !== undefined ? `${b.max_calls} calls` : ''}${b.sum ? ` ${b.sum} ≤ ${b.max}` : ''}`);
  return parts.join('; ') || 'none';
}

function table(caption, head, rows, cls) {
  if (!rows.length) return el('p', { class: 'hint', text: `${caption}: none` });
  return el('table', { class: cls || '' }, el('caption', { text: caption }), el('thead', {}, el('tr', {}, head.map((h) => el('th', { scope: 'col', text: h })))), el('tbody', {}, rows));
}

function contractSection(c) {
  const grants = c.grants.map((g) => el('tr', { 'data-capability': g.capability }, el('th', { scope: 'row', class: 'mono', text: g.capability }), el('td', { text: limitsText(g.limits) })));
  const rules = ((c.escalation && c.escalation.rules) || []).map((r) => el('tr', {}, el('td', { class: 'mono', text: r.capability || '*' }), el('td', { class: 'mono', text: r.when }), el('td', { text: r.reason || '' })));
  const stewards = Object.entries(c.stewards || {}).flatMap(([kind, list]) => (Array.isArray(list) ? list : [list]).map((s) => el('tr', {}, el('td', { text: kind }), el('td', { class: 'mono', text: text(s) }))));
  const monitors = c.monitors.map((m) => el('tr', {}, el('td', { class: 'mono', text: m.id }), el('td', { class: 'mono', text: m.capability || '*' }), el('td', { class: 'mono', text: text(m.metric) }), el('td', { class: 'mono', text: text(m.over) }), el('td', { text: String(m.threshold) })));
  return el(
    'div',
    { class: 'contract' },
    dl([['Version', mono(c.version)], ['Owner', c.owner], ['Role', c.role], ['Mission', c.mission], ['In effect', `${c.effective_from || 'always'} – ${c.effective_until || 'open'}`], ['Escalations expire after', c.escalation && c.escalation.expiry_minutes ? `${c.escalation.expiry_minutes} min` : 'the workspace default']]),
    table('Grants and limits', ['Capability', 'Limits'], grants),
    table('Escalation rules', ['Capability', 'When', 'Reason'], rules),
    table('Stewards', ['Gate', 'Setting'], stewards),
    table('Monitors', ['Id', 'Capability', 'Metric', 'Over', 'Threshold'], monitors),
  );
}

export async function showAgent(agent) {
  $('agent-title').textContent = `Agent ${agent}`;
  $('agent-body').replaceChildren(el('p', { text: 'Loading…' }));
  const r = await api(`/api/v1/agents/${encodeURIComponent(agent)}/overview`);
  if (r.status !== 200) return $('agent-body').replaceChildren(el('p', { class: 'error', role: 'alert', text: `Cannot show agent \`${agent}\`: ${errorText(r)}` }));
  const a = r.body;
  const decisions = a.decisions.map((d) =>
    el('tr', { 'data-decision-id': d.decision_id }, el('td', {}, decisionLink(d.decision_id)), el('td', { class: 'mono', text: d.capability || '—' }), el('td', { text: d.outcome ? `${d.outcome.verdict} (${d.status})` : d.status }), el('td', { class: 'mono', text: d.outcome ? d.outcome.reasons.join(', ') : '' }), el('td', { text: dateTime(d.created_at) })),
  );
  const interventions = a.interventions.map((i) =>
    el('tr', { 'data-intervention': i.intervention_id }, el('td', { text: i.act }), el('td', { class: `state-${i.state}`, text: i.state }), el('td', { text: i.issued_by }), el('td', { text: dateTime(i.created_at) }), el('td', { text: dateTime(i.updated_at) }), el('td', { text: i.expires_at ? dateTime(i.expires_at) : '—' })),
  );
  $('agent-body').replaceChildren(
    dl([['Status', el('span', { id: 'agent-status', class: `st-${a.status}`, text: a.status })], ['Changed', a.status_updated_at ? `${dateTime(a.status_updated_at)} by ${a.status_updated_by}` : '—'], ['Capabilities', mono(a.capabilities.join(', ') || 'none')]]),
    el('section', { 'aria-labelledby': 'agent-budgets-title' }, el('h3', { id: 'agent-budgets-title', text: 'Budgets used and left' }), a.budgets.length ? el('div', { class: 'agent-budgets', 'data-agent': a.agent }, a.budgets.map(budgetBar)) : el('p', { class: 'hint', text: 'No budgets.' })),
    el('section', { 'aria-labelledby': 'agent-monitors-title' }, el('h3', { id: 'agent-monitors-title', text: 'Monitors' }), a.monitors.length ? el('div', { class: 'monitors' }, a.monitors.map(monitorChart)) : el('p', { class: 'hint', text: 'No monitors.' })),
    el('section', { 'aria-labelledby': 'agent-contract-title' }, el('h3', { id: 'agent-contract-title', text: 'Contract' }), contractSection(a.contract)),
    el('section', { 'aria-labelledby': 'agent-decisions-title' }, el('h3', { id: 'agent-decisions-title', text: 'Recent decisions' }), table('Newest first', ['Decision', 'Capability', 'Verdict', 'Reasons', 'Opened'], decisions, 'decisions')),
    el('section', { 'aria-labelledby': 'agent-interventions-title' }, el('h3', { id: 'agent-interventions-title', text: 'Interventions' }), table('Newest first, with their state', ['Act', 'State', 'Issued by', 'Issued', 'Last change', 'Expires'], interventions, 'interventions')),
  );
}
