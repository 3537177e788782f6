/**
 * A pinned upstream tool as a capability `<server>.<tool>` (ADR-008). It goes
 * through the same pipeline as a module: DIM parses its params with the
 * pinned input JSON Schema (ajv), Cedar decides, the key is reserved, and the
 * bounded engine runs the handler, which calls the upstream and returns its
 * CallToolResult unchanged. Before the effect, `ready` starts the upstream
 * lazily and refuses the call if the live definition is not the pinned one.
 */
import { CallToolResultSchema, JsonSchemaParams } from '../capabilities/json-schema.js';
import { CapabilityError, type Capability, type CapabilityDefinition, type ReadyResult } from '../capabilities/manifest.js';
import type { WorkspaceConfig } from '../config/workspace-schema.js';
import type { UpstreamConfig } from '../config/workspace-schema.js';
import type { PinRow } from '../store/port/index.js';
import { sideEffectOf } from './definition.js';
import type { Upstream } from './upstream.js';

export interface UpstreamLimits {
  deadlineMs: number;
  maxOutputBytes: number;
}

/** With `upstream` null the capability is the pinned tool's shape only (types for `validate`): it never runs. */
export function upstreamCapability(pin: PinRow, upstream: Upstream | null, config: UpstreamConfig, limits: UpstreamLimits): { ok: true; capability: Capability } | { ok: false; message: string } {
  const { server, tool, definition } = pin;
  const id = `${server}.${tool}`;
  const input = JsonSchemaParams.compile(definition.inputSchema);
  if (!input.ok) return { ok: false, message: `\`${id}\`: its input schema cannot be used: ${input.message}` };
  const output = CallToolResultSchema.compile(definition.outputSchema);
  if (!output.ok) return { ok: false, message: `\`${id}\`: its output schema cannot be used: ${output.message}` };

  const def: CapabilityDefinition = {
    id,
    // The version names the pinned definition: policies and the ledger see which one was judged.
    version: `0.0.0+pin.${pin.hash.slice(0, 12)}`,
    title: definition.title ?? id,
    description: definition.description ?? `Tool \`${tool}\` of the upstream MCP server \`${server}\`.`,
    sideEffect: sideEffectOf(tool, definition.annotations, config.side_effects),
    input: input.params,
    output: output.output,
    limits: { deadlineMs: limits.deadlineMs, maxOutputBytes: limits.maxOutputBytes },
    handler: (params, ctx) => (upstream ? upstream.call(tool, params, ctx) : Promise.reject(new CapabilityError('UPSTREAM_UNAVAILABLE', `upstream \`${server}\` is not connected here`))),
  };

  const ready = async (signal: AbortSignal): Promise<ReadyResult> => {
    if (!upstream) return { ok: false, code: 'UPSTREAM_UNAVAILABLE', message: `upstream \`${server}\` is not connected here` };
    const started = await upstream.start({ signal });
    if (!started.ok) return { ok: false, code: 'UPSTREAM_UNAVAILABLE', message: started.message };
    const live = upstream.liveHash(tool);
    const repin = `an operator re-pins it (\`mandate upstream pin --server ${server}\`)`;
    if (live === undefined) return { ok: false, code: 'UPSTREAM_TOOL_CHANGED', message: `upstream \`${server}\` no longer offers \`${tool}\`; it stays quarantined until ${repin}` };
    if (live !== pin.hash) return { ok: false, code: 'UPSTREAM_TOOL_CHANGED', message: `the definition of \`${id}\` changed since it was pinned; it is quarantined until ${repin}` };
    if (upstream.saturated()) return { ok: false, code: 'UPSTREAM_UNAVAILABLE', message: `upstream \`${server}\` is busy: every slot and the queue are taken`, load: true };
    return { ok: true };
  };

  return {
    ok: true,
    capability: {
      def,
      inputJsonSchema: definition.inputSchema,
      outputJsonSchema: {
        type: 'object',
        description: "The upstream tool's MCP CallToolResult, passed through unchanged.",
        properties: {
          content: { type: 'array', items: { type: 'object' } },
          structuredContent: definition.outputSchema ?? { type: 'object' },
          isError: { type: 'boolean' },
        },
        required: ['content'],
      },
      source: `upstream:${server}`,
      circuit: `upstream:${server}`,
      ready,
      upstream: {
        server,
        tool,
        pinHash: pin.hash,
        title: definition.title,
        description: definition.description,
        inputSchema: definition.inputSchema,
        outputSchema: definition.outputSchema,
        annotations: definition.annotations,
        definition: definition as unknown as Record<string, unknown>,
        expose: config.expose,
      },
    },
  };
}

/**
 * The pinned tools of the configured upstreams as capabilities that carry
 * their types only, so contracts and policies on them are compiled and
 * type-checked against the pinned input schemas like a module's (ADR-012).
 */
export function pinnedToolTypes(pins: PinRow[], config: WorkspaceConfig): Capability[] {
  const out: Capability[] = [];
  for (const pin of pins) {
    const cfg = config.upstreams[pin.server];
    if (!cfg || pin.tool.includes(':')) continue; // not configured, or a resource or prompt pin (ADR-013)
    const built = upstreamCapability(pin, null, cfg, { deadlineMs: config.limits.default_deadline_ms, maxOutputBytes: config.limits.default_max_output_bytes });
    if (built.ok) out.push(built.capability);
  }
  return out;
}
