/**
 * The gateway (ADR-008): the upstream MCP servers of `mandate.yaml`, and
 * their pinned tools as capabilities in the workspace's capability map.
 *
 * - Capabilities come from the pins in the store, not from a running
 *   upstream, so `tools/list` never starts one and a tool nobody pinned is
 *   never exposed.
 * - `pin` (the CLI's `mandate upstream pin`, later the operator API) records
 *   what each upstream lists now, with an `UpstreamPinned` ledger event.
 * - `refresh` picks up pins written by another process (a serving process
 *   polls it), so a re-pin takes effect without a restart.
 */
import type { Capability } from '../capabilities/manifest.js';
import type { WorkspaceConfig } from '../config/workspace-schema.js';
import type { Logger } from '../core/log.js';
import type { Receipt } from '../core/types.js';
import type { World } from '../core/world.js';
import type { PinRow } from '../store/port/index.js';
import type { StorePort } from '../store/port/index.js';
import { JsonSchemaParams } from '../capabilities/json-schema.js';
import { hashOf } from '../core/canonical.js';
import { upstreamCapability } from './capability.js';
import { UriTemplate } from '@modelcontextprotocol/client';
import type { ReadyResult } from '../capabilities/manifest.js';
import { definitionOf, parsePinKey, pinKey, unsupported, type PrimitiveDefinition, type PrimitiveKind, type ServerIdentity } from './definition.js';
import { collisions } from './exposure.js';
import { LIST_KINDS, listOf, listSignatures, type ListKind } from './listing.js';
import { missingVariables, type Environment } from './secrets.js';
import type { Tracer } from '../telemetry/port.js';
import { GatewaySessions } from './sessions.js';
import { Upstream, type UpstreamState } from './upstream.js';

/** A pinned resource, resource template or prompt of an upstream (ADR-013). */
export interface PinnedPrimitive {
  server: string;
  kind: PrimitiveKind;
  name: string;
  key: string;
  hash: string;
  definition: PrimitiveDefinition;
}

export interface GatewayDeps {
  config: WorkspaceConfig;
  workspaceDir: string;
  /** The workspace's capability map: pinned upstream tools are added to it and kept current. */
  capabilities: Map<string, Capability>;
  store: StorePort;
  world: World;
  log: Logger;
  /** Where `{ from_env }` values are read (default: process.env). */
  env?: Environment;
  /** Client spans for upstream calls (ADR-026); absent: none. */
  tracer?: Tracer | undefined;
}

export interface PinReport {
  server: string;
  ok: boolean;
  error?: string;
  dry_run: boolean;
  added: string[];
  changed: string[];
  removed: string[];
  unchanged: string[];
  skipped: { tool: string; why: string }[];
  receipt: Receipt | null;
  /** The MCP revision the upstream speaks now, and the one its previous pin recorded (null: none, or a pin from before revisions were recorded). */
  revision?: string | null;
  revision_before?: string | null;
}

export interface UpstreamStatus {
  name: string;
  transport: 'stdio' | 'http';
  target: string;
  state: UpstreamState;
  starts: number;
  crashes: number;
  error: string | null;
  missing_env: string[];
  pinned: number;
  /** Tools the upstream lists now (null when it is not running). */
  live: number | null;
  /** Pinned tools whose live definition differs: quarantined. */
  changed: string[];
  /** Listed now but never pinned: not exposed. */
  unpinned: string[];
  /** Pinned but no longer listed: quarantined. */
  missing: string[];
  /** Pinned tools that cannot be exposed (their schema cannot be compiled). */
  problems: string[];
  stderr_tail: string;
  /** The MCP revision the running upstream speaks (null when it is not running), and the one pinned (null: none recorded). */
  revision: string | null;
  pinned_revision: string | null;
}

/** Largest message a stdio upstream may send: the biggest output cap, with room for JSON-RPC and base64. */
const MIN_MESSAGE_BYTES = 4 * 1_048_576;

export class Gateway {
  readonly upstreams = new Map<string, Upstream>();
  /** The agents' sessions, for what upstreams send outside a single call (ADR-013). */
  readonly sessions: GatewaySessions;
  private catalog: PinnedPrimitive[] = [];
  private generation: string | null = null;
  private readonly listeners = new Set<(changed: ReadonlySet<ListKind>) => void>();
  /** The pinned lists as last loaded, to tell which of them a re-pin changed. */
  private pinned: Record<ListKind, string> | null = null;
  private problems = new Map<string, string[]>();

