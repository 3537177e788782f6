// The published JSON Schemas (contracts/schema/) are generated from the zod
// schemas the code validates with; this suite fails when they drift apart
// (run `npm run schemas` to regenerate). See ADR-004.
import { readdirSync, readFileSync } from 'node:fs';
import { dirname, join, resolve } from 'node:path';
import { fileURLToPath } from 'node:url';
import { describe, expect, it } from 'vitest';
import { parse } from 'yaml';
import { renderSchemas, SCHEMA_DIR } from '../scripts/write-schemas.js';
import { ContractSchema } from '../src/config/contract-schema.js';
import { MemorySeedSchema } from '../src/config/memory-schema.js';
import { WorkspaceConfigSchema } from '../src/config/workspace-schema.js';
import { systemWorld } from '../src/core/world.js';
import { fixedTools } from '../src/mcp/tools.js';
import { LedgerEventSchema } from '../src/store/port/index.js';
import { openStore } from '../src/store/sqlite/store.js';

const ROOT = resolve(dirname(fileURLToPath(import.meta.url)), '..');
const DIR = join(ROOT, SCHEMA_DIR);
const TEMPLATE = join(ROOT, 'templates', 'workspace');
const rendered = renderSchemas();

const yamlFiles = (dir: string) =>
  readdirSync(dir)
    .filter((f) => /\.ya?ml$/.test(f))
    .sort();

describe('published schemas (contracts/schema/)', () => {
  it('are exactly the files renderSchemas() produces: run `npm run schemas` after changing a zod schema', () => {
    const onDisk = readdirSync(DIR).filter((f) => f.endsWith('.schema.json')).sort();
    expect(onDisk).toEqual(Object.keys(rendered).sort());
    for (const [name, text] of Object.entries(rendered)) {
      expect(readFileSync(join(DIR, name), 'utf8'), `${SCHEMA_DIR}/${name} is stale`).toBe(text);
    }
  });

  it('are deterministic', () => {
    expect(renderSchemas()).toEqual(rendered);
  });

  it('each declare draft-07, an $id and a title, and end with a newline', () => {
    for (const [name, text] of Object.entries(rendered)) {
      const doc = JSON.parse(text) as Record<string, unknown>;
      expect(doc['$schema']).toBe('http://json-schema.org/draft-07/schema#');
      expect(doc['$id']).toBe(`urn:mandate:schema:${name}`);
      expect(typeof doc['title']).toBe('string');
      expect(text.endsWith('}\n')).toBe(true);
    }
  });

  it('publish the tool arguments exactly as tools/list does', () => {
    const doc = JSON.parse(rendered['tools.schema.json'] as string) as { definitions: Record<string, Record<string, unknown>> };
    for (const tool of fixedTools()) {
      const { $schema: _ignored, ...args } = tool.inputSchema;
      expect(doc.definitions[tool.name]).toEqual({ title: tool.title, description: tool.description, ...args });
    }
  });
});

describe('the template workspace matches the schemas', () => {
  it('mandate.yaml parses with WorkspaceConfigSchema', () => {
    const result = WorkspaceConfigSchema.safeParse(parse(readFileSync(join(TEMPLATE, 'mandate.yaml'), 'utf8')));
    expect(result.error?.issues ?? []).toEqual([]);
  });

  it.each(yamlFiles(join(TEMPLATE, 'contracts')))('contracts/%s parses with ContractSchema', (file) => {
    const result = ContractSchema.safeParse(parse(readFileSync(join(TEMPLATE, 'contracts', file), 'utf8')));
    expect(result.error?.issues ?? []).toEqual([]);
  });

  it.each(yamlFiles(join(TEMPLATE, 'memory')))('memory/%s parses with MemorySeedSchema', (file) => {
    const result = MemorySeedSchema.safeParse(parse(readFileSync(join(TEMPLATE, 'memory', file), 'utf8')));
    expect(result.error?.issues ?? []).toEqual([]);
  });
});

describe('LedgerEventSchema', () => {
  it('accepts the events the ledger actually stores, as export prints them', () => {
    const store = openStore(':memory:', systemWorld);
    try {
      const dfid = systemWorld.newTraceId();
      store.ledger.append({ dfid, agent: 'alice', type: 'IntentReceived', decision_id: 'd-1', data: { request_hash: 'a'.repeat(64) } });
      store.ledger.append({ dfid, agent: 'alice', type: 'IntentRejected', decision_id: 'd-1', reasons: ['SCHEMA_INVALID'] });
      store.ledger.append({ dfid, agent: 'operator:ops', type: 'InterventionIssued' });
      const events = store.ledger.page(0, 10).map((e) => JSON.parse(JSON.stringify(e)) as unknown);
      expect(events).toHaveLength(3);
      for (const e of events) expect(LedgerEventSchema.safeParse(e).error?.issues ?? []).toEqual([]);
      expect(LedgerEventSchema.safeParse({ ...(events[0] as object), extra: 1 }).success).toBe(false);
    } finally {
      store.close();
    }
  });
});
