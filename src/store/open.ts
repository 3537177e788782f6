import type { World } from '../core/world.js';
import type { StorePort } from './port.js';
import { sqlitePort } from './sqlite-port.js';
import { openStore } from './store.js';

/** Opens the store a workspace names, behind the port (ADR-010). */
export async function openStorePort(workspace: { storePath: string }, world: World): Promise<StorePort> {
  return sqlitePort(openStore(workspace.storePath, world), workspace.storePath);
}
