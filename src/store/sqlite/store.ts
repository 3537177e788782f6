import type { World } from '../../core/world.js';
import { Agents } from './agents.js';
import { Credentials } from './credentials.js';
import { openDb, type Db } from './db.js';
import { Decisions } from './decisions.js';
import { Delegations } from './delegations.js';
import { Plans } from '../plans.js';
import { Flows } from './flows.js';
import { Idempotency } from './idempotency.js';
import { Ledger } from './ledger.js';
import { McpEvents } from './mcp-events.js';
import { Memory } from './memory.js';
import { Monitors } from './monitors.js';
import { Pins } from './pins.js';
import { PolicyInputs } from './policy-inputs.js';
import { Runners } from './runners.js';
import { Tasks } from './tasks.js';
import { Usage } from './usage.js';

/** Everything the kernel persists, over one SQLite file. */
export interface Store {
  db: Db;
  ledger: Ledger;
  decisions: Decisions;
  idempotency: Idempotency;
  agents: Agents;
  memory: Memory;
  usage: Usage;
  flows: Flows;
  monitors: Monitors;
  credentials: Credentials;
  mcpEvents: McpEvents;
  pins: Pins;
  policyInputs: PolicyInputs;
  runners: Runners;
  tasks: Tasks;
  delegations: Delegations;
  plans: Plans;
  close(): void;
}

export function openStore(path: string, world: World): Store {
  const db = openDb(path);
  return {
    db,
    ledger: new Ledger(db, world),
    decisions: new Decisions(db),
    idempotency: new Idempotency(db),
    agents: new Agents(db),
    memory: new Memory(db),
    usage: new Usage(db),
    flows: new Flows(db),
    monitors: new Monitors(db),
    credentials: new Credentials(db),
    mcpEvents: new McpEvents(db),
    pins: new Pins(db),
    policyInputs: new PolicyInputs(db),
    runners: new Runners(db),
    tasks: new Tasks(db),
    delegations: new Delegations(db),
    plans: new Plans(db),
    close: () => db.close(),
  };
}
