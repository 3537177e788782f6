// Issue 5: upstream tools carry JSON Schemas, checked by ajv (a real JSON
// Schema validator), in the same places the kernel uses a module's zod schema.
import { describe, expect, it } from 'vitest';
import { CallToolResultSchema, JsonSchemaParams } from '../../src/capabilities/json-schema.js';

const params = (schema: Record<string, unknown>) => {
  const compiled = JsonSchemaParams.compile(schema);
  if (!compiled.ok) throw new Error(compiled.message);
  return compiled.params;
};

const WRITE = {
  $schema: 'http://json-schema.org/draft-07/schema#',
  type: 'object',
  properties: { path: { type: 'string', minLength: 1 }, content: { type: 'string' }, mode: { type: 'string', enum: ['a', 'w'], default: 'w' } },
  required: ['path', 'content'],
};

describe('JsonSchemaParams', () => {
  it('accepts valid params and fills in defaults on a copy, as zod does', () => {
    const input = { path: '/x', content: 'c' };
    const r = params(WRITE).safeParse(input);
    expect(r).toEqual({ success: true, data: { path: '/x', content: 'c', mode: 'w' } });
    expect(input).toEqual({ path: '/x', content: 'c' });
  });

  it('reports every problem with its path, like zod issues', () => {
    const r = params(WRITE).safeParse({ path: '', mode: 'x' });
    expect(r.success).toBe(false);
    const issues = r.success ? [] : r.error.issues.map((i) => [i.path.join('.'), i.message]);
    expect(issues).toEqual(
      expect.arrayContaining([
        ['path', 'must NOT have fewer than 1 characters'],
        ['content', "must have required property 'content'"],
        ['mode', 'must be equal to one of the allowed values'],
      ]),
    );
  });

  it('refuses anything that is not an object', () => {
    for (const v of [null, [], 'x', 3]) expect(params(WRITE).safeParse(v).success).toBe(false);
  });

  it('strict() closes the schema to unknown keys (for a model proposal); the open one lets them through', () => {
    expect(params(WRITE).safeParse({ path: '/x', content: 'c', extra: 1 }).success).toBe(true);
    const closed = params(WRITE).strict().safeParse({ path: '/x', content: 'c', extra: 1 });
    expect(closed.success).toBe(false);
    expect(closed.success ? [] : closed.error.issues[0]?.path).toEqual(['extra']);
  });

  it('reads the dialect from $schema: 2020-12 prefixItems are enforced', () => {
    const s = params({ $schema: 'https://json-schema.org/draft/2020-12/schema', type: 'object', properties: { pair: { type: 'array', prefixItems: [{ type: 'string' }, { type: 'number' }] } } });
    expect(s.safeParse({ pair: ['a', 1] }).success).toBe(true);
    expect(s.safeParse({ pair: [1, 'a'] }).success).toBe(false);
  });

  it('ignores formats and unknown keywords, and refuses a schema that is not an object schema', () => {
    expect(params({ type: 'object', properties: { u: { type: 'string', format: 'uri', 'x-custom': true } } }).safeParse({ u: 'not a uri' }).success).toBe(true);
    expect(JsonSchemaParams.compile({ type: 'string' })).toMatchObject({ ok: false });
    expect(JsonSchemaParams.compile({ type: 'object', properties: { a: { type: 'nonsense' } } })).toMatchObject({ ok: false });
  });
});

describe('CallToolResultSchema', () => {
  const out = (schema?: Record<string, unknown>) => {
    const compiled = CallToolResultSchema.compile(schema);
    if (!compiled.ok) throw new Error(compiled.message);
    return compiled.output;
  };

  it('returns the very result it was given: nothing is stripped or added', () => {
    const result = { content: [{ type: 'text', text: 'hi' }, { type: 'some_future_type', payload: 1 }], _meta: { a: 1 } };
    const r = out().safeParse(result);
    expect(r.success && r.data).toBe(result);
  });

  it('checks structuredContent against the output schema unless the result is an error', () => {
    const schema = { type: 'object', properties: { n: { type: 'number' } }, required: ['n'] };
    expect(out(schema).safeParse({ content: [], structuredContent: { n: 1 } }).success).toBe(true);
    expect(out(schema).safeParse({ content: [], structuredContent: { n: 'x' } }).success).toBe(false);
    expect(out(schema).safeParse({ content: [] }).success).toBe(false);
    expect(out(schema).safeParse({ content: [{ type: 'text', text: 'failed' }], isError: true }).success).toBe(true);
  });

  it('refuses what is not a tool result', () => {
    for (const v of [null, { content: 'x' }, { content: [{ text: 'no type' }] }, { content: [], isError: 'yes' }, { content: [], structuredContent: [] }]) {
      expect(out().safeParse(v).success, JSON.stringify(v)).toBe(false);
    }
  });
});
