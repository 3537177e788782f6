// Small helpers every page shares: building nodes (always as text, never as
// HTML), the API client with the operator key, and formatting.

export const $ = (id) => document.getElementById(id);

/** An element with properties (`class`, `text`, `on<event>`, attributes) and children. */
export function el(tag, props, ...children) {
  const node = document.createElement(tag);
  for (const [k, v] of Object.entries(props || {})) {
    if (k === 'class') node.className = v;
    else if (k === 'text') node.textContent = v;
    else if (k.startsWith('on')) node.addEventListener(k.slice(2), v);
    else if (v !== undefined && v !== null && v !== false) node.setAttribute(k, v === true ? '' : String(v));
  }
  for (const c of children.flat(Infinity)) if (c !== null && c !== undefined && c !== false) node.append(c);
  return node;
}

/** A definition list from [term, description] pairs; a description may be a node. */
export function dl(pairs, cls) {
  return el('dl', { class: cls || 'facts' }, pairs.filter(Boolean).map(([t, d]) => [el('dt', { text: t }), el('dd', {}, d === null || d === undefined ? '—' : d)]));
}

export const mono = (text) => el('span', { class: 'mono', text: String(text) });

export function say(text) {
  $('status').textContent = text;
}

export class AuthError extends Error {}

export const session = { key: sessionStorage.getItem('mandate.operatorKey'), role: null, name: null };

/** A same-origin API call with the operator key; JSON in and out. Throws AuthError on 401. */
export async function api(path, options) {
  const init = Object.assign({ headers: {} }, options || {});
  init.headers = Object.assign({ Authorization: `Bearer ${session.key}`, Accept: 'application/json' }, init.headers);
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

export const errorText = (r) => (r.body && r.body.error && r.body.error.message) || `HTTP ${r.status}`;

export const time = (iso) => (iso ? new Date(iso).toLocaleTimeString() : '—');
export const dateTime = (iso) => (iso ? new Date(iso).toLocaleString() : '—');

/** A number as people read it (grouped digits), keeping the exact value in the text. */
export const num = (n) => (typeof n === 'number' ? n.toLocaleString('en-US', { maximumFractionDigits: 4 }) : String(n));

/** A link into the console's own pages. */
export const link = (hash, text, label) => el('a', { href: hash, text, 'aria-label': label });
/** A plan's sub-mandate acts as <agent>/plan/<plan id> (docs/plans.md): it links to its plan, any other agent to its page. */
export const PLAN_CHILD = /^(.+)\/plan\/([A-Za-z0-9._:-]+)$/;
export const agentLink = (agent) => {
  const plan = PLAN_CHILD.exec(agent);
  return plan ? link(`#/plans/${encodeURIComponent(plan[2])}`, agent) : link(`#/agents/${encodeURIComponent(agent)}`, agent);
};
export const decisionLink = (id, text) => link(`#/decisions/${encodeURIComponent(id)}`, text || id);

/** A key/value table of a flat or nested object, values as JSON text. */
export function valueTable(obj, caption) {
  if (!obj || typeof obj !== 'object') return el('p', { class: 'hint', text: 'none' });
  const keys = Object.keys(obj);
  if (!keys.length) return el('p', { class: 'hint', text: 'none' });
  return el(
    'table',
    { class: 'kv' },
    el('caption', { class: 'sr-only', text: caption }),
    el('tbody', {}, keys.map((k) => el('tr', { 'data-field': k }, el('th', { scope: 'row', class: 'mono', text: k }), el('td', { class: 'mono', text: typeof obj[k] === 'string' ? obj[k] : JSON.stringify(obj[k]) })))),
  );
}
