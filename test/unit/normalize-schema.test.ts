// Pure parts of free-text normalisation: the format built from a contract's
// grants, the kernel's check of a model's proposal and review, the
// configuration, and the submit_intent wire shape.
import { describe, expect, it } from 'vitest';
import { z } from 'zod';
import { toCapability, type Capability } from '../../src/capabilities/manifest.js';
import { DEFAULTS, WorkspaceConfigSchema } from '../../src/config/workspace-schema.js';
import { ProposalSchema, SubmitIntentArgsSchema, TextIntentSchema } from '../../src/core/wire.js';
import { forModel, parseProposal, parseReview } from '../../src/kernel/normalize.js';
import { fixedTools } from '../../src/mcp/tools.js';
import { normalizeMessages, paramsSchema, proposalFormat } from '../../src/normalize/prompt.js';
import { transferCapability } from './helpers.js';

const balance: Capability = toCapability(
  {
    id: 'payments.get_balance',
    version: '1.0.0',
    description: 'Read the balance of an account (test double).',
    sideEffect: 'read',
    input: z.object({ account: z.string() }),
    output: z.object({ balance_minor: z.number() }),
    handler: () => ({ balance_minor: 1 }),
  },
  'test',
);
const transfer = transferCapability();
const granted = [balance, transfer];
const opts = { truncated: false, maxBytes: 65_536 };
const proposal = (value: unknown) => JSON.stringify(value);
const goodParams = { from_account: 'operating', payee: 'acme-supplies', amount_minor: 25_000, currency: 'EUR' };

