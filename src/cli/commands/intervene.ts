import { intervene, type InterventionAct } from '../../kernel/interventions.js';
import { EXIT, operatorName, printJson, withRuntime } from '../common.js';

export async function interveneCommand(act: InterventionAct, opts: { workspace?: string; agent: string; as?: string; reason?: string }): Promise<number> {
  const operator = operatorName(opts.as);
  return withRuntime(opts.workspace, undefined, ({ kernel }) => {
    const outcome = intervene(kernel, { kind: 'operator', id: operator }, act, opts.agent, opts.reason ?? `${act} by operator`);
    printJson(outcome);
    return outcome.verdict === 'accepted' ? EXIT.ok : EXIT.failed;
  });
}
