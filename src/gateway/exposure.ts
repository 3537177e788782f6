/**
 * How an upstream's primitives are named to the agent (ADR-013), and which
 * names would collide. `prefixed`: tools and prompts as `<server>_<name>`.
 * `transparent`: under the upstream's own names, so an agent cannot tell
 * Mandate from the upstream. Resources keep their URIs in both modes (a URI
 * is already global); a URI template likewise.
 */
import type { WorkspaceConfig } from '../config/workspace-schema.js';
import type { PinRow } from '../store/port/index.js';
import { parsePinKey } from './definition.js';

export type ExposeMode = 'prefixed' | 'transparent';

/** Mandate's own tools: a transparent upstream's tool may not take one of these names while they are listed. */
export const MANDATE_TOOL_NAMES = ['submit_intent', 'invoke_capability', 'read_memory', 'intervene', 'get_decision', 'submit_plan', 'list_capabilities'] as const;

export function exposeMode(config: WorkspaceConfig, server: string): ExposeMode {
  return config.upstreams[server]?.expose ?? 'prefixed';
}

/** The name the agent sees for a tool or prompt of an upstream. */
export function wireName(mode: ExposeMode, server: string, name: string): string {
  return mode === 'transparent' ? name : `${server}_${name.replace(/\./g, '_')}`;
}

export interface Collision {
  kind: 'tool' | 'prompt' | 'resource' | 'template';
  name: string;
  servers: string[];
}

/**
 * Names that two upstreams would both expose (or that a transparent
 * upstream's tool shares with one of Mandate's own tools, when those are
 * listed): a client could not tell which one it calls, so `validate` and
 * `upstream pin` refuse them.
 */
export function collisions(config: WorkspaceConfig, pins: Pick<PinRow, 'server' | 'tool'>[]): Collision[] {
  const owners = new Map<string, Set<string>>();
  const own = (key: string, server: string) => owners.set(key, (owners.get(key) ?? new Set()).add(server));
  if (config.tools.mandate_tools) for (const t of MANDATE_TOOL_NAMES) own(`tool\u0000${t}`, 'mandate');
  for (const pin of pins) {
    if (!config.upstreams[pin.server]) continue;
    const { kind, name } = parsePinKey(pin.tool);
    if (kind === 'server') continue; // every upstream has one; only one transparent upstream's is ever shown
    const mode = exposeMode(config, pin.server);
    const shown = kind === 'tool' || kind === 'prompt' ? wireName(mode, pin.server, name) : name;
    own(`${kind}\u0000${shown}`, pin.server);
  }
  const out: Collision[] = [];
  for (const [key, servers] of owners) {
    if (servers.size < 2) continue;
    const [kind, name] = key.split('\u0000') as [Collision['kind'], string];
    out.push({ kind, name, servers: [...servers].sort() });
  }
  return out.sort((a, b) => `${a.kind}${a.name}`.localeCompare(`${b.kind}${b.name}`));
}
