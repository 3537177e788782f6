/**
 * A Python with the official MCP SDK (`mcp`), for the test that drives Mandate
 * the way CrewAI's adapter does. Made at test time as a venv in
 * .cache/python-mcp from the machine's package index, with the `mcp` range the
 * CrewAI example pins (examples/crewai/requirements.txt), so the test and the
 * example cannot drift apart.
 */
import { execFileSync } from 'node:child_process';
import { existsSync, readFileSync, writeFileSync } from 'node:fs';
import { dirname, join, resolve } from 'node:path';
import { fileURLToPath } from 'node:url';

// scripts/ when run from source (tests), dist/scripts/ when built.
const HERE = dirname(fileURLToPath(import.meta.url));
const ROOT = existsSync(join(HERE, '..', 'package.json')) ? resolve(HERE, '..') : resolve(HERE, '..', '..');

/** The `mcp` requirement line of the CrewAI example, e.g. `mcp>=2.3,<2.4`. */
export function crewaiMcpRequirement(): string {
  const file = join(ROOT, 'examples', 'crewai', 'requirements.txt');
  const line = readFileSync(file, 'utf8').split('\n').map((l) => l.trim()).find((l) => /^mcp\b/.test(l));
  if (!line) throw new Error(`${file} pins no mcp version`);
  return line;
}

/** The venv's python with `mcp` importable, installed on first use; null where python3 or the package cannot be had. */
export function ensurePythonMcp(): string | null {
  const venv = join(ROOT, '.cache', 'python-mcp');
  const python = join(venv, 'bin', 'python');
  const requirement = crewaiMcpRequirement();
  const stamp = join(venv, 'requirement.txt');
  const ready = () => existsSync(stamp) && readFileSync(stamp, 'utf8') === requirement;
  if (!ready()) {
    try {
      execFileSync('python3', ['-m', 'venv', '--clear', venv], { stdio: 'ignore', timeout: 120_000 });
      // --retries 0: where only a local index is reachable, the default one fails at once instead of after minutes.
      execFileSync(python, ['-m', 'pip', 'install', '--quiet', '--retries', '0', '--disable-pip-version-check', requirement], { stdio: 'ignore', timeout: 300_000 });
      execFileSync(python, ['-c', 'import mcp'], { stdio: 'ignore', timeout: 60_000 });
      writeFileSync(stamp, requirement);
    } catch {
      return null;
    }
  }
  return ready() ? python : null;
}
