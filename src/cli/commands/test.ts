import { formatResults, runContractTests } from '../contract-tests.js';
import { EXIT, printJson, workspaceDir } from '../common.js';

/** `mandate test`: exit 0 when every case gets its expected verdict, 1 when one does not, 2 on a broken workspace or test file. */
export async function testCommand(opts: { workspace?: string; json?: boolean; filter?: string }): Promise<number> {
  const results = await runContractTests(workspaceDir(opts.workspace), opts.filter);
  const ok = results.every((r) => r.ok);
  if (opts.json) printJson({ ok, results });
  else process.stdout.write(formatResults(results));
  return ok ? EXIT.ok : EXIT.failed;
}
