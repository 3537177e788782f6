/**
 * The `mandate` command tree as the built CLI describes it in its --help
 * texts (commands, their options and positional arguments), and a check of
 * one documented command line against it. Nothing is run but `--help`.
 */
import { runCli } from './e2e.js';

export interface CliNode {
  /** The --help text. */
  help: string;
  subcommands: Set<string>;
  /** Every flag (`-w`, `--workspace`) → whether it takes a value (`<x>` required, `[x]` optional, none). */
  options: Map<string, 'required' | 'optional' | 'none'>;
  /** Positional arguments from the usage line, e.g. ['<decision_id>']. */
  args: string[];
}

/** Every command path (`''` is the program itself), walked through `mandate … --help`. */
export async function cliTree(): Promise<Map<string, CliNode>> {
  const tree = new Map<string, CliNode>();
  const walk = async (path: string[]): Promise<void> => {
    const r = await runCli([...path, '--help'], { timeoutMs: 60_000 });
    if (r.code !== 0) throw new Error(`mandate ${path.join(' ')} --help exited ${r.code}: ${r.stderr}`);
    const node = parseHelp(r.stdout);
    tree.set(path.join(' '), node);
    const subs = [...node.subcommands];
    // A few at a time: each is a node process.
    for (let i = 0; i < subs.length; i += 3) await Promise.all(subs.slice(i, i + 3).map((c) => walk([...path, c])));
  };
  await walk([]);
  return tree;
}

/** One command's --help text as commander prints it. */
export function parseHelp(help: string): CliNode {
  const usage = /^Usage: mandate(.*)$/m.exec(help)?.[1] ?? '';
  const args = [...usage.matchAll(/(<[^>]+>|\[[^\]]+\])/g)].map((m) => m[1] as string).filter((a) => a !== '[options]' && a !== '[command]');
  const section = (name: string): string => (help.split(`\n${name}:\n`)[1] ?? '').split(/\n\S/)[0] as string;
  const options = new Map<string, 'required' | 'optional' | 'none'>();
  for (const m of section('Options').matchAll(/^ {2}(?:(-\w), )?(--[a-z][\w-]*)(?: (<[^>]+>|\[[^\]]+\]))?/gm)) {
    const kind = m[3] ? (m[3].startsWith('<') ? 'required' : 'optional') : 'none';
    if (m[1]) options.set(m[1], kind);
    options.set(m[2] as string, kind);
  }
  const subcommands = new Set([...section('Commands').matchAll(/^ {2}([a-z][a-z-]*)/gm)].map((m) => m[1] as string).filter((c) => c !== 'help'));
  return { help, subcommands, options, args };
}

/** Words that stand for "and so on" or a value left to the reader in documented commands. */
const ELLIPSIS = new Set(['…', '...']);

/**
 * Checks `mandate <words>` against the tree: each word names a real
 * subcommand until a leaf, every flag is an option of that command (a value
 * follows where it takes one), and no more positional words than it has
 * arguments. Returns the problems, empty when the line is right.
 */
export function checkCommand(tree: Map<string, CliNode>, words: string[]): string[] {
  let path: string[] = [];
  let node = tree.get('') as CliNode;
  let i = 0;
  while (i < words.length && node.subcommands.size > 0 && !(words[i] as string).startsWith('-')) {
    const word = words[i] as string;
    if (ELLIPSIS.has(word)) return [];
    if (!node.subcommands.has(word)) return [`\`mandate ${[...path, word].join(' ')}\`: no such command (${path.length ? `mandate ${path.join(' ')}` : 'mandate'} has ${[...node.subcommands].join(', ')})`];
    path = [...path, word];
    node = tree.get(path.join(' ')) as CliNode;
    i++;
  }
  const name = `mandate ${path.join(' ')}`.trim();
  const problems: string[] = [];
  let positional = 0;
  const global = path.length === 0 ? ['-V', '--version'] : [];
  for (; i < words.length; i++) {
    const word = words[i] as string;
    if (ELLIPSIS.has(word)) break;
    if (word.startsWith('-') && word.includes('|')) {
      // Alternatives written `--applied|--not-applied`: each must be an option.
      for (const alt of word.split('|')) if (!node.options.has(alt)) problems.push(`\`${name}\` has no option ${alt}`);
      continue;
    }
    if (word.startsWith('-') && word !== '-') {
      const flag = word.includes('=') ? word.slice(0, word.indexOf('=')) : word;
      const kind = flag === '-h' || flag === '--help' || global.includes(flag) ? 'none' : node.options.get(flag);
      if (kind === undefined) {
        problems.push(`\`${name}\` has no option ${flag}`);
        continue;
      }
      if (kind === 'required' && !word.includes('=')) {
        if (i + 1 >= words.length) problems.push(`\`${name} ${flag}\` needs a value`);
        i++;
      } else if (kind === 'optional' && !word.includes('=') && i + 1 < words.length && !(words[i + 1] as string).startsWith('-')) {
        i++;
      }
      continue;
    }
    positional++;
  }
  const variadic = node.args.some((a) => a.includes('...'));
  if (!variadic && positional > node.args.length) problems.push(`\`${name}\` takes ${node.args.length} argument(s) (${node.args.join(' ') || 'none'}), the line gives ${positional}`);
  return problems;
}
