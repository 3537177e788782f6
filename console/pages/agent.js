// An agent's page (#/agents/<name>): status with pause and resume for
// operators, the contract (grants, limits, escalation rules, stewards,
// monitors), budgets used and left, its place in the delegation tree, its
// plans, recent decisions, and interventions with their lifecycle.

import { $, api, dateTime, decisionLink, dl, el, errorText, link, mono, say, session } from '../lib/dom.js';
import { budgetBar, monitorChart } from '../lib/svg.js';
import { treeList } from './delegations.js';
import { planTable } from './plans.js';

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

/** Pause an active agent, resume a paused or suspended one (operators only): POST /api/v1/interventions, as the overview's buttons. */
function statusControl(a) {
  if (session.role !== 'operator' || a.status === 'terminated') return null;
  const act = a.status === 'active' ? 'pause' : 'resume';
  const label = act === 'pause' ? 'Pause' : 'Resume';
  const button = el('button', {
    type: 'button',
    id: 'agent-act',
    text: label,
    'aria-label': `${label} ${a.agent}`,
    onclick: async () => {
      button.disabled = true;
      const r = await api('/api/v1/interventions', { method: 'POST', json: { act, agent: a.agent, reason: `${act} from the console` } });
      say(r.status === 200 ? `${a.agent}: ${act} applied` : `${a.agent}: ${act} refused (${(r.body && r.body.outcome && r.body.outcome.reasons.join(', ')) || errorText(r)})`);
      await showAgent(a.agent);
      const again = $('agent-act');
      if (again) again.focus();
    },
  });
  return button;
}

/** The agent's own subtree: as the root that delegated, or as a sub-mandate somewhere below one. */
function findNode(nodes, agent) {
  for (const n of nodes) {
    if (n.agent === agent) return n;
    const below = findNode(n.children, agent);
    if (below) return below;
  }
  return null;
}

async function delegationSection(agent) {
  const r = await api('/api/v1/delegations');
  const node = r.status === 200 ? findNode(r.body.tree, agent) : null;
  const root = node && r.body.tree.find((t) => t === node || findNode(t.children, agent));
  const reload = () => showAgent(agent);
  return el(
    'section',
    { 'aria-labelledby': 'agent-delegation-title', class: 'agent-delegation' },
    el('h3', { id: 'agent-delegation-title', text: 'Delegation' }),
    node ? treeList([node], reload) : el('p', { class: 'hint', text: r.status === 200 ? 'This agent has delegated nothing and holds no sub-mandate.' : `Cannot read the tree: ${errorText(r)}` }),
    root ? el('p', {}, link(`#/delegations?root=${encodeURIComponent(root.agent)}`, `The whole tree of ${root.agent}`)) : null,
  );
}

async function plansSection(agent) {
  const r = await api(`/api/v1/plans?agent=${encodeURIComponent(agent)}`);
  const plans = r.status === 200 ? r.body.plans : [];
  return el(
    'section',
    { 'aria-labelledby': 'agent-plans-title' },
    el('h3', { id: 'agent-plans-title', text: 'Plans' }),
    plans.length ? planTable(plans, 'Newest first') : el('p', { class: 'hint', text: r.status === 200 ? 'No plans.' : `Cannot list plans: ${errorText(r)}` }),
  );
}

export async function showAgent(agent) {
  $('agent-title').textContent = `Agent ${agent}`;
  $('agent-body').replaceChildren(el('p', { text: 'Loading…' }));
  const r = await api(`/api/v1/agents/${encodeURIComponent(agent)}/overview`);
  if (r.status !== 200) return $('agent-body').replaceChildren(el('p', { class: 'error', role: 'alert', text: `Cannot show agent \`${agent}\`: ${errorText(r)}` }));
  const a = r.body;
  const [delegation, plans] = await Promise.all([delegationSection(agent), plansSection(agent)]);
  const decisions = a.decisions.map((d) =>
    el('tr', { 'data-decision-id': d.decision_id }, el('td', {}, decisionLink(d.decision_id)), el('td', { class: 'mono', text: d.capability || '—' }), el('td', { text: d.outcome ? `${d.outcome.verdict} (${d.status})` : d.status }), el('td', { class: 'mono', text: d.outcome ? d.outcome.reasons.join(', ') : '' }), el('td', { text: dateTime(d.created_at) })),
  );
  const interventions = a.interventions.map((i) =>
    el('tr', { 'data-intervention': i.intervention_id }, el('td', { text: i.act }), el('td', { class: `state-${i.state}`, text: i.state }), el('td', { text: i.issued_by }), el('td', { text: dateTime(i.created_at) }), el('td', { text: dateTime(i.updated_at) }), el('td', { text: i.expires_at ? dateTime(i.expires_at) : '—' })),
  );
  $('agent-body').replaceChildren(
    dl([['Status', el('span', {}, el('span', { id: 'agent-status', class: `st-${a.status}`, text: a.status }), ' ', statusControl(a))], ['Changed', a.status_updated_at ? `${dateTime(a.status_updated_at)} by ${a.status_updated_by}` : '—'], ['Capabilities', mono(a.capabilities.join(', ') || 'none')]]),
    el('section', { 'aria-labelledby': 'agent-budgets-title' }, el('h3', { id: 'agent-budgets-title', text: 'Budgets used and left' }), a.budgets.length ? el('div', { class: 'agent-budgets', 'data-agent': a.agent }, a.budgets.map(budgetBar)) : el('p', { class: 'hint', text: 'No budgets.' })),
    el('section', { 'aria-labelledby': 'agent-monitors-title' }, el('h3', { id: 'agent-monitors-title', text: 'Monitors' }), a.monitors.length ? el('div', { class: 'monitors' }, a.monitors.map(monitorChart)) : el('p', { class: 'hint', text: 'No monitors.' })),
    el('section', { 'aria-labelledby': 'agent-contract-title' }, el('h3', { id: 'agent-contract-title', text: 'Contract' }), contractSection(a.contract)),
    delegation,
    plans,
    el('section', { 'aria-labelledby': 'agent-decisions-title' }, el('h3', { id: 'agent-decisions-title', text: 'Recent decisions' }), table('Newest first', ['Decision', 'Capability', 'Verdict', 'Reasons', 'Opened'], decisions, 'decisions')),
    el('section', { 'aria-labelledby': 'agent-interventions-title' }, el('h3', { id: 'agent-interventions-title', text: 'Interventions' }), table('Newest first, with their state', ['Act', 'State', 'Issued by', 'Issued', 'Last change', 'Expires'], interventions, 'interventions')),
  );
}
