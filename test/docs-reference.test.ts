// The reference pages must say what the code says: the reason-code table is
// the catalogue in src/core/reasons.ts, row for row, in its order; every
// published schema, ledger event type and intervene act is named where a
// reader looks for it. (Links are checked by docs-snippets.test.ts.)
import { describe, expect, it } from 'vitest';
import { renderSchemas } from '../scripts/write-schemas.js';
import { REASON_CODES, REASONS } from '../src/core/reasons.js';
import { InterveneArgsSchema } from '../src/mcp/tools.js';
import { LEDGER_EVENT_TYPES } from '../src/store/port/index.js';
import { readDoc } from './helpers/markdown.js';

describe('docs/reference', () => {
  it('reason-codes.md lists every reason code with its exact meaning, in catalogue order, and nothing else', () => {
    const rows = [...readDoc('docs/reference/reason-codes.md').matchAll(/^\| `([A-Z_]+)` \| (.+?) \| (.+?) \|$/gm)].map((m) => ({ code: m[1] as string, meaning: m[2] as string }));
    expect(rows.map((r) => r.code)).toEqual(REASON_CODES);
    for (const row of rows) expect(row.meaning, row.code).toBe(REASONS[row.code as keyof typeof REASONS]);
  });

  it('contract-format.md names every published schema file', () => {
    const page = readDoc('docs/reference/contract-format.md');
    for (const name of Object.keys(renderSchemas())) expect(page).toContain(`\`${name}\``);
  });

  it('events.md names every ledger event type, and tools.md every intervene act', () => {
    const events = readDoc('docs/reference/events.md');
    for (const type of LEDGER_EVENT_TYPES) expect(events, type).toContain(`\`${type}\``);
    const tools = readDoc('docs/reference/tools.md');
    for (const act of InterveneArgsSchema.shape.action.options) expect(tools, act).toContain(`\`${act}\``);
  });
});
