/**
 * The CLI's --help texts, walked command by command through the built CLI:
 * one wording for the options every command shares, defaults shown as they
 * are typed, and descriptions that say what the code and the docs say.
 */
import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import { beforeAll, describe, expect, it } from 'vitest';
import { cliTree } from './helpers/cli-tree.js';
import { E2E, REPO_ROOT, runCli } from './helpers/e2e.js';

/** Every command path (`''` is the program itself), each with its --help text. */
const helps = new Map<string, string>();

/** The help text of one option (its flags through to the next option), on one line. */
function optionHelp(help: string, flag: string): string | undefined {
  const block = help.split('\nOptions:\n')[1] ?? '';
  const at = block.search(new RegExp(`^ {2}(-\\w, )?${flag}(?=[ ,])`, 'm'));
  if (at < 0) return undefined;
  const rest = block.slice(at).split('\n');
  // Continuation lines are indented past the flags column.
  const more = rest.slice(1).findIndex((l) => !/^ {10,}\S/.test(l));
  const lines = rest.slice(0, 1 + (more < 0 ? rest.length - 1 : more));
  return lines.map((l) => l.trim()).join(' ').replace(/\s+/g, ' ');
}

beforeAll(async () => {
  for (const [command, node] of await cliTree()) helps.set(command, node.help);
}, 300_000);

describe('mandate --help, every command', () => {
  it('reaches every command, nested ones included', () => {
    for (const command of ['init', 'ledger export', 'keys create', 'approvals approve', 'upstream pin', 'store copy', 'receipt verify']) expect(helps.has(command), command).toBe(true);
  });

  it('shows defaults unquoted, as they are typed: (default: 20), never (default: "20")', () => {
    for (const [command, help] of helps) expect(help, command).not.toMatch(/default: "/);
    expect(optionHelp(helps.get('ledger tail') as string, '--lines')).toContain('(default: 20)');
  });

  it('words --json the same way on every command', () => {
    const wordings = new Set<string>();
    for (const [command, help] of helps) {
      const json = optionHelp(help, '--json');
      if (!json) continue;
      expect(json, command).toMatch(/^--json print the result as JSON( \(.+\))? instead of text$/);
      wordings.add(json.replace(/ \(.+\)/, ''));
    }
    expect([...wordings]).toEqual(['--json print the result as JSON instead of text']);
  });

  it('--as says what the operator name is recorded with, and no command but approvals claims a decision', () => {
    const recorded = (command: string) => /recorded with (.+?) \(default: \$MANDATE_OPERATOR, else your user name\)/.exec(optionHelp(helps.get(command) as string, '--as') ?? '')?.[1];
    expect(recorded('keys create')).toBe('the new key, as its creator');
    expect(recorded('keys revoke')).toBe('the revocation');
    expect(recorded('intervene')).toBe('the intervention');
    expect(recorded('approvals approve')).toBe('the approval');
    expect(recorded('approvals deny')).toBe('the denial');
    for (const [command, help] of helps) expect(optionHelp(help, '--as') ?? '', command).not.toContain('the decision');
  });

  it('ledger export lists no format flag; --jsonl is still accepted and changes nothing', async () => {
    expect(helps.get('ledger export')).not.toContain('--jsonl');
    expect(helps.get('ledger export')).toContain('JSON Lines');
    const e2e = new E2E();
    try {
      const ws = await e2e.workspace();
      await runCli(['intervene', 'pause', '--agent', 'alice', '--as', 'tester', '-w', ws]);
      const plain = await runCli(['ledger', 'export', '-w', ws]);
      const flagged = await runCli(['ledger', 'export', '--jsonl', '-w', ws]);
      expect(plain.code).toBe(0);
      expect(plain.stdout.trim().split('\n').length).toBeGreaterThan(0);
      expect(flagged.stdout).toBe(plain.stdout);
    } finally {
      await e2e.cleanup();
    }
  });

  it("test --help says what the contract guide says about facts: the case's own, else the capability's resolver", () => {
    const readme = readFileSync(join(REPO_ROOT, 'docs', 'guides', 'writing-a-contract.md'), 'utf8');
    const help = (helps.get('test') as string).replace(/\s+/g, ' ');
    expect(help).not.toContain('stubbed');
    expect(help).toContain("with the facts the case gives (else the capability's own resolver, read-only)");
    expect(readme).toContain("with the facts the case gives (else the capability's own resolver, read-only)");
  });
});
