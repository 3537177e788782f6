import { loadSigningKey } from '../../anchor/signing-key.js';
import { loadWorkspace } from '../../config/load-workspace.js';
import { ConfigError, formatProblems, type Problem } from '../../config/problems.js';
import type { WorkspaceConfig } from '../../config/workspace-schema.js';
import { EXIT, printJson, workspaceDir } from '../common.js';

/** Checks a workspace and reports every problem with file, path and a fix hint. */
export async function validateCommand(opts: { workspace?: string; json?: boolean }): Promise<number> {
  const dir = workspaceDir(opts.workspace);
  const loaded = await loadWorkspace(dir);
  const problems = [...loaded.problems, ...(loaded.workspace ? signingProblems(loaded.workspace.config, dir) : [])];
  const workspace = problems.length ? null : loaded.workspace;
  if (opts.json) {
    printJson({ ok: problems.length === 0, problems });
  } else if (workspace) {
    const policies = Object.keys(workspace.policySet.policies).length;
    process.stdout.write(
      `workspace ${dir} is valid: ${workspace.contracts.size} contracts, ${workspace.capabilities.size} capabilities, ${policies} policies (set ${workspace.policySet.hash.slice(0, 16)}…)\n`,
    );
  } else {
    process.stderr.write(`workspace ${dir} has ${problems.length} problem(s):\n${formatProblems(problems)}\n`);
  }
  return problems.length ? EXIT.config : EXIT.ok;
}

/** The signing key must load where `serve` will look for it; a key from the environment is checked only when its variable is set here. */
function signingProblems(config: WorkspaceConfig, dir: string): Problem[] {
  const signing = config.signing;
  if (!signing || (signing.private_key_env !== undefined && !process.env[signing.private_key_env])) return [];
  try {
    loadSigningKey(signing, dir);
    return [];
  } catch (err) {
    return err instanceof ConfigError ? err.problems : [{ file: 'mandate.yaml', path: 'signing', message: (err as Error).message, hint: 'check the signing key' }];
  }
}
