// The README's reference tables must say what the code says: the reason-code
// table is the catalogue in src/core/reasons.ts, row for row, in its order.
import { existsSync, readFileSync } from 'node:fs';
import { dirname, join, resolve } from 'node:path';
import { fileURLToPath } from 'node:url';
import { describe, expect, it } from 'vitest';
import { renderSchemas } from '../scripts/write-schemas.js';
import { REASON_CODES, REASONS } from '../src/core/reasons.js';
import { InterveneArgsSchema } from '../src/mcp/tools.js';
import { LEDGER_EVENT_TYPES } from '../src/store/port/index.js';

const ROOT = resolve(dirname(fileURLToPath(import.meta.url)), '..');
const README = readFileSync(join(ROOT, 'README.md'), 'utf8');

describe('README', () => {
  it('lists every reason code with its exact meaning, in catalogue order, and nothing else', () => {
    const rows = [...README.matchAll(/^\| `([A-Z_]+)` \| (.+?) \| (.+?) \|$/gm)].map((m) => ({ code: m[1] as string, meaning: m[2] as string }));
    expect(rows.map((r) => r.code)).toEqual(REASON_CODES);
    for (const row of rows) expect(row.meaning, row.code).toBe(REASONS[row.code as keyof typeof REASONS]);
  });

  it('names every published schema file', () => {
    for (const name of Object.keys(renderSchemas())) expect(README).toContain(`\`${name}\``);
  });

  it('names every ledger event type and every intervene act', () => {
    for (const type of LEDGER_EVENT_TYPES) expect(README, type).toContain(`\`${type}\``);
    for (const act of InterveneArgsSchema.shape.action.options) expect(README, act).toContain(`\`${act}\``);
  });

  it('links only to files that exist', () => {
    const links = [...README.matchAll(/\]\(((?:adr|docs|contracts)\/[^)#]+)\)/g)].map((m) => m[1] as string);
    expect(links.length).toBeGreaterThan(0);
    for (const link of links) expect(existsSync(join(ROOT, link)), link).toBe(true);
  });
});
