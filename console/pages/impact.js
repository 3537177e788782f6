// Policy impact of a change an operator is about to apply (#/impact): edit
// the workspace's contract and policy files here, and POST them to
// /api/v1/policy/impact, which replays past decisions against the workspace
// with the edited files laid over its own (in memory; nothing is written or
// applied). Shows what `mandate policy impact` prints: the decisions whose
// verdict would change, grouped by agent and capability, with the amounts.

import { $, agentLink, api, dateTime, decisionLink, el, errorText, mono, num, session } from '../lib/dom.js';

const state = { files: null, edits: new Map(), builtFor: null };
const SINCE = [['', 'every stored decision'], ['60', 'the last hour'], ['1440', 'the last 24 hours'], ['10080', 'the last 7 days']];

/** The file as it is in the workspace; a file added here has none (empty). */
const original = (path) => {
  const [folder, name] = path.split('/');
  return state.files[folder][name] ?? '';
};

/** The names the server takes: one file name within the folder, no path (src/http/impact-api.ts). */
const NEW_NAME = /^[A-Za-z0-9][A-Za-z0-9_-]*(?:\.[A-Za-z0-9_-]+)*\.(?:ya?ml|cedar)$/;

function edited() {
  return [...state.edits].filter(([path, text]) => text !== original(path));
}

function table(caption, head, rows, cls) {
  if (!rows.length) return null;
  return el('table', { class: cls }, el('caption', { text: caption }), el('thead', {}, el('tr', {}, head.map((h) => el('th', { scope: 'col', text: h })))), el('tbody', {}, rows));
}

const amounts = (a) => Object.entries(a).map(([f, n]) => `${f} ${num(n)}`).join(', ') || '—';

function report(x) {
  const changes = Object.entries(x.totals);
  return el(
    'div',
    { id: 'impact-result', 'data-replayed': x.replayed, 'data-changed': x.changed, 'data-unchanged': x.unchanged },
    el('p', { class: 'verdict-line', id: 'impact-summary', text: `Replayed ${x.replayed} decision${x.replayed === 1 ? '' : 's'}${x.since ? ` since ${dateTime(x.since)}` : ''}: ${x.changed} would change, ${x.unchanged} would not.` }),
    x.untrusted.length ? el('p', { class: 'error', role: 'alert', text: `${x.untrusted.length} stored input${x.untrusted.length === 1 ? '' : 's'} did not match the ledger and were not replayed: ${x.untrusted.map((u) => `${u.decision_id} (${u.why})`).join('; ')}` }) : null,
    table('Totals by change', ['Change', 'Decisions', 'Amounts'], changes.map(([c, t]) => el('tr', { 'data-change': c }, el('th', { scope: 'row', text: c }), el('td', { text: String(t.count) }), el('td', { class: 'mono', text: amounts(t.amounts) }))), 'impact-totals'),
    table('By agent and capability', ['Agent', 'Capability', 'Change', 'Decisions', 'Amounts'], x.groups.flatMap((g) => Object.entries(g.changes).map(([c, t]) => el('tr', {}, el('td', {}, agentLink(g.agent)), el('td', { class: 'mono', text: g.capability }), el('td', { text: c }), el('td', { text: String(t.count) }), el('td', { class: 'mono', text: amounts(t.amounts) })))), 'impact-groups'),
    table('Each decision that would change', ['Decision', 'When', 'Agent', 'Capability', 'Change', 'Decided by', 'Reasons'], x.flips.map((f) => el('tr', { 'data-decision-id': f.decision_id, 'data-change': `${f.from}→${f.to}` }, el('td', {}, decisionLink(f.decision_id)), el('td', { text: dateTime(f.at) }), el('td', {}, agentLink(f.agent)), el('td', { class: 'mono', text: f.capability }), el('td', { text: `${f.from} → ${f.to}` }), el('td', { class: 'mono', text: f.after.policies.join(', ') || '—' }), el('td', { class: 'mono', text: f.after.reasons.join(', ') || '—' }))), 'impact-flips'),
    el('p', { class: 'hint' }, 'Policy set ', mono(x.policy_set_hash.current.slice(0, 16)), ' now, ', mono(x.policy_set_hash.proposed.slice(0, 16)), ' proposed.'),
  );
}

function problems(list) {
  return el('div', { id: 'impact-result', class: 'impact-problems', role: 'alert' }, el('p', { class: 'error', text: 'The proposed files do not load; nothing was replayed:' }), el('ul', {}, list.map((p) => el('li', {}, mono(`${p.file} ${p.path}`), `: ${p.message}${p.hint ? ` (${p.hint})` : ''}`))));
}

