import { loadWorkspace } from '../../config/load-workspace.js';
import { formatProblems } from '../../config/problems.js';
import { EXIT, printJson, workspaceDir } from '../common.js';

/** Checks a workspace and reports every problem with file, path and a fix hint. */
export async function validateCommand(opts: { workspace?: string; json?: boolean }): Promise<number> {
  const dir = workspaceDir(opts.workspace);
  const { workspace, problems } = await loadWorkspace(dir);
  if (opts.json) {
    printJson({ ok: problems.length === 0, problems });
  } else if (workspace) {
    const policies = Object.keys(workspace.policySet.policies).length;
    process.stdout.write(
      `workspace ${dir} is valid: ${workspace.contracts.size} contracts, ${workspace.capabilities.size} capabilities, ${policies} policies (set ${workspace.policySet.hash.slice(0, 16)}…)\n`,
    );
    const store = workspace.config.store;
    // The URL lives only in the environment, so its absence here is a note, not a problem of the workspace.
    if (store.kind === 'postgres') {
      process.stdout.write(`store: postgres, URL from $${store.url_env}${process.env[store.url_env] ? '' : ' (not set in this environment: serve and the CLI will exit 2 until it is)'}\n`);
    }
  } else {
    process.stderr.write(`workspace ${dir} has ${problems.length} problem(s):\n${formatProblems(problems)}\n`);
  }
  return problems.length ? EXIT.config : EXIT.ok;
}
