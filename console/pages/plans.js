// Plans (#/plans, #/plans?agent=<id>, #/plans/<id>): the list, and one plan's
// report as GET /api/v1/plans/<id> gives it (ADR-025) — each planned step with
// its state and decision, the steps executed, the calls tried outside the
// plan, the steps missed, and the totals against the plan's budgets.
// Operators resume a failed plan or abandon one that has not ended.

import { $, agentLink, api, dateTime, decisionLink, dl, el, errorText, link, mono, say, session } from '../lib/dom.js';
import { confirmButton } from '../lib/confirm.js';
import { budgetBar, progressBar } from '../lib/svg.js';

/** The state as people read it: a failed plan names its step (1-based, as the kernel's messages do). */
export function stateText(p) {
  if (p.status === 'failed') return `failed at step ${p.failed_step + 1}`;
  if (p.status === 'pending_approval') return 'waiting for approval';
  return p.status;
}

function table(caption, head, rows, cls) {
  if (!rows.length) return el('p', { class: 'hint', text: `${caption}: none` });
  return el('table', { class: cls || '' }, el('caption', { text: caption }), el('thead', {}, el('tr', {}, head.map((h) => el('th', { scope: 'col', text: h })))), el('tbody', {}, rows));
}

/** The plans as a table (all, or one agent's). */
export function planTable(plans, caption) {
  return table(
    caption,
    ['Plan', 'Agent', 'State', 'Decision', 'Submitted', 'Time limit'],
    plans.map((p) =>
      el('tr', { 'data-plan-id': p.plan_id, 'data-status': p.status }, el('th', { scope: 'row' }, link(`#/plans/${encodeURIComponent(p.plan_id)}`, p.plan_id)), el('td', {}, agentLink(p.agent)), el('td', { class: `plan-state st-${p.status}`, text: stateText(p) }), el('td', {}, decisionLink(p.decision_id)), el('td', { text: dateTime(p.created_at) }), el('td', { text: dateTime(p.expires_at) })),
    ),
    'plans',
  );
}

export async function showPlans(agent) {
  const r = await api(`/api/v1/plans${agent ? `?agent=${encodeURIComponent(agent)}` : ''}`);
  if (r.status !== 200) return $('plans-body').replaceChildren(el('p', { class: 'error', role: 'alert', text: `Cannot list plans: ${errorText(r)}` }));
  const list = r.body.plans.length ? planTable(r.body.plans, 'Newest first') : el('p', { class: 'empty', text: 'No plans yet.' });
  $('plans-body').replaceChildren(...(agent ? [el('p', {}, `Plans of ${agent}. `, link('#/plans', 'Show every plan')), list] : [list]));
}

/** Where a planned step stands in the report: executed (done or failed), missed, or still planned. */
function progressOf(rep, s) {
  if (rep.missed.includes(s.step)) return 'missed';
  if (s.status === 'done' || s.status === 'compensated') return 'executed';
  if (s.status === 'failed') return 'missed';
  if (s.status === 'running') return 'running';
  return 'planned';
}

function actions(rep, reload) {
  if (session.role !== 'operator') return el('p', { class: 'hint', text: 'Read-only: your viewer key cannot resume or abandon.' });
  const act = (what) => async (reason) => {
    const r = await api(`/api/v1/plans/${encodeURIComponent(rep.plan_id)}/${what}`, { method: 'POST', json: reason ? { reason } : {} });
    say(r.status === 200 ? `Plan ${rep.plan_id} ${what === 'resume' ? 'resumed' : 'abandoned'}: ${stateText(r.body.report)}` : `Could not ${what} plan ${rep.plan_id}: ${errorText(r)}`);
    await reload();
  };
  const out = [];
  if (rep.status === 'failed') out.push(el('button', { type: 'button', class: 'approve', text: 'Resume', 'aria-label': `Resume plan ${rep.plan_id} after step ${rep.failed_step + 1}`, onclick: () => void act('resume')('') }));
  if (['pending_approval', 'running', 'failed'].includes(rep.status)) {
    out.push(confirmButton({ text: 'Abandon…', label: `Abandon plan ${rep.plan_id}`, cls: 'deny', question: `Abandon plan ${rep.plan_id}? None of its remaining steps will run, and its sub-mandate is revoked.`, confirmText: 'Abandon the plan', act: act('abandon') }));
  }
  return out.length ? el('div', { class: 'plan-actions' }, out) : el('p', { class: 'hint', text: `A ${rep.status} plan takes no action.` });
}

