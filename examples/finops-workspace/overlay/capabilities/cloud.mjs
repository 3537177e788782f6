// FinOps capabilities over a local inventory of cloud instances, kept in
// data/instances.json. Stopping an instance is a real, local side effect: the
// file changes. The environment of an instance (DEV, STG, PROD) comes from the
// inventory (the facts), never from the agent, so an agent cannot talk a PROD
// instance into being DEV.
import { readFile, rename, writeFile } from 'node:fs/promises';
import { join } from 'node:path';

const INVENTORY = 'data/instances.json';

async function readInventory(workspaceDir, signal) {
  return JSON.parse(await readFile(join(workspaceDir, INVENTORY), { encoding: 'utf8', signal }));
}

// Write to a temporary file and rename it, so the inventory is never half-written.
async function writeInventory(workspaceDir, inventory, signal) {
  const path = join(workspaceDir, INVENTORY);
  await writeFile(`${path}.tmp`, `${JSON.stringify(inventory, null, 2)}\n`, { signal });
  await rename(`${path}.tmp`, path);
}

export default function define({ z }) {
  const instanceId = z.string().regex(/^i-[a-z0-9-]{1,40}$/).describe('Instance id, e.g. i-dev-web-1.');

  const list = {
    id: 'cloud.list_instances',
    version: '1.0.0',
    title: 'List cloud instances',
    description: 'List the instances of the inventory with their environment (DEV, STG or PROD), state and hourly cost in cents.',
    sideEffect: 'read',
    input: z.object({ env: z.enum(['DEV', 'STG', 'PROD']).optional().describe('Only instances of this environment.') }),
    output: z.object({
      instances: z.array(z.object({ instance_id: z.string(), env: z.string(), state: z.string(), hourly_cost_cents: z.number().int() })),
      version: z.string(),
    }),
    limits: { deadlineMs: 2000, maxOutputBytes: 8192 },
    async handler(params, ctx) {
      const inv = await readInventory(ctx.workspaceDir, ctx.signal);
      const instances = Object.entries(inv.instances)
        .filter(([, i]) => !params.env || i.env === params.env)
        .map(([id, i]) => ({ instance_id: id, env: i.env, state: i.state, hourly_cost_cents: i.hourly_cost_cents }));
      return { instances, version: String(inv.version) };
    },
    examples: [
      { params: {}, contract: 'finops', expect: 'accepted' },
      { params: { env: 'QA' }, contract: 'finops', expect: 'rejected', reasons: ['SCHEMA_INVALID'] },
    ],
  };

  const stop = {
    id: 'cloud.stop_instance',
    version: '1.0.0',
    title: 'Stop a cloud instance',
    description: 'Stop a running instance to save its hourly cost. Its environment comes from the inventory: PROD is never stopped, STG waits for a human approval.',
    sideEffect: 'write', // reversible: a stopped instance can be started again
    input: z.object({
      instance_id: instanceId,
      reason: z.string().max(200).optional().describe('Why, e.g. idle since Friday.'),
    }),
    output: z.object({ instance_id: z.string(), env: z.string(), previous_state: z.string(), state: z.literal('stopped'), saved_cents_per_hour: z.number().int(), version: z.string() }),
    limits: { deadlineMs: 2000, maxOutputBytes: 1024 },

    // Read-only: the state the decision depends on, straight from the inventory.
    async facts(params, ctx) {
      const inv = await readInventory(ctx.workspaceDir, ctx.signal);
      const i = inv.instances[params.instance_id];
      return {
        version: String(inv.version),
        known: Boolean(i),
        env: i ? i.env : 'none',
        state: i ? i.state : 'none',
        hourly_cost_cents: i ? i.hourly_cost_cents : 0,
      };
    },
    // The facts' shape: the Cedar policies over context.facts are type-checked against it.
    factsSchema: z.object({ version: z.string(), known: z.boolean(), env: z.string(), state: z.string(), hourly_cost_cents: z.number().int() }),
    // Any change to the inventory between decision and effect is drift.
    invariants: [
      { id: 'instance_known', message: 'the instance is not in the inventory', check: ({ facts }) => facts.known === true },
      { id: 'instance_running', message: 'the instance is not running', check: ({ facts }) => facts.known !== true || facts.state === 'running' },
    ],

    async handler(params, ctx) {
      const inv = await readInventory(ctx.workspaceDir, ctx.signal);
      const i = inv.instances[params.instance_id];
      if (!i || i.env === 'PROD') throw new Error('refused'); // defence in depth: policies already forbid PROD
      const previous = i.state;
      i.state = 'stopped';
      i.stopped_by = ctx.agent;
      i.stopped_at = new Date(ctx.now).toISOString();
      inv.version += 1;
      inv.events.push({ at: i.stopped_at, instance_id: params.instance_id, action: 'stop', agent: ctx.agent, dfid: ctx.dfid });
      await writeInventory(ctx.workspaceDir, inv, ctx.signal);
      return { instance_id: params.instance_id, env: i.env, previous_state: previous, state: 'stopped', saved_cents_per_hour: i.hourly_cost_cents, version: String(inv.version) };
    },

    // Checked by `mandate capability test cloud.stop_instance`, on a copy of the workspace.
    examples: [
      { params: { instance_id: 'i-dev-web-1' }, contract: 'finops', expect: 'accepted' },
      { params: { instance_id: 'i-prod-db-1' }, contract: 'finops', expect: 'rejected', reasons: ['POLICY_FORBID'] },
      { params: { instance_id: 'i-stg-api-1' }, contract: 'finops', expect: 'escalated' },
      { params: { instance_id: 'i-nope' }, contract: 'finops', expect: 'rejected', reasons: ['INVARIANT_VIOLATED'] },
    ],
  };

  return [list, stop];
}
