import { resolve } from 'node:path';
import { requireWorkspace } from '../../workspace/load.js';
import { pinnedToolTypes } from '../../gateway/capability.js';
import { policyImpact, type ImpactReport } from '../../kernel/impact.js';
import { PolicyEngine } from '../../policy/engine.js';
import { EXIT, printJson, UsageError, withRuntime } from '../common.js';

export interface ImpactOptions {
  workspace?: string;
  proposed?: string;
  since?: string;
  agent?: string;
  capability?: string;
  json?: boolean;
  allowChanges?: boolean;
}

const UNIT_MS: Record<string, number> = { m: 60_000, h: 3_600_000, d: 86_400_000 };

/** `--since`: an ISO 8601 time, or a duration back from now (`90m`, `24h`, `7d`). */
export function sinceOf(text: string | undefined, now: number): number | undefined {
  if (text === undefined) return undefined;
  const d = /^(\d{1,6})([mhd])$/.exec(text);
  if (d) return now - Number(d[1]) * (UNIT_MS[d[2] as string] as number);
  const t = Date.parse(text);
  if (!Number.isFinite(t)) throw new UsageError('--since must be an ISO 8601 time or a duration such as 24h or 7d');
  return t;
}

/**
 * `mandate policy impact --proposed <dir>`: which past decisions the proposed
 * contracts and policies would have decided otherwise (ADR-023). Exit 0 when
 * none would change, 1 when some would (unless --allow-changes) or when a
 * stored input does not match the ledger, 2 when the proposed workspace does
 * not load.
 */
export async function policyImpactCommand(opts: ImpactOptions): Promise<number> {
  if (!opts.proposed) throw new UsageError('give --proposed <dir>: the workspace with the contracts and policies you propose');
  const proposedDir = resolve(opts.proposed);
  return withRuntime(opts.workspace, undefined, async (rt) => {
    const pins = (await rt.store.pins.list()).filter((p) => rt.workspace.config.upstreams[p.server]);
    const proposed = await requireWorkspace(proposedDir, { pinnedTools: (config) => pinnedToolTypes(pins, config) });
    const since = sinceOf(opts.since, rt.kernel.deps.world.now());
    const report = await policyImpact(rt.store, { contracts: rt.workspace.contracts, engine: rt.kernel.policy }, { contracts: proposed.contracts, engine: new PolicyEngine(proposed.policySet) }, { since, agent: opts.agent, capability: opts.capability });
    if (opts.json) printJson({ proposed: proposedDir, since: since === undefined ? null : new Date(since).toISOString(), policy_set_hash: { current: rt.kernel.policy.set.hash, proposed: proposed.policySet.hash }, ...report });
    else process.stdout.write(describe(report, since));
    if (report.untrusted.length) return EXIT.failed;
    return report.changed && !opts.allowChanges ? EXIT.failed : EXIT.ok;
  });
}

function describe(r: ImpactReport, since: number | undefined): string {
  const amounts = (a: Record<string, number>) => Object.entries(a).map(([f, n]) => `${f} ${n}`).join(', ');
  const lines = [`replayed ${r.replayed} decisions${since === undefined ? '' : ` since ${new Date(since).toISOString()}`}: ${r.changed} would change, ${r.unchanged} would not`];
  for (const g of r.groups) {
    for (const [change, t] of Object.entries(g.changes)) lines.push(`  ${g.agent} ${g.capability}: ${change} ${t.count}${Object.keys(t.amounts).length ? ` (${amounts(t.amounts)})` : ''}`);
  }
  for (const f of r.flips) lines.push(`    ${f.at} ${f.decision_id} ${f.from}→${f.to}${f.after.policies.length ? ` by ${f.after.policies.join(', ')}` : ''}${f.after.reasons.length ? ` [${f.after.reasons.join(', ')}]` : ''}`);
  for (const u of r.untrusted) lines.push(`  NOT REPLAYED ${u.decision_id}: ${u.why}`);
  return `${lines.join('\n')}\n`;
}
