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
import type { PinRow } from '../store/pins.js';
import type { StorePort } from '../store/port.js';
import { JsonSchemaParams } from '../capabilities/json-schema.js';
import { upstreamCapability } from './capability.js';
import { definitionOf, unsupported } from './definition.js';
import { missingVariables, type Environment } from './secrets.js';
import { Upstream, type UpstreamState } from './upstream.js';

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
}

/** Largest message a stdio upstream may send: the biggest output cap, with room for JSON-RPC and base64. */
const MIN_MESSAGE_BYTES = 4 * 1_048_576;

export class Gateway {
  readonly upstreams = new Map<string, Upstream>();
  private generation: string | null = null;
  private readonly listeners = new Set<() => void>();
  private problems = new Map<string, string[]>();

  constructor(private readonly deps: GatewayDeps) {
    const { config } = deps;
    for (const [name, upstream] of Object.entries(config.upstreams)) {
      const deadlineMs = upstream.deadline_ms ?? config.limits.default_deadline_ms;
      const maxOutput = upstream.max_output_bytes ?? config.limits.default_max_output_bytes;
      this.upstreams.set(
        name,
        new Upstream({ name, config: upstream, workspaceDir: deps.workspaceDir, env: deps.env ?? process.env, log: deps.log, deadlineMs, maxMessageBytes: Math.max(MIN_MESSAGE_BYTES, maxOutput * 2) }),
      );
    }
  }

  /** Rebuilds the upstream capabilities from the pins if they changed since the last look; true if they did. */
  async refresh(): Promise<boolean> {
    const generation = await this.deps.store.pins.generation();
    if (generation === this.generation) return false;
    const first = this.generation === null;
    this.generation = generation;
    await this.load();
    if (!first) for (const listener of this.listeners) listener();
    return true;
  }

  /** Called after the exposed upstream tools changed (a re-pin seen by refresh). */
  onChange(listener: () => void): () => void {
    this.listeners.add(listener);
    return () => this.listeners.delete(listener);
  }

  private async load(): Promise<void> {
    const { capabilities, config, log } = this.deps;
    for (const [id, cap] of capabilities) if (cap.upstream) capabilities.delete(id);
    this.problems = new Map();
    for (const pin of await this.deps.store.pins.list()) {
      const upstream = this.upstreams.get(pin.server);
      if (!upstream) continue; // pinned once, no longer configured: not exposed
      const cfg = config.upstreams[pin.server];
      if (!cfg) continue;
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
      const before = new Map((await store.pins.list(name)).map((p) => [p.tool, p.hash]));
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
            data: { upstream: name, tools: rows.map((r) => ({ tool: r.tool, hash: r.hash })), added: report.added, changed: report.changed, removed: report.removed },
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
      const live = new Map(upstream.liveTools().map((t) => [t.tool.name, t.hash]));
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
      });
    }
    return out;
  }

  async close(): Promise<void> {
    await Promise.all([...this.upstreams.values()].map((u) => u.close()));
  }
}

function schemaProblem(schema: Record<string, unknown>): string | null {
  const compiled = JsonSchemaParams.compile(schema);
  return compiled.ok ? null : `its input schema cannot be used: ${compiled.message}`;
}
