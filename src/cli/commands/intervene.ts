import { intervene, type InterventionAct } from '../../kernel/interventions.js';
import { EXIT, UsageError, operatorName, printJson, withRuntime } from '../common.js';

export interface InterveneOptions {
  workspace?: string;
  agent?: string;
  dfid?: string;
  as?: string;
  reason?: string;
  capability?: string;
  field?: string;
  max?: string;
  note?: string;
  minutes?: string;
}

/** Operator interventions from the command line; the operator's name is recorded. */
export async function interveneCommand(act: InterventionAct, opts: InterveneOptions): Promise<number> {
  const operator = operatorName(opts.as);
  if (opts.agent === undefined && opts.dfid === undefined) throw new UsageError('name a target: --agent <id>, --dfid <dfid>, or both (one agent\'s calls in that flow)');
  const minutes = opts.minutes !== undefined ? Number(opts.minutes) : undefined;
  if (minutes !== undefined && !(Number.isInteger(minutes) && minutes > 0)) throw new UsageError('--minutes must be a positive integer');
  if (act === 'constrain' && (!opts.capability || !opts.field || opts.max === undefined || !Number.isFinite(Number(opts.max)))) {
    throw new UsageError('constrain needs --capability, --field and a numeric --max');
  }
  if (act === 'redirect' && !opts.note) throw new UsageError('redirect needs --note');
  return withRuntime(opts.workspace, undefined, async ({ kernel }) => {
    const outcome = await intervene(kernel, { kind: 'operator', id: operator }, {
      act,
      // --dfid alone concerns every agent's calls in that flow; with --agent, only that agent's.
      target: opts.dfid !== undefined ? { dfid: opts.dfid, agent: opts.agent ?? '*' } : { agent: opts.agent as string },
      reason: opts.reason ?? `${act} by operator`,
      constrain: act === 'constrain' ? { capability: opts.capability as string, field: opts.field as string, max: Number(opts.max), minutes } : undefined,
      redirect: act === 'redirect' ? { note: opts.note as string, minutes } : undefined,
    });
    printJson(outcome);
    return outcome.verdict === 'accepted' ? EXIT.ok : EXIT.failed;
  });
}

export async function interventionsList(opts: { workspace?: string; json?: boolean }): Promise<number> {
  return withRuntime(opts.workspace, undefined, async ({ kernel, store }) => {
    await kernel.expireInterventions();
    const rows = await store.agents.interventions(200);
    if (opts.json) {
      printJson(rows.map((r) => ({ ...r, args: JSON.parse(r.args) as unknown })));
      return EXIT.ok;
    }
    if (!rows.length) process.stdout.write('no interventions\n');
    for (const r of rows) {
      process.stdout.write(`${new Date(r.created_at).toISOString()}  ${r.id}  ${r.act.padEnd(9)} ${r.target_kind}=${r.target}  by=${r.issued_by} (${r.issuer_role})  ${r.state}\n`);
    }
    return EXIT.ok;
  });
}
