/**
 * Documented shell lines split into simple commands and their words, as a
 * POSIX shell would split them for the cases the docs use: quotes, `\`
 * line continuations, comments, `&&` `||` `;` `|` `&`, and `$(…)` (whose
 * inner command is a command of its own). No expansion is done: `$VAR`
 * stays a word.
 */

/** Every simple command of a shell snippet, as word lists. */
export function simpleCommands(script: string): string[][] {
  const out: string[][] = [];
  const joined = script.replace(/\\\n/g, ' ');
  for (const line of joined.split('\n')) splitLine(line.replace(/^\s*\$ /, ''), out);
  return out.filter((c) => c.length > 0);
}

function splitLine(line: string, out: string[][]): void {
  let words: string[] = [];
  let word = '';
  let inWord = false;
  const endWord = (): void => {
    if (inWord) words.push(word);
    word = '';
    inWord = false;
  };
  const endCommand = (): void => {
    endWord();
    out.push(words);
    words = [];
  };
  for (let i = 0; i < line.length; i++) {
    const c = line[i] as string;
    if (c === "'" || c === '"') {
      const close = line.indexOf(c, i + 1);
      const end = close < 0 ? line.length : close;
      word += line.slice(i + 1, end);
      inWord = true;
      i = end;
    } else if (c === '$' && line[i + 1] === '(') {
      const close = matchingParen(line, i + 1);
      splitLine(line.slice(i + 2, close), out);
      word += '$(…)';
      inWord = true;
      i = close;
    } else if (c === '#' && !inWord) {
      break;
    } else if (c === ' ' || c === '\t') {
      endWord();
    } else if (c === ';' || c === '|' || c === '&') {
      endCommand();
      if (line[i + 1] === c) i++;
    } else {
      word += c;
      inWord = true;
    }
  }
  endCommand();
}

function matchingParen(line: string, open: number): number {
  let depth = 0;
  for (let i = open; i < line.length; i++) {
    if (line[i] === '(') depth++;
    else if (line[i] === ')' && --depth === 0) return i;
  }
  return line.length;
}

/**
 * The words after `mandate` when a simple command runs the Mandate CLI:
 * `mandate …`, `npx mandate …`, or `node …/dist/src/cli/main.js …`, after
 * any leading `NAME=value` assignments and `export`. Null for anything else.
 */
export function mandateWords(command: string[]): string[] | null {
  let i = 0;
  while (i < command.length && (/^[A-Z_][A-Z0-9_]*=/.test(command[i] as string) || command[i] === 'export')) i++;
  const rest = command.slice(i);
  if (rest[0] === 'mandate') return rest.slice(1);
  if (rest[0] === 'npx' && rest[1] === 'mandate') return rest.slice(2);
  if (rest[0] === 'node' && /(^|\/)dist\/src\/cli\/main\.js$/.test(rest[1] ?? '')) return rest.slice(2);
  return null;
}
