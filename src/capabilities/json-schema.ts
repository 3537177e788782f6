/**
 * JSON Schema params and outputs for capabilities that are not zod modules:
 * the tools of upstream MCP servers (ADR-008). Checked by ajv, a real JSON
 * Schema validator, compiled once per schema.
 *
 * - The dialect follows `$schema`: 2020-12 and 2019-09 get their own ajv;
 *   anything else (draft-07, draft-06, none) is read as draft-07, which is what
 *   the MCP SDK publishes.
 * - `useDefaults`: defaults are filled in, so the params the kernel hashes and
 *   judges are the params as the schema reads them (as with zod).
 * - Unknown keywords are ignored (`strict: false`) and `format` is not checked
 *   (no format plugin is bundled); the upstream still validates its own input.
 */
import { Ajv, type ErrorObject, type ValidateFunction } from 'ajv';
import { Ajv2019 } from 'ajv/dist/2019.js';
import { Ajv2020 } from 'ajv/dist/2020.js';
import type { OutputSchema, ParamsSchema, SchemaIssue, SchemaParse } from './manifest.js';

type Json = Record<string, unknown>;

const OPTIONS = { strict: false, allErrors: true, useDefaults: true, validateFormats: false, logger: false } as const;
let engines: { draft07: Ajv; d2019: Ajv2019; d2020: Ajv2020 } | undefined;

function engineFor(schema: Json): Ajv | Ajv2019 | Ajv2020 {
  engines ??= { draft07: new Ajv(OPTIONS), d2019: new Ajv2019(OPTIONS), d2020: new Ajv2020(OPTIONS) };
  const dialect = typeof schema['$schema'] === 'string' ? schema['$schema'] : '';
  if (dialect.includes('2020-12')) return engines.d2020;
  if (dialect.includes('2019-09')) return engines.d2019;
  return engines.draft07;
}

/** Compiles a schema, or says why it cannot be compiled. */
export function compileJsonSchema(schema: Json): { ok: true; validate: ValidateFunction } | { ok: false; message: string } {
  try {
    // `$id`s would clash across upstreams in one ajv instance, and the dialect is chosen above.
    const { $id: _id, $schema: _dialect, ...rest } = schema;
    return { ok: true, validate: engineFor(schema).compile(rest) };
  } catch (err) {
    return { ok: false, message: (err as Error).message };
  }
}

function issuesOf(errors: ErrorObject[] | null | undefined, prefix: readonly PropertyKey[] = []): SchemaIssue[] {
  return (errors ?? []).map((e) => {
    const path = e.instancePath
      .split('/')
      .slice(1)
      .map((p) => p.replace(/~1/g, '/').replace(/~0/g, '~'));
    const missing = e.keyword === 'required' ? [String((e.params as { missingProperty?: string }).missingProperty ?? '')] : [];
    const extra = e.keyword === 'additionalProperties' ? [String((e.params as { additionalProperty?: string }).additionalProperty ?? '')] : [];
    return { path: [...prefix, ...path, ...missing, ...extra], message: e.message ?? 'is invalid' };
  });
}

/** Params checked against a tool's input JSON Schema. */
export class JsonSchemaParams implements ParamsSchema {
  private constructor(
    readonly schema: Json,
    private readonly validate: ValidateFunction,
  ) {}

  /** The params schema of a JSON Schema, or why it cannot be used. */
  static compile(schema: Json): { ok: true; params: JsonSchemaParams } | { ok: false; message: string } {
    if (schema['type'] !== 'object') return { ok: false, message: 'the input schema is not `type: object`' };
    const compiled = compileJsonSchema(schema);
    return compiled.ok ? { ok: true, params: new JsonSchemaParams(schema, compiled.validate) } : compiled;
  }

  safeParse(value: unknown): SchemaParse<Record<string, unknown>> {
    if (value === null || typeof value !== 'object' || Array.isArray(value)) return { success: false, error: { issues: [{ path: [], message: 'must be an object' }] } };
    // A copy: defaults are filled in on it, never on the caller's value.
    let data: Record<string, unknown>;
    try {
      data = structuredClone(value) as Record<string, unknown>;
    } catch {
      return { success: false, error: { issues: [{ path: [], message: 'must be plain JSON' }] } };
    }
    if (this.validate(data)) return { success: true, data };
    return { success: false, error: { issues: issuesOf(this.validate.errors) } };
  }

  /** The same schema, closed to unknown top-level keys (for a model's proposal). */
  strict(): ParamsSchema {
    const closed = JsonSchemaParams.compile({ ...this.schema, additionalProperties: false });
    return closed.ok ? closed.params : this;
  }
}

/**
 * Checks a whole MCP CallToolResult: a `content` array of typed blocks,
 * optional `structuredContent` (an object) and `isError` (a boolean). When the
 * tool declares an output schema, a result that is not an error must carry
 * `structuredContent` that matches it. The result itself is returned as it
 * came (never a stripped copy), so everything passes through unchanged.
 */
export class CallToolResultSchema implements OutputSchema {
  private constructor(private readonly validate: ValidateFunction | null) {}

  static compile(outputSchema: Json | undefined): { ok: true; output: CallToolResultSchema } | { ok: false; message: string } {
    if (!outputSchema) return { ok: true, output: new CallToolResultSchema(null) };
    const compiled = compileJsonSchema(outputSchema);
    return compiled.ok ? { ok: true, output: new CallToolResultSchema(compiled.validate) } : compiled;
  }

  safeParse(value: unknown): SchemaParse<unknown> {
    const fail = (message: string, path: PropertyKey[] = []): SchemaParse<unknown> => ({ success: false, error: { issues: [{ path, message }] } });
    if (value === null || typeof value !== 'object' || Array.isArray(value)) return fail('a tool result must be an object');
    const r = value as Json;
    if (!Array.isArray(r['content'])) return fail('a tool result needs a content array', ['content']);
    for (const [i, block] of (r['content'] as unknown[]).entries()) {
      if (block === null || typeof block !== 'object' || typeof (block as Json)['type'] !== 'string') return fail('a content block needs a type', ['content', i]);
    }
    if (r['isError'] !== undefined && typeof r['isError'] !== 'boolean') return fail('isError must be a boolean', ['isError']);
    const sc = r['structuredContent'];
    if (sc !== undefined && (sc === null || typeof sc !== 'object' || Array.isArray(sc))) return fail('structuredContent must be an object', ['structuredContent']);
    if (this.validate && r['isError'] !== true) {
      if (sc === undefined) return fail('the tool has an output schema but returned no structuredContent', ['structuredContent']);
      // Validated on a copy: defaults in the output schema must not alter what passes through.
      if (!this.validate(structuredClone(sc))) return { success: false, error: { issues: issuesOf(this.validate.errors, ['structuredContent']) } };
    }
    return { success: true, data: value };
  }
}
