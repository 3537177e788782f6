// The call an approval binds, as the server's one view shows it
// (src/http/approval-view.ts): params as the agent sent them, the values the
// kernel derived, the facts it used, the reasons and the request hash.

import { dl, el, mono, valueTable } from '../lib/dom.js';

export function callDetails(a) {
  const reasons = a.details.length ? el('ul', { class: 'reasons-list' }, a.details.map((d) => el('li', {}, mono(d.code), ` ${d.message}`))) : '—';
  const common = [
    ['Policies', a.policies.length ? mono(a.policies.join(', ')) : '—'],
    ['Reasons', reasons],
    ['Request hash', el('span', { class: 'mono hash', text: a.request_hash, title: 'the approval binds exactly this request: agent, capability and params' })],
    ['Facts hash', a.facts_hash ? mono(a.facts_hash) : '—'],
  ];
  if (a.params_redacted) {
    return el('div', { class: 'call redacted' }, dl([...common, ['Params', el('span', { class: 'hint', text: 'redacted: viewers see params only where the capability opts in (audit.recordParams)' })]]));
  }
  return el(
    'div',
    { class: 'call' },
    dl(common),
    el('div', { class: 'call-tables' },
      el('section', { class: 'params', 'aria-label': 'Params as sent' }, el('h4', { text: 'Params as the agent sent them' }), valueTable(a.params, 'Params as sent')),
      el('section', { class: 'values', 'aria-label': 'Values as derived' }, el('h4', { text: 'Values the kernel evaluates' }), a.values ? valueTable(a.values, 'Values as derived') : el('p', { class: 'hint', text: a.values_problem || 'none' })),
      el('section', { class: 'facts-used', 'aria-label': 'Facts used' }, el('h4', { text: 'Facts the decision used' }), valueTable(a.facts, 'Facts used')),
    ),
    a.normalized_from_text ? el('p', { class: 'hint', text: 'Proposed by the local model from free text.' }) : null,
    a.review ? el('p', { class: 'review' }, el('strong', { text: `Risk ${a.review.risk} ` }), `${a.review.summary} (${a.review.model}; ${a.review.note})`) : null,
  );
}
