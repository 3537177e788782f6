/**
 * Publishes the JSON Schemas of every file and wire format in contracts/schema/,
 * generated from the zod schemas the code itself validates with (ADR-004).
 *
 *   npm run schemas            regenerate the files
 *   test/schemas.test.ts       fails when the files on disk and the code drift apart
 */
import { existsSync, mkdirSync, readdirSync, unlinkSync, writeFileSync } from 'node:fs';
import { dirname, join, resolve } from 'node:path';
import { fileURLToPath, pathToFileURL } from 'node:url';
import { z } from 'zod';
import { ContractSchema } from '../src/config/contract-schema.js';
import { MemorySeedSchema } from '../src/config/memory-schema.js';
import { ContractTestFileSchema } from '../src/config/test-schema.js';
import { WorkspaceConfigSchema } from '../src/config/workspace-schema.js';
import { OutcomeSchema, ProposalSchema } from '../src/core/wire.js';
import { ListCapabilitiesOutputSchema, fixedTools } from '../src/mcp/tools.js';
import { LedgerEventSchema } from '../src/store/port/index.js';

export const SCHEMA_DIR = join('contracts', 'schema');
const DRAFT_07 = 'http://json-schema.org/draft-07/schema#';
const ID_PREFIX = 'urn:mandate:schema:';

type Json = Record<string, unknown>;

function convert(schema: z.ZodType, io: 'input' | 'output'): Json {
  const { $schema: _drop, ...rest } = z.toJSONSchema(schema, { target: 'draft-07', io }) as Json;
  return rest;
}

function document(file: string, title: string, description: string, body: Json): string {
  const doc = { $schema: DRAFT_07, $id: `${ID_PREFIX}${file}`, title, description, ...body };
  return `${JSON.stringify(doc, null, 2)}\n`;
}

/** The MCP tools' argument schemas, exactly as `tools/list` publishes them. */
function toolsBody(): Json {
  const definitions: Json = {};
  for (const tool of fixedTools()) {
    const { $schema: _drop, ...args } = tool.inputSchema;
    definitions[tool.name] = { title: tool.title, description: tool.description, ...args };
  }
  definitions['list_capabilities_result'] = {
    title: 'Result of list_capabilities',
    description: 'structuredContent of list_capabilities. Every other tool answers with an outcome (outcome.schema.json).',
    ...convert(ListCapabilitiesOutputSchema, 'output'),
  };
  return { definitions };
}

/** File name → file text, for every published schema. Pure and deterministic. */
export function renderSchemas(): Record<string, string> {
  const files: Record<string, string> = {
    'contract.schema.json': document(
      'contract.schema.json',
      'Mandate responsibility contract',
      'One agent\'s contract (contracts/<agent>.yaml): mission, role, granted capabilities with limits and budgets, memory scopes, escalation rules and default TTL.',
      convert(ContractSchema, 'input'),
    ),
    'mandate.schema.json': document(
      'mandate.schema.json',
      'Mandate workspace configuration',
      'mandate.yaml at the root of a workspace: store path, folder paths, limits, circuit breaker, tool exposure, log level and the free-text normalizer. Every key but `version` has a default; `normalizer` is off unless present.',
      convert(WorkspaceConfigSchema, 'input'),
    ),
    'memory.schema.json': document(
      'memory.schema.json',
      'Mandate memory seed file',
      'One file in memory/: a scope and its records, seeded into the store when the runtime opens.',
      convert(MemorySeedSchema, 'input'),
    ),
    'test.schema.json': document(
      'test.schema.json',
      'Mandate contract tests',
      'One file in tests/: cases that `mandate test` runs through the kernel at a fixed time, with stubbed facts and no handler run, and the verdicts they must get.',
      convert(ContractTestFileSchema, 'input'),
    ),
    'intent.schema.json': document(
      'intent.schema.json',
      'Mandate intent',
      "An agent's proposal as any transport hands it to the kernel: structured (capability and params) or free text (text, normalised by a local model; ADR-006). The submit_intent tool takes the same fields flattened into one object (tools.schema.json).",
      convert(ProposalSchema, 'input'),
    ),
    'outcome.schema.json': document(
      'outcome.schema.json',
      'Mandate outcome',
      'What the kernel answers for every governed call: the structuredContent of submit_intent, invoke_capability, read_memory, intervene, get_decision and per-capability tools.',
      convert(OutcomeSchema, 'output'),
    ),
    'ledger-event.schema.json': document(
      'ledger-event.schema.json',
      'Mandate ledger event',
      'One line of `mandate ledger export` (JSON Lines): an event of the append-only, hash-chained ledger (ADR-002).',
      convert(LedgerEventSchema, 'output'),
    ),
    'tools.schema.json': document(
      'tools.schema.json',
      'Mandate MCP tool arguments',
      'The arguments of the six fixed MCP tools (definitions/<tool name>), as tools/list publishes them, plus the result of list_capabilities. Per-capability tools (tools.expose_capabilities) take the capability\'s own input schema plus an optional `mandate` object.',
      toolsBody(),
    ),
  };
  return Object.fromEntries(Object.entries(files).sort(([a], [b]) => a.localeCompare(b)));
}

/** The package root: the nearest folder above this module with a package.json (works from scripts/ and dist/scripts/). */
export function packageRoot(from = dirname(fileURLToPath(import.meta.url))): string {
  let dir = from;
  while (!existsSync(join(dir, 'package.json'))) {
    const up = dirname(dir);
    if (up === dir) throw new Error(`no package.json above \`${from}\``);
    dir = up;
  }
  return dir;
}

function main(): void {
  const dir = join(packageRoot(), SCHEMA_DIR);
  mkdirSync(dir, { recursive: true });
  const files = renderSchemas();
  for (const stale of readdirSync(dir).filter((f) => f.endsWith('.schema.json') && !(f in files))) unlinkSync(join(dir, stale));
  for (const [name, text] of Object.entries(files)) writeFileSync(join(dir, name), text);
  console.log(`wrote ${Object.keys(files).length} schemas to ${dir}`);
}

if (process.argv[1] && import.meta.url === pathToFileURL(resolve(process.argv[1])).href) main();