  constructor(private readonly deps: GatewayDeps) {
    const { config } = deps;
    this.sessions = new GatewaySessions(this.upstreams, deps.log);
    for (const [name, upstream] of Object.entries(config.upstreams)) {
      const deadlineMs = upstream.deadline_ms ?? config.limits.default_deadline_ms;
      const maxOutput = upstream.max_output_bytes ?? config.limits.default_max_output_bytes;
      this.upstreams.set(
        name,
        new Upstream({
          name,
          config: upstream,
          workspaceDir: deps.workspaceDir,
          env: deps.env ?? process.env,
          log: deps.log,
          deadlineMs,
          maxMessageBytes: Math.max(MIN_MESSAGE_BYTES, maxOutput * 2),
          events: this.sessions,
          tracer: deps.tracer,
        }),
      );
    }
  }

  /** A live reload's new capability map: the pinned upstream tools are added to it, and kept current there from now on. */
  async rebind(capabilities: Map<string, Capability>): Promise<void> {
    this.deps.capabilities = capabilities;
    await this.load();
  }

  /** Rebuilds the upstream capabilities from the pins if they changed since the last look; true if they did. */
  async refresh(): Promise<boolean> {
    const generation = await this.deps.store.pins.generation();
    if (generation === this.generation) return false;
    const first = this.generation === null;
    this.generation = generation;
    const before = this.pinned;
    await this.load();
    const after = this.pinned as Record<ListKind, string> | null;
    const changed = new Set(LIST_KINDS.filter((k) => before && after && before[k] !== after[k]));
    if (!first && changed.size) for (const listener of this.listeners) listener(changed);
    return true;
  }

  /** Called after a re-pin seen by refresh changed what is listed: with the lists (tools, resources, prompts) it changed. */
  onChange(listener: (changed: ReadonlySet<ListKind>) => void): () => void {
    this.listeners.add(listener);
    return () => this.listeners.delete(listener);
  }

  private async load(): Promise<void> {
    const { capabilities, config, log } = this.deps;
    for (const [id, cap] of capabilities) if (cap.upstream) capabilities.delete(id);
    this.problems = new Map();
    this.catalog = [];
    const pins = await this.deps.store.pins.list();
    this.pinned = listSignatures(pins.filter((p) => this.upstreams.has(p.server) && config.upstreams[p.server]).map((p) => ({ list: listOf(parsePinKey(p.tool).kind), key: `${p.server}\u0000${p.tool}`, hash: p.hash })));
    for (const pin of pins) {
      const upstream = this.upstreams.get(pin.server);
      if (!upstream) continue; // pinned once, no longer configured: not exposed
      const cfg = config.upstreams[pin.server];
      if (!cfg) continue;
      const { kind, name } = parsePinKey(pin.tool);
      if (kind !== 'tool') {
        this.catalog.push({ server: pin.server, kind, name, key: pin.tool, hash: pin.hash, definition: pin.definition as unknown as PrimitiveDefinition });
        continue;
      }
      const built = upstreamCapability(pin, upstream, cfg, {
        deadlineMs: cfg.deadline_ms ?? config.limits.default_deadline_ms,
        maxOutputBytes: cfg.max_output_bytes ?? config.limits.default_max_output_bytes,
      });
      if (!built.ok) {
        this.problems.set(pin.server, [...(this.problems.get(pin.server) ?? []), built.message]);
        log.warn({ upstream: pin.server, tool: pin.tool }, 'pinned tool cannot be exposed');
        continue;
      }
      if (capabilities.has(built.capability.def.id)) continue; // a module owns the id (validate refuses the clash)
      capabilities.set(built.capability.def.id, built.capability);
    }
  }

  /**
   * The pinned identity (serverInfo, instructions) of the upstream an agent
   * would take Mandate for: the only upstream, when it is transparent.
   */
  transparentIdentity(): ServerIdentity | null {
    const names = Object.keys(this.deps.config.upstreams);
    if (names.length !== 1 || this.deps.config.upstreams[names[0] as string]?.expose !== 'transparent') return null;
    const pin = this.catalog.find((p) => p.kind === 'server' && p.server === names[0]);
    return pin ? (pin.definition as ServerIdentity) : null;
  }

  /** The pinned resources, resource templates and prompts of every configured upstream. */
  primitives(kind?: PrimitiveKind): PinnedPrimitive[] {
    return kind ? this.catalog.filter((p) => p.kind === kind) : this.catalog;
  }