async function run(out) {
  const changed = edited();
  if (!changed.length) return out.replaceChildren(el('p', { class: 'error', text: 'Nothing changed yet: edit a file first.' }));
  const body = { contracts: { files: {} }, policies: { files: {} } };
  for (const [path, text] of changed) {
    const [folder, name] = path.split('/');
    body[folder].files[name] = text;
  }
  const minutes = $('impact-since').value;
  if (minutes) body.since = new Date(Date.now() - Number(minutes) * 60_000).toISOString();
  for (const k of ['agent', 'capability']) if ($(`impact-${k}`).value.trim()) body[k] = $(`impact-${k}`).value.trim();
  out.replaceChildren(el('p', { text: 'Replaying…' }));
  const r = await api('/api/v1/policy/impact', { method: 'POST', json: body });
  if (r.status === 200) return out.replaceChildren(report(r.body.impact));
  if (r.status === 422 && r.body && r.body.error && r.body.error.problems) return out.replaceChildren(problems(r.body.error.problems));
  out.replaceChildren(el('p', { class: 'error', role: 'alert', text: `Cannot replay: ${errorText(r)}` }));
}

export async function showImpact() {
  const body = $('impact-body');
  if (session.role !== 'operator') {
    state.builtFor = null;
    return body.replaceChildren(el('p', { class: 'hint', text: 'Read-only: the impact of a change is for operator keys.' }));
  }
  if (state.builtFor === session.key) return;
  const r = await api('/api/v1/policy/files');
  if (r.status !== 200) return body.replaceChildren(el('p', { class: 'error', role: 'alert', text: `Cannot read the workspace files: ${errorText(r)}` }));
  state.files = r.body;
  state.edits.clear();
  const paths = [...Object.keys(r.body.contracts).map((n) => `contracts/${n}`), ...Object.keys(r.body.policies).map((n) => `policies/${n}`)];
  const select = el('select', { id: 'impact-file' }, paths.map((p) => el('option', { value: p, text: p })));
  const editor = el('textarea', { id: 'impact-text', rows: 18, cols: 80, spellcheck: 'false', 'aria-describedby': 'impact-changed' });
  const changedNote = el('p', { id: 'impact-changed', class: 'hint' });
  const note = () => {
    const c = edited().map(([p]) => p);
    changedNote.textContent = c.length ? `Changed: ${c.join(', ')}` : 'No file changed yet.';
  };
  const load = () => {
    editor.value = state.edits.get(select.value) ?? original(select.value);
  };
  select.addEventListener('change', load);
  editor.addEventListener('input', () => {
    state.edits.set(select.value, editor.value);
    note();
  });
  const newName = el('input', { id: 'impact-new', type: 'text', spellcheck: 'false', autocomplete: 'off', placeholder: 'e.g. limits.cedar', 'aria-describedby': 'impact-new-help' });
  const add = () => {
    const name = newName.value.trim();
    const path = `${name.endsWith('.cedar') ? 'policies' : 'contracts'}/${name}`;
    if (!NEW_NAME.test(name) || [...select.options].some((o) => o.value === path)) {
      changedNote.textContent = `Cannot add \`${name}\`: give a new file name ending in .cedar (a policy) or .yaml (a contract), without folders.`;
      return;
    }
    select.append(el('option', { value: path, text: `${path} (new)` }));
    select.value = path;
    state.edits.set(path, '');
    newName.value = '';
    load();
    editor.focus();
  };
  const out = el('div', { id: 'impact-out', role: 'status', 'aria-live': 'polite' });
  const form = el(
    'form',
    { id: 'impact-form', class: 'stack', 'aria-label': 'Proposed change' },
    el('label', { for: 'impact-file', text: 'File' }),
    select,
    el('div', { class: 'filters' }, el('label', { for: 'impact-new' }, 'Or add a file', newName), el('button', { type: 'button', text: 'Add file', onclick: add })),
    el('p', { id: 'impact-new-help', class: 'hint', text: 'A new policy (name.cedar, in policies/) or contract (agent.yaml, in contracts/).' }),
    el('label', { for: 'impact-text', text: 'Its text as you propose it' }),
    editor,
    changedNote,
    el('div', { class: 'filters' },
      el('label', {}, 'Replay', el('select', { id: 'impact-since' }, SINCE.map(([v, t]) => el('option', { value: v, text: t })))),
      el('label', {}, 'Agent', el('input', { id: 'impact-agent', type: 'text', spellcheck: 'false', placeholder: 'any agent' })),
      el('label', {}, 'Capability', el('input', { id: 'impact-capability', type: 'text', spellcheck: 'false', placeholder: 'any capability' })),
    ),
    el('p', {}, el('button', { type: 'submit', text: 'Show impact' }), ' ', el('button', { type: 'button', id: 'impact-reset', text: 'Undo my edits', onclick: () => { state.edits.clear(); load(); note(); } })),
  );
  form.addEventListener('submit', (ev) => {
    ev.preventDefault();
    run(out).catch((err) => out.replaceChildren(el('p', { class: 'error', role: 'alert', text: `Cannot replay: ${err.message}` })));
  });
  body.replaceChildren(form, out);
  state.builtFor = session.key;
  load();
  note();
}
