import type { CheckResult } from '../../kernel/check.js';
import { EXIT, operatorName, printJson, UsageError, withRuntime } from '../common.js';

export interface CheckOptions {
  workspace?: string;
  agent?: string;
  capability?: string;
  params?: string;
  at?: string;
  as?: string;
  json?: boolean;
}

/**
 * `mandate check`: would this call be allowed? The pipeline up to the effect,
 * with no effect and no key reserved; recorded as a check (a `PolicyChecked`
 * event), never a decision. Exit 0 when it would be accepted, 1 when it would
 * be refused or escalated.
 */
export async function checkCommand(opts: CheckOptions): Promise<number> {
  if (!opts.agent || !opts.capability) throw new UsageError('give --agent <id> and --capability <id>');
  let params: unknown = {};
  if (opts.params !== undefined) {
    try {
      params = JSON.parse(opts.params);
    } catch {
      throw new UsageError('--params must be a JSON object, e.g. \'{"amount_minor": 1550}\'');
    }
    if (params === null || typeof params !== 'object' || Array.isArray(params)) throw new UsageError('--params must be a JSON object');
  }
  const at = opts.at === undefined ? undefined : Date.parse(opts.at);
  if (at !== undefined && !Number.isFinite(at)) throw new UsageError('--at must be an ISO 8601 time, e.g. 2026-12-06T09:00:00Z');
  const by = `operator:${operatorName(opts.as)}`;
  const { agent, capability } = opts;
  return withRuntime(opts.workspace, undefined, async ({ kernel }) => {
    const result = await kernel.check({ agent, capability, params, at, by });
    if (opts.json) printJson(result);
    else process.stdout.write(describe(result));
    return result.verdict === 'accepted' ? EXIT.ok : EXIT.failed;
  });
}

function describe(r: CheckResult): string {
  const lines = [`${r.agent} → ${r.capability ?? '(none)'} as of ${r.as_of}: would be ${r.verdict}${r.reasons.length ? ` (${r.reasons.join(', ')})` : ''}`];
  for (const d of r.details) lines.push(`  ${d.code}${d.path ? ` at ${d.path}` : ''}: ${d.message}`);
  if (r.policies.length) lines.push(`  policies: ${r.policies.join(', ')}`);
  if (r.escalation) {
    const a = r.escalation.approvers;
    const who = ['an operator', ...a.supervisors.map((s) => `supervisor ${s}`), ...(a.client ? ["the user in the agent's client"] : [])];
    lines.push(`  would wait up to ${r.escalation.expires_in_minutes} min for ${who.join(' or ')}: ${r.escalation.reasons.join('; ')}`);
  }
  if (r.values) lines.push(`  values: ${JSON.stringify(r.values)}`);
  if (r.facts) lines.push(`  facts: ${JSON.stringify(r.facts)}`);
  lines.push(`  recorded as check ${r.check_id} (policy set ${r.policy_set_hash.slice(0, 16)}…)`);
  return `${lines.join('\n')}\n`;
}
