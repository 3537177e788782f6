import type { z } from 'zod';
import { unknownKeyProblem } from './unknown-keys.js';

/** One configuration problem, reported with where it is and how to fix it. */
export interface Problem {
  file: string;
  path: string;
  message: string;
  hint: string;
}

/**
 * One problem per zod issue. `checked` (the schema and the parsed YAML) lets
 * an unknown key get a real fix: the key it misspells, or the variant it belongs to.
 */
export function zodProblems(file: string, error: z.ZodError, hint: string, checked?: { schema: z.ZodType; input: unknown }): Problem[] {
  return error.issues.flatMap((issue) => {
    const at = issue.path.map(String);
    // An unknown key is reported at its own path, one problem per key.
    if (issue.code === 'unrecognized_keys') {
      return issue.keys.map((key) => ({ file, path: [...at, key].join('.'), ...unknownKeyProblem(key, issue.path, checked?.schema, checked?.input) }));
    }
    return [{ file, path: at.length ? at.join('.') : '(root)', message: issue.message, hint }];
  });
}

/** `line L, column C` of a character offset in a text. */
export function lineColumn(text: string, offset: number): string {
  const before = text.slice(0, Math.max(0, offset));
  const line = before.split('\n').length;
  const column = offset - before.lastIndexOf('\n');
  return `line ${line}, column ${column}`;
}

export class ConfigError extends Error {
  constructor(readonly problems: Problem[]) {
    super(`${problems.length} configuration problem(s):\n${formatProblems(problems)}`);
    this.name = 'ConfigError';
  }
}

export function formatProblems(problems: Problem[]): string {
  return problems.map((p) => `  ${p.file} ${p.path}: ${p.message}\n    fix: ${p.hint}`).join('\n');
}
