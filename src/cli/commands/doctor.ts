import { resolve } from 'node:path';
import { loadConfig } from '../../workspace/load.js';
import { ConfigError } from '../../config/problems.js';
import type { WorkspaceConfig } from '../../config/workspace-schema.js';
import { silentLogger } from '../../core/log.js';
import { systemWorld } from '../../core/world.js';
import { Gateway, type UpstreamStatus } from '../../gateway/gateway.js';
import { probeOllama, type ProbeResult } from '../../normalize/ollama.js';
import { openStorePort } from '../../store/open.js';
import { EXIT, printJson, workspaceDir } from '../common.js';

/**
 * Checks what the workspace depends on outside Mandate:
 * - free-text intents: that the Ollama server in mandate.yaml answers
 *   (`GET /api/tags`) and that every model of the routing table is pulled;
 * - the gateway: that every upstream starts, and how its tools compare with
 *   the pins (changed or missing tools are quarantined; new ones unexposed).
 * Exit 0 when everything configured is well, 1 otherwise (also when neither a
 * normalizer nor an upstream is configured), 2 when mandate.yaml is invalid.
 */
export async function doctorCommand(opts: { workspace?: string; json?: boolean }): Promise<number> {
  const dir = workspaceDir(opts.workspace);
  const { config, problems } = loadConfig(dir);
  if (!config) throw new ConfigError(problems);
  const n = config.normalizer;
  const upstreams = await upstreamStates(dir, config);
  const upstreamsOk = upstreams.every(healthy);
  const hasUpstreams = upstreams.length > 0;

  if (!n) {
    const ok = hasUpstreams && upstreamsOk;
    if (opts.json) printJson({ ok, normalizer: null, upstreams });
    else {
      process.stdout.write(
        'normalizer: not configured in mandate.yaml\n' +
          '  free-text intents (submit_intent with `text`) are refused with NORMALIZER_UNAVAILABLE; structured intents are unaffected.\n' +
          '  to enable them, add a `normalizer:` block (see docs/guides/free-text-intents.md) and run `mandate doctor` again.\n' +
          upstreamReport(upstreams),
      );
    }
    return ok ? EXIT.ok : EXIT.failed;
  }
  const probe = await probeOllama(n);
  const ok = probe.ok && upstreamsOk;
  if (opts.json) {
    printJson({ ...probe, ok, normalizer: { route: n.route, challenger: n.challenger }, upstreams });
    return ok ? EXIT.ok : EXIT.failed;
  }
  process.stdout.write(report(probe, n.challenger.enabled) + upstreamReport(upstreams));
  return ok ? EXIT.ok : EXIT.failed;
}

/** Starts every upstream once (ignoring backoff), compares its tools with the pins, and stops it again. */
async function upstreamStates(dir: string, config: WorkspaceConfig): Promise<UpstreamStatus[]> {
  if (!Object.keys(config.upstreams).length) return [];
  const store = await openStorePort({ config, storePath: config.store.kind === 'postgres' ? '' : resolve(dir, config.store.path) }, systemWorld);
  const gateway = new Gateway({ config, workspaceDir: dir, capabilities: new Map(), store, world: systemWorld, log: silentLogger });
  try {
    await gateway.refresh();
    return await gateway.status({ start: true });
  } finally {
    await gateway.close();
    await store.close();
  }
}

function healthy(u: UpstreamStatus): boolean {
  return u.state === 'ready' && !u.missing_env.length && u.pinned > 0 && !u.changed.length && !u.missing.length && !u.problems.length;
}

function upstreamReport(list: UpstreamStatus[]): string {
  if (!list.length) return 'upstreams: none configured\n';
  const lines: string[] = [];
  for (const u of list) {
    const running = u.state === 'ready';
    lines.push(`upstream ${u.name} (${u.transport}: ${u.target}): ${running ? `running, ${u.live} definition(s) listed, ${u.pinned} pinned` : `${u.state.toUpperCase()}: ${u.error ?? 'not started'}`}`);
    if (u.missing_env.length) lines.push(`  missing environment: ${u.missing_env.join(', ')}\n  fix: set them in the environment of mandate (never in mandate.yaml)`);
    if (running && u.revision && u.pinned_revision && u.revision !== u.pinned_revision) lines.push(`  speaks MCP ${u.revision}, pinned speaking ${u.pinned_revision}: its identity (server:info) changed`);
    if (u.changed.length) lines.push(`  CHANGED since pinned (quarantined: calls get UPSTREAM_TOOL_CHANGED): ${u.changed.join(', ')}`);
    if (u.missing.length) lines.push(`  pinned but no longer offered (quarantined): ${u.missing.join(', ')}`);
    if (u.unpinned.length) lines.push(`  new, not pinned (not exposed): ${u.unpinned.join(', ')}`);
    for (const p of u.problems) lines.push(`  cannot expose: ${p}`);
    if (running && !u.pinned) lines.push(`  nothing pinned: no tool of ${u.name} is exposed`);
    if (running && (u.changed.length || u.missing.length || u.unpinned.length || !u.pinned)) lines.push(`  fix: review the tools, then \`mandate upstream pin --server ${u.name}\``);
    if (!running && u.stderr_tail.trim()) lines.push(`  its stderr ended with:\n${indent(u.stderr_tail.trim().split('\n').slice(-3).join('\n'))}`);
    lines.push(`  ${healthy(u) ? 'ok' : 'not ok'}`);
  }
  return `${lines.join('\n')}\n`;
}

function indent(text: string): string {
  return text
    .split('\n')
    .map((l) => `    ${l}`)
    .join('\n');
}

function report(p: ProbeResult, challenger: boolean): string {
  const lines: string[] = [];
  lines.push(`ollama: ${p.host} ${p.reachable ? `reachable, ${p.models.length} model(s) pulled` : `UNREACHABLE: ${p.error ?? 'unknown error'}`}`);
  for (const r of p.routes) {
    const state = !p.reachable ? 'unknown' : r.pulled ? 'pulled' : 'MISSING';
    const use = r.used_by.length ? `  (used by ${r.used_by.join(', ')})` : '';
    lines.push(`route ${r.route} -> ${r.model}: ${state}${use}${p.reachable && !r.pulled ? `\n  fix: ollama pull ${r.model}` : ''}`);
  }
  lines.push(`challenger: ${challenger ? 'enabled' : 'off'}`);
  if (!p.reachable) lines.push('fix: start Ollama (`ollama serve`) or correct normalizer.host in mandate.yaml');
  lines.push(p.ok ? 'ok: free-text intents can be normalised' : 'not ok: free-text intents will be refused with NORMALIZER_UNAVAILABLE until this is fixed');
  return `${lines.join('\n')}\n`;
}
