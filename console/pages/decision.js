// A decision's whole story (#/decisions/<id or DFID>): the delegation chain of
// a delegated call, the call, the lineage
// as a timeline of ledger events with their hashes and chain positions, the
// approval, the upstream call, and the receipt, verified here with Web Crypto.

import { $, agentLink, api, dateTime, decisionLink, dl, el, errorText, link, mono } from '../lib/dom.js';
import { verifyReceipt } from '../lib/verify.js';
import { callDetails } from './call.js';

const DFID = /^[0-9a-f]{32}$/;

function timeline(events) {
  return el(
    'ol',
    { class: 'timeline', 'aria-label': 'Lineage, oldest first' },
    events.map((e) =>
      el(
        'li',
        { 'data-seq': e.seq, 'data-type': e.type },
        el('span', { class: 'dot', 'aria-hidden': 'true' }),
        el('div', { class: 'event-head' }, el('strong', { text: e.type }), ' ', el('span', { class: 'mono', text: `#${e.seq}` }), ` ${dateTime(e.time)}`, e.reasons.length ? el('span', { class: 'reasons', text: ` ${e.reasons.join(', ')}` }) : null),
        dl([
          ['Hash', el('span', { class: 'mono hash', text: e.hash })],
          ['Previous', el('span', { class: 'mono hash', text: e.prev_hash })],
          Object.keys(e.data).length ? ['Data', el('code', { class: 'data', text: JSON.stringify(e.data) })] : null,
        ], 'event-facts'),
      ),
    ),
  );
}

function receiptSection(story) {
  if (!story.signed_receipt) {
    return el('p', { class: 'hint', text: story.receipt ? `Ledger receipt #${story.receipt.seq} ${story.receipt.hash} (this workspace signs no receipts).` : 'No receipt yet: the decision has no final answer.' });
  }
  const area = el('textarea', { id: 'receipt-json', rows: 12, cols: 80, spellcheck: 'false', 'aria-describedby': 'receipt-help' });
  area.value = JSON.stringify(story.signed_receipt, null, 2);
  const result = el('div', { id: 'receipt-result', class: 'receipt-result', role: 'status', 'aria-live': 'polite' });
  const run = async () => {
    result.className = 'receipt-result';
    result.replaceChildren(el('p', { text: 'Verifying…' }));
    let receipt;
    try {
      receipt = JSON.parse(area.value);
    } catch {
      result.classList.add('fail');
      result.replaceChildren(el('p', { text: 'FAILS: not JSON' }));
      return;
    }
    const key = await api('/api/v1/keys/receipts');
    if (key.status !== 200) {
      result.classList.add('fail');
      result.replaceChildren(el('p', { text: `FAILS: no public key (${errorText(key)})` }));
      return;
    }
    const seq = Number(receipt && receipt.seq);
    const v = await verifyReceipt(receipt, key.body, Number.isInteger(seq) && seq > 0 ? await chainAround(seq) : [], { request_hash: story.call.request_hash });
    result.classList.add(v.ok ? 'pass' : 'fail');
    result.replaceChildren(
      el('p', { class: 'verdict-line', text: v.ok ? 'VERIFIED in this browser (Web Crypto)' : 'FAILS verification' }),
      el('ul', {}, v.checks.map((c) => el('li', { class: c.ok ? 'ok' : 'bad', 'data-check': c.name }, el('strong', { text: `${c.ok ? '✓' : '✗'} ${c.name}: ` }), c.detail))),
    );
  };
  return el(
    'div',
    { class: 'receipt' },
    el('label', { for: 'receipt-json', text: 'Signed receipt (JSON)' }),
    el('p', { id: 'receipt-help', class: 'hint', text: 'Checked here, not by the server: the Ed25519 signature with the workspace key, and the chain link to the ledger event it names. Edit it to see a changed receipt fail.' }),
    area,
    el('p', {}, el('button', { type: 'button', id: 'receipt-verify', onclick: () => void run(), text: 'Verify receipt' })),
    result,
  );
}

/** What the chain check needs (ADR-021): the event at `seq` with every event of its record, and the row before it with every event of its record. */
async function chainAround(seq) {
  const got = new Map();
  const fetchRange = async (from, to) => {
    const page = await api(`/api/v1/ledger?after=${Math.max(0, from - 1)}&limit=${Math.max(1, to - from + 1)}`);
    for (const e of (page.body && page.body.events) || []) if (e.seq <= to) got.set(e.seq, e);
  };
  await fetchRange(Math.max(1, seq - 1), seq);
  const at = got.get(seq);
  const first = at && at.record ? at.record.first_seq : seq;
  if (at && at.record) await fetchRange(Math.max(1, first - 1), at.record.last_seq);
  const before = got.get(first - 1);
  if (before && before.record) await fetchRange(before.record.first_seq, before.record.last_seq);
  return [...got.values()].sort((a, b) => a.seq - b.seq);
}

