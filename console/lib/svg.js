// Small inline SVG charts drawn by the page's own code: nothing is loaded from
// anywhere, and the CSP (no inline styles) holds, because shapes take their
// looks from presentation attributes and classes. Every chart is an image
// with a text equivalent (aria-label) and its figures beside it as text.

import { el, num } from './dom.js';

const NS = 'http://www.w3.org/2000/svg';

function svg(tag, attrs, ...children) {
  const node = document.createElementNS(NS, tag);
  for (const [k, v] of Object.entries(attrs || {})) if (v !== undefined && v !== null) node.setAttribute(k, String(v));
  for (const c of children.flat()) if (c) node.append(c);
  return node;
}

const title = (text) => svg('title', {}, document.createTextNode(text));

export const COLOURS = { accepted: '#116329', rejected: '#a40e26', escalated: '#7d4e00', line: '#0a58ca', grid: '#d0d7de', track: '#eef1f4' };

/** One budget: used against its limit in its window, as a bar, with the figures as text. */
export function budgetBar(b) {
  const W = 240;
  const H = 14;
  const frac = b.limit > 0 ? Math.min(b.used / b.limit, 1) : 1;
  const level = frac >= 1 ? 'full' : frac >= 0.8 ? 'high' : 'ok';
  const what = b.field === '_calls' ? 'calls' : b.field;
  const text = `${num(b.used)} of ${num(b.limit)} used, ${num(b.remaining)} left`;
  const label = `${b.capability} ${what} in ${b.window}: ${text}`;
  return el(
    'div',
    { class: `budget ${level}`, 'data-capability': b.capability, 'data-field': b.field, 'data-window': b.window, 'data-used': b.used, 'data-limit': b.limit },
    el('span', { class: 'budget-name' }, el('span', { class: 'mono', text: b.capability }), ` ${what} · ${b.window}`),
    svg(
      'svg',
      { class: 'budget-bar', width: W, height: H, viewBox: `0 0 ${W} ${H}`, role: 'img', 'aria-label': label },
      title(label),
      svg('rect', { x: 0, y: 0, width: W, height: H, rx: 3, fill: COLOURS.track, stroke: COLOURS.grid }),
      svg('rect', { class: 'used', x: 0, y: 0, width: Math.round(W * frac * 10) / 10, height: H, rx: 3, fill: level === 'ok' ? COLOURS.line : level === 'high' ? COLOURS.escalated : COLOURS.rejected }),
    ),
    el('span', { class: 'budget-figures', text }),
  );
}

/** Steps done of all, as a short bar (a plan's progress); the figures are beside it as text. */
export function progressBar(done, total, label) {
  const W = 160;
  const H = 12;
  const w = total > 0 ? Math.round((W * Math.min(done, total) * 10) / total) / 10 : 0;
  return svg(
    'svg',
    { class: 'progress-bar', width: W, height: H, viewBox: `0 0 ${W} ${H}`, role: 'img', 'aria-label': label, 'data-done': done, 'data-total': total },
    title(label),
    svg('rect', { x: 0, y: 0, width: W, height: H, rx: 3, fill: COLOURS.track, stroke: COLOURS.grid }),
    svg('rect', { class: 'done', x: 0, y: 0, width: w, height: H, rx: 3, fill: COLOURS.accepted }),
  );
}