  /**
   * The upstream that serves a resource URI: the one that pinned it as a
   * resource, else the one with a pinned template it matches, else, among
   * `candidates` (the upstreams the agent's grants cover it for), the only one.
   */
  resourceOwner(uri: string, candidates: string[]): { server: string; pin: PinnedPrimitive | null } | null {
    const exact = this.catalog.find((p) => p.kind === 'resource' && p.name === uri);
    if (exact) return { server: exact.server, pin: exact };
    const template = this.catalog.find((p) => p.kind === 'template' && templateMatches(p.name, uri));
    if (template) return { server: template.server, pin: template };
    const servers = [...new Set(candidates)].filter((s) => this.upstreams.has(s));
    return servers.length === 1 ? { server: servers[0] as string, pin: null } : null;
  }

  /**
   * Before a primitive is used: starts its upstream (lazily) and refuses a
   * pinned primitive whose live definition changed or vanished
   * (UPSTREAM_TOOL_CHANGED, a quarantine like a tool's).
   */
  async ready(server: string, pin: PinnedPrimitive | null, signal: AbortSignal): Promise<ReadyResult> {
    const upstream = this.upstreams.get(server);
    if (!upstream) return { ok: false, code: 'UPSTREAM_UNAVAILABLE', message: `no upstream \`${server}\`` };
    const started = await upstream.start({ signal });
    if (!started.ok) return { ok: false, code: 'UPSTREAM_UNAVAILABLE', message: started.message };
    if (!pin) return { ok: true };
    const live = upstream.livePrimitiveHash(pin.key);
    const repin = `an operator re-pins it (\`mandate upstream pin --server ${server}\`)`;
    if (live === undefined) return { ok: false, code: 'UPSTREAM_TOOL_CHANGED', message: `upstream \`${server}\` no longer lists the ${pin.kind} \`${pin.name}\`; it stays quarantined until ${repin}` };
    if (live !== pin.hash) return { ok: false, code: 'UPSTREAM_TOOL_CHANGED', message: `the definition of the ${pin.kind} \`${pin.name}\` of \`${server}\` changed since it was pinned; it is quarantined until ${repin}` };
    if (upstream.saturated()) return { ok: false, code: 'UPSTREAM_UNAVAILABLE', message: `upstream \`${server}\` is busy: every slot and the queue are taken`, load: true };
    return { ok: true };
  }