function render(rep, reload) {
  $('plan-title').textContent = `Plan ${rep.plan_id}`;
  const done = rep.planned.filter((s) => progressOf(rep, s) === 'executed').length;
  const steps = rep.planned.map((s) => {
    const where = progressOf(rep, s);
    return el(
      'tr',
      { 'data-step': s.step, 'data-progress': where, 'data-status': s.status },
      el('th', { scope: 'row', text: String(s.step + 1) }),
      el('td', { class: 'mono', text: s.capability }),
      el('td', { text: s.bounded.length ? `within bounds on ${s.bounded.join(', ')}` : 'exact params' }),
      el('td', { text: s.optional ? 'optional' : 'required' }),
      el('td', { class: `progress-${where}`, text: `${where} (${s.status})` }),
      el('td', {}, s.decision_id ? decisionLink(s.decision_id) : '—', s.compensated_by ? el('span', {}, ' undone by ', decisionLink(s.compensated_by)) : null),
    );
  });
  $('plan-body').replaceChildren(
    dl([
      ['Agent', agentLink(rep.agent)],
      ['Purpose', rep.purpose],
      ['State', el('span', { id: 'plan-state', class: `st-${rep.status}`, text: stateText(rep) })],
      ['Progress', el('span', {}, progressBar(done, rep.planned.length, `${done} of ${rep.planned.length} steps executed`), ` ${done} of ${rep.planned.length} steps executed`)],
      ['Order', rep.ordered ? 'in order' : 'any order'],
      ['Decided', el('span', {}, decisionLink(rep.decision_id), ` ${dateTime(rep.created_at)}`)],
      ['Time limit', dateTime(rep.expires_at)],
      ['Digest (what the approval binds)', el('span', { class: 'mono hash', text: rep.digest })],
    ]),
    actions(rep, reload),
    el('section', { 'aria-labelledby': 'plan-steps-title' }, el('h3', { id: 'plan-steps-title', text: 'Steps' }), table('Planned steps and where each stands', ['Step', 'Capability', 'Params', 'Kind', 'Progress', 'Decision'], steps, 'plan-steps')),
    el(
      'section',
      { 'aria-labelledby': 'plan-budgets-title' },
      el('h3', { id: 'plan-budgets-title', text: 'Totals against the plan\'s budgets' }),
      rep.budgets.length ? el('div', { class: 'plan-budgets' }, rep.budgets.map((b) => budgetBar({ capability: b.capability, window: b.window, field: b.field, used: b.used, limit: b.max, remaining: Math.max(0, b.max - b.used) }))) : el('p', { class: 'hint', text: 'The plan sets no budget of its own.' }),
      Object.keys(rep.totals).length ? el('p', {}, 'Executed totals: ', mono(Object.entries(rep.totals).map(([cap, t]) => `${cap} ${Object.entries(t).map(([f, n]) => `${f} ${n}`).join(', ')}`).join('; '))) : null,
    ),
    el('section', { 'aria-labelledby': 'plan-executed-title' }, el('h3', { id: 'plan-executed-title', text: 'Executed' }), table('Step calls that matched the plan', ['Step', 'Capability', 'Decision', 'Status', 'Reasons'], rep.executed.map((x) => el('tr', { 'data-step': x.step }, el('th', { scope: 'row', text: String(x.step + 1) }), el('td', { class: 'mono', text: x.capability }), el('td', {}, decisionLink(x.decision_id)), el('td', { text: x.status }), el('td', { class: 'mono', text: x.reasons.join(', ') }))), 'plan-executed')),
    el('section', { 'aria-labelledby': 'plan-unplanned-title' }, el('h3', { id: 'plan-unplanned-title', text: 'Unplanned attempts' }), table('Calls refused as outside the plan', ['Decision', 'Capability', 'Code', 'When'], rep.unplanned.map((u) => el('tr', { 'data-decision-id': u.decision_id }, el('td', {}, decisionLink(u.decision_id)), el('td', { class: 'mono', text: u.capability || '—' }), el('td', { class: 'mono', text: u.code }), el('td', { text: dateTime(u.at) }))), 'plan-unplanned')),
    el('section', { 'aria-labelledby': 'plan-missed-title' }, el('h3', { id: 'plan-missed-title', text: 'Missed' }), el('p', { id: 'plan-missed', 'data-missed': rep.missed.join(','), text: rep.missed.length ? `Step${rep.missed.length === 1 ? '' : 's'} ${rep.missed.map((i) => i + 1).join(', ')}: did not complete${rep.status === 'failed' ? ' (a resume runs the steps after the failed one)' : ''}.` : 'No step missed.' })),
  );
}

export async function showPlan(id) {
  $('plan-title').textContent = `Plan ${id}`;
  $('plan-body').replaceChildren(el('p', { text: 'Loading…' }));
  const r = await api(`/api/v1/plans/${encodeURIComponent(id)}`);
  if (r.status !== 200) return $('plan-body').replaceChildren(el('p', { class: 'error', role: 'alert', text: `Cannot show plan \`${id}\`: ${errorText(r)}` }));
  render(r.body.report, () => showPlan(id));
}