/** A drift monitor's window: each sample, the window's value and the threshold line. */
export function monitorChart(m) {
  const W = 320;
  const H = 120;
  const P = { l: 8, r: 8, t: 12, b: 12 };
  const values = (m.samples || []).map((s) => s.value);
  const top = Math.max(m.threshold * 1.25, ...values, m.value || 0, 1);
  const y = (v) => P.t + (H - P.t - P.b) * (1 - v / top);
  const x = (i) => P.l + (values.length > 1 ? ((W - P.l - P.r) * i) / (values.length - 1) : (W - P.l - P.r) / 2);
  const metric = Object.keys(m.metric)[0];
  const over = m.over.last !== undefined ? `last ${m.over.last}` : `window ${m.over.window}`;
  const state = m.value === null ? 'no samples yet' : m.breaching ? 'above the threshold' : 'at or below the threshold';
  const text = `value ${m.value === null ? '—' : num(m.value)} (${metric} of ${m.count} samples, ${over}), threshold ${num(m.threshold)}: ${state}`;
  const label = `Monitor ${m.monitor} of ${m.agent}: ${text}`;
  const points = values.map((v, i) => `${x(i)},${y(v)}`).join(' ');
  return el(
    'figure',
    { class: `monitor${m.breaching ? ' breaching' : ''}`, 'data-agent': m.agent, 'data-monitor': m.monitor, 'data-value': m.value === null ? '' : m.value, 'data-threshold': m.threshold, 'data-count': m.count },
    svg(
      'svg',
      { class: 'chart', width: W, height: H, viewBox: `0 0 ${W} ${H}`, role: 'img', 'aria-label': label },
      title(label),
      svg('rect', { x: 0, y: 0, width: W, height: H, fill: '#ffffff', stroke: COLOURS.grid }),
      svg('line', { class: 'threshold', x1: P.l, x2: W - P.r, y1: y(m.threshold), y2: y(m.threshold), stroke: COLOURS.rejected, 'stroke-dasharray': '6 4', 'stroke-width': 1.5 }),
      m.value !== null ? svg('line', { class: 'value', x1: P.l, x2: W - P.r, y1: y(m.value), y2: y(m.value), stroke: COLOURS.escalated, 'stroke-width': 1 }) : null,
      values.length > 1 ? svg('polyline', { points, fill: 'none', stroke: COLOURS.line, 'stroke-width': 2 }) : null,
      values.map((v, i) => svg('circle', { class: 'sample', cx: x(i), cy: y(v), r: 3, fill: COLOURS.line, 'data-value': v }, title(`sample ${i + 1}: ${num(v)}`))),
    ),
    el('figcaption', {}, el('strong', { class: 'mono', text: `${m.agent} · ${m.monitor}` }), el('br'), el('span', { class: 'monitor-figures', text }), el('br'), el('span', { class: 'hint', text: 'dots: samples; dashed: threshold; thin line: value' }), m.samples === null ? el('span', { class: 'hint', text: ' (samples hidden from viewers: the capability does not opt in)' }) : null),
  );
}

const VERDICTS = ['accepted', 'rejected', 'escalated'];

/**
 * Decisions by verdict per time step, stacked, oldest on the left: the last
 * hour per minute (the API's buckets), or the live feed in short steps.
 */
export function rateChart(buckets, opts) {
  const o = Object.assign({ what: `Last ${buckets.length} minutes`, barWidth: 8, height: 120, step: 'minute' }, opts || {});
  const BW = o.barWidth;
  const W = buckets.length * BW;
  const H = o.height;
  const peak = Math.max(1, ...buckets.map((b) => b.accepted + b.rejected + b.escalated));
  const totals = Object.fromEntries(VERDICTS.map((v) => [v, buckets.reduce((a, b) => a + b[v], 0)]));
  const text = `${o.what}: ${totals.accepted} accepted, ${totals.rejected} rejected, ${totals.escalated} escalated; busiest ${o.step} ${peak}`;
  const bars = [];
  buckets.forEach((b, i) => {
    let base = H;
    for (const v of VERDICTS) {
      if (!b[v]) continue;
      const h = ((H - 4) * b[v]) / peak;
      base -= h;
      bars.push(svg('rect', { class: v, x: i * BW + 1, y: base, width: BW - 2, height: h, fill: COLOURS[v] }, title(`${time(b.minute || b.at)}: ${b[v]} ${v}`)));
    }
  });
  return el(
    'figure',
    { class: 'rate', 'data-accepted': totals.accepted, 'data-rejected': totals.rejected, 'data-escalated': totals.escalated },
    svg('svg', { class: 'chart', width: W, height: H, viewBox: `0 0 ${W} ${H}`, role: 'img', 'aria-label': text }, title(text), svg('line', { x1: 0, x2: W, y1: H - 0.5, y2: H - 0.5, stroke: COLOURS.grid }), bars),
    el('figcaption', {}, el('ul', { class: 'legend' }, VERDICTS.map((v) => el('li', { class: `key-${v}` }, el('span', { class: 'swatch', 'aria-hidden': 'true' }), `${v}: ${totals[v]}`))), el('span', { class: 'hint', text: `busiest ${o.step}: ${peak} decisions` })),
  );
}

const time = (iso) => new Date(iso).toLocaleTimeString();
