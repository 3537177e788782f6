import { loadWorkspace } from '../../config/load-workspace.js';
import { formatProblems } from '../../config/problems.js';
import { workspaceSchemas } from '../../policy/typecheck.js';
import { EXIT, printJson, workspaceDir } from '../common.js';

/** Checks a workspace and reports every problem with file, path and a fix hint. */
export async function validateCommand(opts: { workspace?: string; json?: boolean; cedarSchema?: boolean }): Promise<number> {
  const dir = workspaceDir(opts.workspace);
  const { workspace, problems } = await loadWorkspace(dir);
  if (opts.cedarSchema && workspace) {
    printJson(workspaceSchemas([...workspace.contracts.values()], workspace.capabilities));
    return EXIT.ok;
  }
  // Capabilities whose facts or derived values have no declared shape: their policies are not type-checked.
  const notes = (workspace?.untypedCapabilities ?? []).map((why) => `policies are not type-checked for ${why}`);
  if (opts.json) {
    printJson({ ok: problems.length === 0, problems, notes });
  } else if (workspace) {
    const policies = Object.keys(workspace.policySet.policies).length;
    process.stdout.write(
      `workspace ${dir} is valid: ${workspace.contracts.size} contracts, ${workspace.capabilities.size} capabilities, ${policies} policies, type-checked (set ${workspace.policySet.hash.slice(0, 16)}…)\n${notes.map((n) => `note: ${n}\n`).join('')}`,
    );
  } else {
    process.stderr.write(`workspace ${dir} has ${problems.length} problem(s):\n${formatProblems(problems)}\n`);
  }
  return problems.length ? EXIT.config : EXIT.ok;
}
