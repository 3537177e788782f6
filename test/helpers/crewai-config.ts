/**
 * The MCP server adapter configuration of examples/crewai/finops_crew.py, read
 * out of the file (CrewAI itself cannot be installed here), so tests start
 * Mandate exactly the way the example tells CrewAI to.
 */
import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import { CLI } from './e2e.js';
import { EXAMPLES } from './examples.js';

export const CREWAI_SCRIPT = join(EXAMPLES, 'crewai', 'finops_crew.py');
const source = readFileSync(CREWAI_SCRIPT, 'utf8');

function must(re: RegExp, what: string): RegExpExecArray {
  const m = re.exec(source);
  if (!m) throw new Error(`finops_crew.py: cannot find ${what}`);
  return m;
}

export const crewai = (() => {
  const stdio = must(/STDIO_SERVER = StdioServerParameters\(\s*command="([^"]+)",\s*args=\[([^\]]*)\]/s, 'STDIO_SERVER');
  return {
    agent: must(/^AGENT = "([a-z][a-z0-9_-]*)"$/m, 'AGENT')[1] as string,
    toolNames: [...must(/^TOOL_NAMES = \(([^)]*)\)$/m, 'TOOL_NAMES')[1]!.matchAll(/"([^"]+)"/g)].map((m) => m[1] as string),
    stdioCommand: stdio[1] as string,
    /** The args as written: string literals keep their quotes, names are bare. */
    stdioArgTokens: (stdio[2] as string).split(',').map((t) => t.trim()).filter(Boolean),
    httpUrl: must(/os\.environ\.get\("MANDATE_URL", "([^"]+)"\)/, 'the default MANDATE_URL')[1] as string,
    httpTransport: must(/"transport": "([^"]+)"/, 'the HTTP transport')[1] as string,
    httpAuth: must(/"headers": \{"Authorization": f"Bearer \{os\.environ\.get\('MANDATE_KEY'/, 'the Authorization header')[0],
  };
})();

/** The stdio args with the script's names (MANDATE_CLI, AGENT, WORKSPACE) bound to this build and `workspace`. */
export function crewaiStdioArgs(workspace: string): string[] {
  const values: Record<string, string> = { MANDATE_CLI: CLI, AGENT: crewai.agent, WORKSPACE: workspace };
  return crewai.stdioArgTokens.map((t) => (/^".*"$/.test(t) ? t.slice(1, -1) : (values[t] ?? `<unknown ${t}>`)));
}
