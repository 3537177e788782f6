import type { StoreConfig } from '../config/workspace-schema.js';
import { ConfigError } from '../config/problems.js';
import type { World } from '../core/world.js';
import { openPgPort, type PgPortOptions } from './pg/port.js';
import type { StorePort } from './port/port.js';
import { sqlitePort } from './sqlite/port.js';
import { openStore } from './sqlite/store.js';

export interface StoreTarget {
  config: { store: StoreConfig };
  /** The SQLite file, resolved against the workspace (sqlite stores). */
  storePath: string;
}

/** The connection URL of a PostgreSQL store, from the environment only (never a file). */
export function databaseUrl(store: Extract<StoreConfig, { kind: 'postgres' }>, env: NodeJS.ProcessEnv = process.env): string {
  const url = env[store.url_env];
  if (!url) {
    throw new ConfigError([
      { file: 'mandate.yaml', path: 'store.url_env', message: `store.kind is postgres, but the environment variable \`${store.url_env}\` is not set`, hint: `export ${store.url_env}=postgres://user@host:5432/db before starting mandate` },
    ]);
  }
  return url;
}

/** Opens the store a workspace names, behind the port (ADR-010, ADR-015); a PostgreSQL store is migrated first. */
export async function openStorePort(workspace: StoreTarget, world: World, opts: PgPortOptions & { env?: NodeJS.ProcessEnv } = {}): Promise<StorePort> {
  const store = workspace.config.store;
  if (store.kind === 'postgres') return openPgPort(databaseUrl(store, opts.env), world, { max: store.pool_max, ...opts });
  return sqlitePort(openStore(workspace.storePath, world), workspace.storePath);
}