/** The chain a delegated call was decided under, root (the human-owned contract) first; each link as it stands now. */
function chainSection(ch) {
  if (!ch) return null;
  const root = el(
    'li',
    { 'data-agent': ch.root.agent, 'data-link': 'root' },
    el('strong', {}, agentLink(ch.root.agent)),
    ` contract ${ch.root.version ? `v${ch.root.version} ` : ''}owned by `,
    el('span', { class: 'chain-owner', text: ch.root.owner }),
    ' (answers for the whole chain)',
  );
  const links = ch.links.map((l) =>
    el(
      'li',
      { 'data-agent': l.agent, 'data-link': l.delegation_id || '', 'data-status': l.status_now },
      el('strong', {}, agentLink(l.agent)),
      ` delegated by ${l.parent || '?'}: ${l.purpose || ''} `,
      mono(l.delegation_id || '—'),
      ` · expires ${dateTime(l.expires_at)} · now `,
      el('span', { class: `badge st-${l.status_now}`, text: l.status_now }),
    ),
  );
  return el(
    'section',
    { 'aria-labelledby': 'chain-title' },
    el('h3', { id: 'chain-title', text: 'Delegation chain' }),
    el('p', { class: 'hint', text: 'The call was held to every link below, as the decision recorded them; each link\'s state is as of now.' }),
    el('ol', { id: 'delegation-chain', class: 'chain', 'aria-label': 'Root contract first, the caller last' }, root, links),
    el('p', {}, link(`#/delegations?root=${encodeURIComponent(ch.root.agent)}`, `The delegation tree of ${ch.root.agent}`)),
  );
}

function render(story) {
  const d = story.decision;
  const o = d.outcome || {};
  $('decision-title').textContent = `Decision ${d.decision_id}`;
  const parts = [
    dl([
      ['Agent', agentLink(d.agent)],
      ['Capability', mono(d.capability || '—')],
      ['Verdict', el('span', { class: `verdict ${o.verdict || ''}`, text: o.verdict ? `${o.verdict} (${d.status})` : d.status })],
      ['Reasons', o.reasons && o.reasons.length ? mono(o.reasons.join(', ')) : '—'],
      ['DFID', mono(d.dfid)],
      ['Opened', dateTime(d.created_at)],
      ['Chain', story.events.length ? `${story.events.length} events, #${story.events[0].seq} to #${story.events[story.events.length - 1].seq}` : 'no events'],
    ]),
    chainSection(story.delegation),
    el('section', { 'aria-labelledby': 'call-title' }, el('h3', { id: 'call-title', text: 'The call' }), callDetails(story.call)),
    el('section', { 'aria-labelledby': 'lineage-title' }, el('h3', { id: 'lineage-title', text: 'Lineage' }), timeline(story.events)),
    el(
      'section',
      { 'aria-labelledby': 'approval-title' },
      el('h3', { id: 'approval-title', text: 'Approval' }),
      story.approval
        ? dl([['Resolution', story.approval.resolution], ['By', story.approval.by], ['When', dateTime(story.approval.at)], ['Ledger', mono(`#${story.approval.seq}`)], ['Note hash', story.approval.note_hash ? mono(story.approval.note_hash) : '—']], 'facts approval-facts')
        : el('p', { class: 'hint', text: d.status === 'pending' ? 'Waiting for a human.' : 'No human approval was needed.' }),
    ),
    story.upstream
      ? el('section', { 'aria-labelledby': 'upstream-title' }, el('h3', { id: 'upstream-title', text: 'Upstream call' }), dl([['Server', mono(story.upstream.server)], ['Tool', mono(story.upstream.tool)], ['Pinned definition', mono(story.upstream.pin_hash)], ['Ran', story.upstream.ran ? 'yes' : 'no'], ['Upstream error', String(story.upstream.upstream_error)], ['Duration', story.upstream.duration_ms === null ? '—' : `${story.upstream.duration_ms} ms`]]))
      : null,
    el('section', { 'aria-labelledby': 'receipt-title' }, el('h3', { id: 'receipt-title', text: 'Receipt' }), receiptSection(story)),
  ];
  $('decision-body').replaceChildren(...parts.filter(Boolean));
}

/** Opens a decision by id, or by DFID (one decision: opened; several: listed). */
export async function showDecision(idOrDfid) {
  $('decision-title').textContent = `Decision ${idOrDfid}`;
  $('decision-body').replaceChildren(el('p', { text: 'Loading…' }));
  const r = await api(`/api/v1/decisions/${encodeURIComponent(idOrDfid)}/story`);
  if (r.status === 200) return render(r.body);
  if (r.status === 404 && DFID.test(idOrDfid)) {
    const flow = await api(`/api/v1/decisions?dfid=${idOrDfid}`);
    const list = flow.status === 200 ? flow.body.decisions : [];
    if (list.length === 1) {
      const one = await api(`/api/v1/decisions/${encodeURIComponent(list[0].decision_id)}/story`);
      if (one.status === 200) return render(one.body);
    }
    if (list.length > 1) {
      $('decision-title').textContent = `Flow ${idOrDfid}`;
      return $('decision-body').replaceChildren(el('p', { text: `${list.length} decisions in this flow:` }), el('ul', {}, list.map((x) => el('li', {}, decisionLink(x.decision_id), ` ${x.capability || ''} ${x.status}`))));
    }
  }
  $('decision-body').replaceChildren(el('p', { class: 'error', role: 'alert', text: `No decision or flow \`${idOrDfid}\` (${errorText(r)}).` }));
}
