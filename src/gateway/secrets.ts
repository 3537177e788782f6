import type { ConfiguredValueConfig } from '../config/workspace-schema.js';

export type Environment = Record<string, string | undefined>;

/**
 * Resolves an upstream's `env` or `headers`: literal values as written,
 * `{ from_env, prefix }` from Mandate's own environment when the upstream
 * starts. A variable that is not set is a configuration error naming the
 * upstream, the key and the variable (never a value).
 */
export function resolveValues(
  upstream: string,
  where: 'env' | 'headers',
  record: Record<string, ConfiguredValueConfig>,
  env: Environment,
): { ok: true; values: Record<string, string> } | { ok: false; message: string } {
  const values: Record<string, string> = {};
  for (const [key, value] of Object.entries(record)) {
    if (typeof value === 'string') {
      values[key] = value;
      continue;
    }
    const found = env[value.from_env];
    if (found === undefined || found === '') {
      return { ok: false, message: `upstream \`${upstream}\`: environment variable \`${value.from_env}\` (for ${where}.${key}) is not set` };
    }
    values[key] = `${value.prefix ?? ''}${found}`;
  }
  return { ok: true, values };
}

/** The names of the environment variables an upstream reads, and which of them are missing. */
export function missingVariables(record: Record<string, ConfiguredValueConfig>, env: Environment): string[] {
  return Object.values(record)
    .filter((v): v is Exclude<ConfiguredValueConfig, string> => typeof v !== 'string')
    .map((v) => v.from_env)
    .filter((name) => env[name] === undefined || env[name] === '');
}
