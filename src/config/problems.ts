import type { z } from 'zod';

/** One configuration problem, reported with where it is and how to fix it. */
export interface Problem {
  file: string;
  path: string;
  message: string;
  hint: string;
}

export function zodProblems(file: string, error: z.ZodError, hint: string): Problem[] {
  return error.issues.map((issue) => ({
    file,
    path: issue.path.length ? issue.path.map(String).join('.') : '(root)',
    message: issue.message,
    hint,
  }));
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
