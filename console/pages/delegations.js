// The delegation tree (#/delegations, #/delegations?root=<agent>): every
// human-owned contract that has delegated, and below it each sub-mandate with
// its status, expiry and what is left of each budget, drawn from
// GET /api/v1/delegations. Operators get a revoke button per live sub-mandate
// (with a confirm step); revoking ends it and everything below it, as the
// kernel does, through POST /api/v1/delegations/<child>/revoke.

import { $, PLAN_CHILD, agentLink, api, dateTime, el, errorText, link, mono, say, session } from '../lib/dom.js';
import { confirmButton } from '../lib/confirm.js';
import { budgetBar } from '../lib/svg.js';

function left(iso) {
  if (!iso) return 'no expiry';
  const ms = Date.parse(iso) - Date.now();
  if (ms <= 0) return `expired ${dateTime(iso)}`;
  const min = Math.round(ms / 60_000);
  return `expires ${dateTime(iso)} (in ${min < 120 ? `${min} min` : `${Math.round(min / 60)} h`})`;
}

const count = (n) => n.children.reduce((a, c) => a + 1 + count(c), 0);
const liveBelow = (n) => n.children.reduce((a, c) => a + (c.status === 'live' ? 1 : 0) + liveBelow(c), 0);

function limitsText(limits) {
  const parts = [];
  for (const [k, v] of Object.entries(limits || {})) {
    if (k === 'budgets') continue;
    for (const [field, x] of Object.entries(v || {})) parts.push(`${k} ${field} ${typeof x === 'string' ? x : JSON.stringify(x)}`);
  }
  return parts.join('; ');
}

function revokeControl(n, reload) {
  const below = liveBelow(n);
  return confirmButton({
    text: 'Revoke…',
    label: `Revoke ${n.agent}`,
    cls: 'deny',
    question: `Revoke the sub-mandate of ${n.agent}${below ? ` and the ${below} live sub-mandate${below === 1 ? '' : 's'} below it` : ''}? Their keys stop working at once and their next calls are refused.`,
    confirmText: `Revoke ${n.agent}`,
    act: async (reason) => {
      const r = await api(`/api/v1/delegations/${encodeURIComponent(n.agent)}/revoke`, { method: 'POST', json: reason ? { reason } : {} });
      if (r.status === 200) say(`Revoked ${n.agent}: ${r.body.revoked.length} sub-mandate${r.body.revoked.length === 1 ? '' : 's'} ended (${r.body.revoked.map((x) => x.agent).join(', ')})`);
      else say(`Could not revoke ${n.agent}: ${errorText(r)}`);
      await reload();
    },
  });
}

/** One node and its subtree, as a list item; `reload` redraws whichever page holds it. */
export function treeNode(n, reload) {
  const plan = PLAN_CHILD.exec(n.agent);
  const name = n.depth === 0 || !plan ? agentLink(n.agent) : el('span', {}, link(`#/plans/${encodeURIComponent(plan[2])}`, `plan ${plan[2]}`), ` of ${plan[1]}`);
  const head = el(
    'div',
    { class: 'node-head' },
    el('strong', {}, name),
    ' ',
    el('span', { class: `badge st-${n.status}`, text: n.depth === 0 ? 'contract (root)' : n.status }),
    n.depth ? el('span', { class: 'hint', text: ` depth ${n.depth}` }) : null,
  );
  const facts = [];
  if (n.depth === 0) facts.push(el('p', { class: 'node-facts' }, `Owner ${n.owner || '—'} · may delegate: ${n.may_delegate ? `yes, to depth ${n.max_depth}` : 'no'} · ${count(n)} sub-mandate${count(n) === 1 ? '' : 's'} below`));
  else {
    facts.push(el('p', { class: 'node-facts' }, `${n.purpose || ''} · `, el('span', { class: 'node-expiry', 'data-expires': n.expires_at || '', text: left(n.expires_at) }), ` · may delegate: ${n.may_delegate ? `yes, to depth ${n.max_depth}` : 'no'} · `, mono(n.delegation_id)));
    for (const g of n.grants) {
      const limits = limitsText(g.limits);
      facts.push(
        el(
          'div',
          { class: 'node-grant', 'data-capability': g.capability },
          el('span', {}, mono(g.capability), limits ? ` ${limits}` : ''),
          g.budgets.length ? g.budgets.map((b) => budgetBar({ capability: g.capability, window: b.window, field: b.field, used: b.used, limit: b.max, remaining: b.remaining })) : el('span', { class: 'hint', text: ' no budget of its own (its parent\'s apply)' }),
        ),
      );
    }
  }
  const actions = n.depth > 0 && n.status === 'live' && session.role === 'operator' ? revokeControl(n, reload) : null;
  return el(
    'li',
    { class: 'node', 'data-agent': n.agent, 'data-status': n.status, 'data-depth': n.depth },
    el('div', { class: 'node-card' }, head, facts, actions),
    n.children.length ? el('ul', { class: 'tree', 'aria-label': `Delegated by ${n.agent}` }, n.children.map((c) => treeNode(c, reload))) : null,
  );
}

/** The tree, or the message why there is none. */
export function treeList(roots, reload) {
  if (!roots.length) return el('p', { class: 'empty', text: 'No agent has delegated yet.' });
  return el('ul', { class: 'tree top', 'aria-label': 'Delegation tree' }, roots.map((n) => treeNode(n, reload)));
}

export async function showDelegations(root) {
  const body = $('delegations-body');
  const reload = () => showDelegations(root);
  const r = await api(`/api/v1/delegations${root ? `?root=${encodeURIComponent(root)}` : ''}`);
  if (r.status !== 200) return body.replaceChildren(el('p', { class: 'error', role: 'alert', text: `Cannot show the tree: ${errorText(r)}` }));
  const parts = [
    root ? el('p', {}, `Only the tree of ${root}. `, link('#/delegations', 'Show every tree')) : null,
    session.role !== 'operator' ? el('p', { class: 'hint', text: 'Read-only: your viewer key cannot revoke.' }) : null,
    treeList(r.body.tree, reload),
  ];
  body.replaceChildren(...parts.filter(Boolean));
}