describe('the format sent to the model', () => {
  it('is an anyOf with one closed branch per granted capability: capability const, params = its input JSON Schema', () => {
    const format = proposalFormat(granted.map(forModel)) as { anyOf: Record<string, unknown>[] };
    expect(format.anyOf).toHaveLength(2);
    expect(format.anyOf[1]).toEqual({
      type: 'object',
      properties: { capability: { type: 'string', const: 'payments.transfer' }, params: paramsSchema(transfer.inputJsonSchema) },
      required: ['capability', 'params'],
      additionalProperties: false,
    });
    const params = paramsSchema(transfer.inputJsonSchema);
    expect(params['$schema']).toBeUndefined();
    expect(params['additionalProperties']).toBe(false);
    expect(params['properties']).toEqual(transfer.inputJsonSchema['properties']);
  });

  it('keeps $refs resolvable: definitions of each capability (and self-references) move to the root under their own prefix', () => {
    const tree = z.object({ name: z.string(), get children() {
      return z.array(tree).optional();
    } });
    const self = z.object({ name: z.string(), get kids() {
      return z.array(self).optional();
    } });
    const cap = (id: string, input: z.ZodObject) => toCapability({ id, version: '1.0.0', description: 'A capability with a recursive input.', sideEffect: 'write', input, output: z.object({}), handler: () => ({}) }, 'test');
    const format = proposalFormat([cap('a.tree', z.object({ tree, n: z.number() })), cap('b.tree', z.object({ tree })), cap('c.self', self)].map(forModel)) as { $defs: Record<string, unknown> };
    const refs: string[] = [];
    const walk = (v: unknown): void => {
      if (Array.isArray(v)) v.forEach(walk);
      else if (v && typeof v === 'object') {
        for (const [k, x] of Object.entries(v)) {
          if (k === '$ref') refs.push(x as string);
          else walk(x);
        }
      }
    };
    walk(format);
    expect(refs.length).toBeGreaterThanOrEqual(5);
    for (const ref of refs) {
      expect(ref).toMatch(/^#\/\$defs\//);
      expect(format.$defs[ref.slice('#/$defs/'.length)], ref).toBeDefined();
    }
    expect(Object.keys(format.$defs).sort()).toEqual(['c0___schema0', 'c1___schema0', 'c2_params']);
  });

  it('lists only what it is given: a capability the contract does not grant is never in the prompt or the format', () => {
    const format = JSON.stringify(proposalFormat([forModel(balance)]));
    const messages = JSON.stringify(normalizeMessages('move money', [forModel(balance)]));
    expect(format).not.toContain('payments.transfer');
    expect(messages).not.toContain('payments.transfer');
  });
});

describe('parseProposal: the kernel checks everything the model wrote', () => {
  it('a granted capability with valid params passes', () => {
    const r = parseProposal(proposal({ capability: 'payments.transfer', params: goodParams }), granted, opts);
    expect(r.ok).toBe(true);
    if (r.ok) {
      expect(r.capability.def.id).toBe('payments.transfer');
      expect(r.params).toEqual(goodParams);
    }
  });

  it.each([
    ['not JSON', 'Sure! Here is the transfer: {capability: payments.transfer}', 'normalized', /not valid JSON/],
    ['an array', '[1,2]', 'normalized', /does not match/],
    ['a missing params', proposal({ capability: 'payments.transfer' }), 'normalized.params', /does not match/],
    ['an extra top-level key (a model trying to set approval or a key)', proposal({ capability: 'payments.transfer', params: goodParams, approved: true }), 'normalized', /does not match/],
    ['a capability the contract lacks', proposal({ capability: 'files.write', params: { path: 'x', content: 'y' } }), 'normalized.capability', /does not grant/],
    ['an unknown capability', proposal({ capability: 'payments.refund_everything', params: {} }), 'normalized.capability', /does not grant/],
    ['params of the wrong type', proposal({ capability: 'payments.transfer', params: { ...goodParams, amount_minor: '250.00' } }), 'normalized.params.amount_minor', /input schema/],
    ['an unknown param', proposal({ capability: 'payments.transfer', params: { ...goodParams, skip_limits: true } }), 'normalized.params', /input schema/],
    ['a missing required param', proposal({ capability: 'payments.transfer', params: { payee: 'acme-supplies', amount_minor: 1, currency: 'EUR' } }), 'normalized.params.from_account', /input schema/],
  ])('%s → NORMALIZATION_FAILED', (_what, content, path, message) => {
    const r = parseProposal(content, granted, opts);
    expect(r.ok).toBe(false);
    if (!r.ok) {
      expect(r.details.every((d) => d.code === 'NORMALIZATION_FAILED')).toBe(true);
      expect(r.details.map((d) => d.path)).toContain(path);
      expect(r.details.map((d) => d.message).join(' ')).toMatch(message);
    }
  });

  it('says when the output was cut off at max_tokens, and bounds its size', () => {
    const cut = parseProposal('{"capability":"payments.tr', granted, { truncated: true, maxBytes: 65_536 });
    expect(!cut.ok && cut.details[0]?.message).toMatch(/cut off at normalizer.max_tokens/);
    const big = parseProposal(proposal({ capability: 'payments.transfer', params: goodParams }), granted, { truncated: false, maxBytes: 10 });
    expect(!big.ok && big.details[0]?.message).toMatch(/max_payload_bytes/);
  });
});

describe('parseReview (challenger)', () => {
  it('accepts { risk, summary } and cuts the summary', () => {
    expect(parseReview(JSON.stringify({ risk: 'high', summary: `  ${'a'.repeat(900)} ` }), 500)).toEqual({ risk: 'high', summary: 'a'.repeat(500) });
  });
  it.each([['nonsense'], [JSON.stringify({ risk: 'extreme', summary: 'x' })], [JSON.stringify({ risk: 'low', summary: '' })], [JSON.stringify({ risk: 'low', summary: 'x', approve: true })]])('refuses %s', (content) => {
    expect(parseReview(content, 500)).toBeNull();
  });
});

describe('normalizer configuration (mandate.yaml)', () => {
  it('absent: no normalizer (free text is refused); present and empty: every default', () => {
    expect(WorkspaceConfigSchema.parse({ version: 1 }).normalizer).toBeUndefined();
    expect(WorkspaceConfigSchema.parse({ version: 1, normalizer: {} }).normalizer).toEqual(DEFAULTS.normalizer);
    expect(DEFAULTS.normalizer).toMatchObject({ host: 'http://127.0.0.1:11434', routes: { default: 'qwen2.5:1.5b-instruct' }, route: 'default', challenger: { enabled: false } });
  });

  it('the route and the challenger route must name a route in the table; the host must be http(s); unknown keys are refused', () => {
    const issues = (normalizer: unknown) => WorkspaceConfigSchema.safeParse({ version: 1, normalizer }).error?.issues.map((i) => i.path.join('.')) ?? [];
    expect(issues({ routes: { small: 'a:1b' } })).toEqual(['normalizer.route', 'normalizer.challenger.route']);
    expect(issues({ routes: { small: 'a:1b' }, route: 'small', challenger: { route: 'small' } })).toEqual([]);
    expect(issues({ host: 'file:///etc/passwd' })).toEqual(['normalizer.host']);
    expect(issues({ model: 'x' })).toEqual(['normalizer']);
  });
});

describe('the submit_intent wire shape', () => {
  it('the kernel accepts a structured or a text intent, never both', () => {
    expect(ProposalSchema.safeParse({ capability: 'payments.transfer', params: {} }).success).toBe(true);
    expect(ProposalSchema.safeParse({ text: 'pay acme 1 euro', idempotency_key: 'k-1' }).success).toBe(true);
    expect(ProposalSchema.safeParse({ text: 'pay', capability: 'payments.transfer', params: {} }).success).toBe(false);
    expect(TextIntentSchema.safeParse({ text: '' }).success).toBe(false);
  });

  it('the tool publishes one plain object (no top-level anyOf, which clients reject) with text next to capability and params', () => {
    const tool = fixedTools().find((t) => t.name === 'submit_intent');
    expect(tool?.inputSchema['type']).toBe('object');
    expect(tool?.inputSchema['anyOf']).toBeUndefined();
    expect(Object.keys(tool?.inputSchema['properties'] as object)).toEqual(expect.arrayContaining(['capability', 'params', 'text']));
    expect(tool?.inputSchema['required']).toBeUndefined();
    expect(tool?.description).toMatch(/`text`/);
    expect(SubmitIntentArgsSchema.safeParse({ text: 'x', extra: 1 }).success).toBe(false);
  });
});