  /**
   * Pins what each upstream (or the one named) lists now: the definition and
   * hash of each tool it offers, replacing its earlier pins. Tools Mandate
   * cannot expose are skipped and reported. `dryRun` reports without writing.
   * One `UpstreamPinned` event per upstream records the tool names and hashes.
   */
  async pin(opts: { server?: string | undefined; by: string; dryRun?: boolean }): Promise<PinReport[]> {
    const { store, world } = this.deps;
    const names = opts.server !== undefined ? [opts.server] : [...this.upstreams.keys()];
    const reports: PinReport[] = [];
    for (const name of names) {
      const report: PinReport = { server: name, ok: false, dry_run: opts.dryRun === true, added: [], changed: [], removed: [], unchanged: [], skipped: [], receipt: null };
      reports.push(report);
      const upstream = this.upstreams.get(name);
      if (!upstream) {
        report.error = `no upstream \`${name}\` in mandate.yaml (configured: ${[...this.upstreams.keys()].join(', ') || 'none'})`;
        continue;
      }
      const started = await upstream.start({ force: true });
      if (!started.ok) {
        report.error = started.message;
        continue;
      }
      try {
        await upstream.refreshTools();
      } catch (err) {
        report.error = `upstream \`${name}\` did not list its tools: ${(err as Error).message}`;
        continue;
      }
      const now = world.now();
      const rows: Omit<PinRow, 'server'>[] = [];
      for (const { tool, hash } of upstream.liveTools()) {
        const why = unsupported(tool) ?? schemaProblem(tool.inputSchema as Record<string, unknown>);
        if (why) report.skipped.push({ tool: tool.name, why });
        else rows.push({ tool: tool.name, hash, definition: definitionOf(tool), pinned_at: now, pinned_by: opts.by });
      }
      for (const p of upstream.livePrimitives()) {
        rows.push({ tool: pinKey(p.kind, p.name), hash: p.hash, definition: p.definition as unknown as PinRow['definition'], pinned_at: now, pinned_by: opts.by });
      }
      // Two upstreams exposing one name would be indistinguishable to a client: refused before anything is written.
      const others = (await store.pins.list()).filter((p) => p.server !== name);
      const clash = collisions(this.deps.config, [...others, ...rows.map((r) => ({ server: name, tool: r.tool }))]).filter((c) => c.servers.includes(name));
      if (clash.length) {
        report.error = `upstream \`${name}\` would expose names another upstream (or Mandate) already uses: ${clash.map((c) => `${c.kind} \`${c.name}\` (${c.servers.join(', ')})`).join('; ')}; set \`expose: prefixed\` on one of them`;
        continue;
      }
      const pinned = await store.pins.list(name);
      const before = new Map(pinned.map((p) => [p.tool, p.hash]));
      report.revision = upstream.revision;
      report.revision_before = pinnedRevision(pinned);
      for (const r of rows) {
        const old = before.get(r.tool);
        (old === undefined ? report.added : old === r.hash ? report.unchanged : report.changed).push(r.tool);
      }
      report.removed = [...before.keys()].filter((t) => !rows.some((r) => r.tool === t));
      report.ok = true;
      if (opts.dryRun) continue;
      const r = await store.commit([
        { op: 'pins.replace', server: name, rows },
        {
          op: 'event',
          event: {
            dfid: world.newTraceId(),
            agent: `operator:${opts.by}`,
            type: 'UpstreamPinned',
            data: {
              upstream: name,
              tools: rows.map((r) => ({ tool: ledgerKey(r.tool), hash: r.hash })),
              added: report.added.map(ledgerKey),
              changed: report.changed.map(ledgerKey),
              removed: report.removed.map(ledgerKey),
              revision: report.revision,
            },
          },
        },
      ]);
      report.receipt = r.ok ? (r.receipts[0] ?? null) : null;
    }
    await this.refresh();
    return reports;
  }

  /**
   * Every upstream's state, for `mandate doctor`. With `start`, each one is
   * started (ignoring its backoff) so that its live tools can be compared
   * with the pins.
   */
  async status(opts: { start: boolean }): Promise<UpstreamStatus[]> {
    const env = this.deps.env ?? process.env;
    const out: UpstreamStatus[] = [];
    for (const [name, upstream] of this.upstreams) {
      const cfg = upstream.config;
      if (opts.start) await upstream.start({ force: true });
      const pins = await this.deps.store.pins.list(name);
      const running = upstream.state === 'ready';
      const live = new Map([...upstream.liveTools().map((t) => [t.tool.name, t.hash] as const), ...upstream.livePrimitives().map((p) => [pinKey(p.kind, p.name), p.hash] as const)]);
      out.push({
        name,
        transport: cfg.command !== undefined ? 'stdio' : 'http',
        target: cfg.command !== undefined ? [cfg.command, ...cfg.args].join(' ') : (cfg.url as string),
        state: upstream.state,
        starts: upstream.starts,
        crashes: upstream.crashes,
        error: upstream.lastError,
        missing_env: [...missingVariables(cfg.env, env), ...missingVariables(cfg.headers, env)],
        pinned: pins.length,
        live: running ? live.size : null,
        changed: running ? pins.filter((p) => live.has(p.tool) && live.get(p.tool) !== p.hash).map((p) => p.tool) : [],
        unpinned: running ? [...live.keys()].filter((t) => !pins.some((p) => p.tool === t)) : [],
        missing: running ? pins.filter((p) => !live.has(p.tool)).map((p) => p.tool) : [],
        problems: this.problems.get(name) ?? [],
        stderr_tail: upstream.stderrTail,
        revision: running ? upstream.revision : null,
        pinned_revision: pinnedRevision(pins),
      });
    }
    return out;
  }

  async close(): Promise<void> {
    await Promise.all([...this.upstreams.values()].map((u) => u.close()));
  }
}

/** The revision an upstream's pinned identity records (ADR-027). */
function pinnedRevision(pins: Pick<PinRow, 'tool' | 'definition'>[]): string | null {
  const identity = pins.find((p) => p.tool === pinKey('server', 'info'))?.definition as ServerIdentity | undefined;
  return identity?.protocolVersion ?? null;
}

/** A pin's key as the ledger records it: a resource's URI (which may name a file or a record) only as a hash. */
function ledgerKey(key: string): string {
  const { kind, name } = parsePinKey(key);
  return kind === 'resource' ? `resource:sha256:${hashOf(name)}` : key;
}

/** Whether a URI is one a (RFC 6570) URI template describes. */
function templateMatches(template: string, uri: string): boolean {
  try {
    return new UriTemplate(template).match(uri) !== null;
  } catch {
    return false;
  }
}

function schemaProblem(schema: Record<string, unknown>): string | null {
  const compiled = JsonSchemaParams.compile(schema);
  return compiled.ok ? null : `its input schema cannot be used: ${compiled.message}`;
}
