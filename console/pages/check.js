// "Would this call be allowed?" (#/check): a form for POST /api/v1/check
// (operator role, as `mandate check`). The answer shows the verdict, the
// reasons, the values the kernel derived, the facts it used, the policies that
// matched, and who an escalation would go to. Nothing runs; the server records
// it as a check, never as a decision.

import { $, api, dl, el, errorText, mono, session, valueTable } from '../lib/dom.js';

let agents = [];
/** The login the form was built for (kept here, never in the DOM). */
let builtFor = null;

function escalationOf(e) {
  if (!e) return null;
  const who = ['any operator', ...e.approvers.supervisors.map((s) => `supervisor ${s}`), ...(e.approvers.client ? ['the user in the agent\'s own client'] : [])];
  return el(
    'section',
    { class: 'check-escalation', 'aria-labelledby': 'check-esc-title' },
    el('h4', { id: 'check-esc-title', text: 'It would wait for a human' }),
    dl([
      ['Why', e.reasons.join('; ') || '—'],
      ['Escalated by', e.by.length ? mono(e.by.join(', ')) : '—'],
      ['Who may decide', el('span', { id: 'check-approvers', text: who.join(', ') })],
      ['Expires after', `${e.expires_in_minutes} min`],
    ]),
  );
}

function result(c) {
  return el(
    'div',
    { id: 'check-result', class: `check-result ${c.verdict}`, 'data-verdict': c.verdict, 'data-check-id': c.check_id },
    el('p', { class: 'verdict-line' }, 'Verdict: ', el('span', { id: 'check-verdict', class: `verdict ${c.verdict}`, text: c.verdict }), ` (as of ${new Date(c.as_of).toLocaleString()})`),
    dl([
      ['Reasons', c.details.length ? el('ul', { id: 'check-reasons', class: 'reasons-list' }, c.details.map((d) => el('li', { 'data-code': d.code }, mono(d.code), ` ${d.message}`))) : el('span', { id: 'check-reasons', text: 'none' })],
      ['Policies that matched', el('span', { id: 'check-policies', class: 'mono', text: c.policies.join(', ') || 'none' })],
      ['Policy set', mono(c.policy_set_hash)],
      ['Recorded as check', el('span', {}, mono(c.check_id), c.receipt ? ` (ledger #${c.receipt.seq})` : '')],
    ]),
    el(
      'div',
      { class: 'call-tables' },
      el('section', { class: 'values', 'aria-label': 'Values the kernel derived' }, el('h4', { text: 'Values the kernel evaluates' }), c.values ? valueTable(c.values, 'Values as derived') : el('p', { class: 'hint', text: 'none: the call did not reach validation' })),
      el('section', { class: 'facts-used', 'aria-label': 'Facts used' }, el('h4', { text: 'Facts the decision would use' }), c.facts ? valueTable(c.facts, 'Facts used') : el('p', { class: 'hint', text: 'none' })),
    ),
    escalationOf(c.escalation),
  );
}

function capabilityOptions() {
  const a = agents.find((x) => x.agent === $('check-agent').value);
  $('check-capabilities').replaceChildren(...((a && a.capabilities) || []).map((c) => el('option', { value: c })));
}

export async function showCheck() {
  const body = $('check-body');
  if (session.role !== 'operator') {
    builtFor = null;
    return body.replaceChildren(el('p', { class: 'hint', text: 'Read-only: checks are for operator keys (a check is recorded on the ledger).' }));
  }
  // Built once per login: a form being filled in survives moving between pages.
  if (builtFor === session.key) return;
  const r = await api('/api/v1/agents');
  agents = r.status === 200 ? r.body.agents : [];
  const out = el('div', { id: 'check-out', role: 'status', 'aria-live': 'polite' });
  const form = el(
    'form',
    { id: 'check-form', class: 'stack', 'aria-label': 'Call to check' },
    el('label', { for: 'check-agent', text: 'Agent' }),
    el('select', { id: 'check-agent', required: true, onchange: capabilityOptions }, agents.map((a) => el('option', { value: a.agent, text: a.agent }))),
    el('label', { for: 'check-capability', text: 'Capability' }),
    el('input', { id: 'check-capability', type: 'text', list: 'check-capabilities', required: true, spellcheck: 'false', autocomplete: 'off', placeholder: 'e.g. payments.transfer' }),
    el('datalist', { id: 'check-capabilities' }),
    el('label', { for: 'check-params', text: 'Params (JSON object)' }),
    el('textarea', { id: 'check-params', rows: 6, cols: 60, spellcheck: 'false', 'aria-describedby': 'check-params-help' }),
    el('p', { id: 'check-params-help', class: 'hint', text: 'As the agent would send them, e.g. {"amount_minor": 12000, "payee": "acme-supplies"}.' }),
    el('label', { for: 'check-at', text: 'As of (optional; default now)' }),
    el('input', { id: 'check-at', type: 'datetime-local', step: 1 }),
    el('p', {}, el('button', { type: 'submit', text: 'Check' })),
  );
  form.addEventListener('submit', (ev) => {
    ev.preventDefault();
    submit(out).catch((err) => out.replaceChildren(el('p', { class: 'error', role: 'alert', text: `Cannot check: ${err.message}` })));
  });
  body.replaceChildren(form, out);
  builtFor = session.key;
  capabilityOptions();
}

async function submit(out) {
  let params;
  try {
    params = JSON.parse($('check-params').value.trim() || '{}');
    if (!params || typeof params !== 'object' || Array.isArray(params)) throw new Error('not an object');
  } catch (err) {
    return out.replaceChildren(el('p', { class: 'error', text: `Params must be a JSON object (${err.message}).` }));
  }
  const at = $('check-at').value;
  const json = { agent: $('check-agent').value, capability: $('check-capability').value.trim(), params, ...(at ? { at: new Date(at).toISOString() } : {}) };
  out.replaceChildren(el('p', { text: 'Checking…' }));
  const c = await api('/api/v1/check', { method: 'POST', json });
  out.replaceChildren(c.status === 200 ? result(c.body.check) : el('p', { class: 'error', text: `Cannot check: ${errorText(c)}` }));
}
