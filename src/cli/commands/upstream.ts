import type { PinReport } from '../../gateway/gateway.js';
import { EXIT, operatorName, printJson, UsageError, withRuntime } from '../common.js';

export interface PinOptions {
  workspace?: string;
  server?: string;
  as?: string;
  dryRun?: boolean;
  json?: boolean;
}

/**
 * `mandate upstream pin`: starts each upstream (or --server), lists its tools
 * and records the definition hash of every one as accepted by this operator.
 * Tools that changed since the last pin leave quarantine; new ones become
 * exposed; tools no longer offered are unpinned. Exit 0 if every upstream was
 * pinned, 1 if one could not be reached, 2 for an unknown --server.
 */
export async function upstreamPin(opts: PinOptions): Promise<number> {
  const by = operatorName(opts.as);
  return withRuntime(opts.workspace, undefined, async (rt) => {
    if (opts.server !== undefined && !rt.gateway.upstreams.has(opts.server)) {
      throw new UsageError(`no upstream \`${opts.server}\` in mandate.yaml (configured: ${[...rt.gateway.upstreams.keys()].join(', ') || 'none'})`);
    }
    if (!rt.gateway.upstreams.size) throw new UsageError('no upstreams configured in mandate.yaml (add an `upstreams:` block)');
    const reports = await rt.gateway.pin({ server: opts.server, by, dryRun: opts.dryRun === true });
    if (opts.json) printJson({ reports });
    else process.stdout.write(reports.map(describe).join(''));
    return reports.every((r) => r.ok) ? EXIT.ok : EXIT.failed;
  });
}

function describe(r: PinReport): string {
  if (!r.ok) return `upstream ${r.server}: NOT PINNED: ${r.error ?? 'unknown error'}\n`;
  const lines = [`upstream ${r.server}: ${r.dry_run ? 'would pin' : 'pinned'} ${r.added.length + r.changed.length + r.unchanged.length} definition(s) (tools, resources, templates, prompts)${r.receipt ? ` (ledger seq ${r.receipt.seq})` : ''}`];
  if (r.revision) lines.push(`  speaks MCP ${r.revision}${r.revision_before && r.revision_before !== r.revision ? ` (it spoke ${r.revision_before} when last pinned)` : ''}`);
  if (r.added.length) lines.push(`  new: ${r.added.join(', ')}`);
  if (r.changed.length) lines.push(`  changed (re-pinned, out of quarantine): ${r.changed.join(', ')}`);
  if (r.removed.length) lines.push(`  no longer offered (unpinned): ${r.removed.join(', ')}`);
  if (r.unchanged.length) lines.push(`  unchanged: ${r.unchanged.length}`);
  for (const s of r.skipped) lines.push(`  skipped ${s.tool}: ${s.why}`);
  return `${lines.join('\n')}\n`;
}
