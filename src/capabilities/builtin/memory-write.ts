import { z } from 'zod';
import type { Contract } from '../../config/contract-schema.js';
import { hashOf } from '../../core/canonical.js';
import { SENSITIVITY_ORDER, type Sensitivity } from '../../core/types.js';
import type { StorePort } from '../../store/port/index.js';
import { toCapability, type Capability, type CapabilityDefinition } from '../manifest.js';

export const MEMORY_WRITE_ID = 'memory.write';

const Input = z
  .object({
    scope: z.string().regex(/^[a-z][a-z0-9_-]{0,63}$/).describe('A memory scope your contract lets you write.'),
    key: z.string().regex(/^[A-Za-z0-9._-]{1,128}$/),
    value: z.json().describe('Any JSON value; the ledger records only its hash.'),
    sensitivity: z.enum(['standard', 'elevated', 'restricted']).default('standard'),
    expected_version: z.number().int().nonnegative().describe('Compare-and-set: the version you read (0 to create a new record).'),
    model: z.string().max(100).optional().describe('The model that produced the value, recorded as provenance.'),
  })
  .strict();

const Output = z.object({ scope: z.string(), key: z.string(), version: z.number().int(), value_hash: z.string() });

/**
 * The one way an agent writes memory: a governed, built-in capability with
 * compare-and-set on the version. `memory` is null while only validating a
 * workspace; then it fails closed.
 */
export function memoryWriteCapability(store: StorePort | null, contracts: Map<string, Contract>): Capability {
  const scopeGrant = (agent: string, scope: string) => contracts.get(agent)?.memory.find((m) => m.scope === scope);
  const def: CapabilityDefinition = {
    id: MEMORY_WRITE_ID,
    version: '1.0.0',
    title: 'Write a memory record',
    description:
      'Create or update a scoped memory record. Pass the version you read as expected_version (0 to create); if it moved, the write is refused with STATE_DRIFT. Only scopes your contract marks writable, up to their maximum sensitivity.',
    sideEffect: 'write',
    input: Input,
    output: Output,
    limits: { deadlineMs: 2000, maxOutputBytes: 512 },
    // The output holds no content (scope, key, version, the value's hash), so the ledger keeps it whole.
    audit: { recordOutput: true },
    factsSchema: z.object({ version: z.string(), scope_writable: z.boolean(), max_sensitivity: z.string(), current_sensitivity: z.string() }),
    facts: async (params, ctx) => {
      if (!store) throw new Error('memory store unavailable');
      const grant = scopeGrant(ctx.agent, String(params['scope']));
      const current = await store.memory.get(String(params['scope']), String(params['key']));
      return {
        version: String(current?.version ?? 0),
        scope_writable: grant?.write === true,
        max_sensitivity: grant?.max_sensitivity ?? 'none',
        current_sensitivity: current?.sensitivity ?? 'none',
      };
    },
    invariants: [
      { id: 'scope_writable', message: 'the contract does not let this agent write the scope', check: ({ facts }) => facts['scope_writable'] === true },
      {
        id: 'sensitivity_within_contract',
        message: 'the record would be more sensitive than the contract allows for this scope',
        // Neither the new value nor the record it replaces may be above the scope's maximum.
        check: ({ params, facts }) =>
          rank(params['sensitivity']) <= rank(facts['max_sensitivity']) &&
          (facts['current_sensitivity'] === 'none' || rank(facts['current_sensitivity']) <= rank(facts['max_sensitivity'])),
      },
      {
        id: 'version_current',
        code: 'STATE_DRIFT',
        message: 'expected_version is not the current version',
        check: ({ params, facts }) => String(params['expected_version']) === facts['version'],
      },
    ],
    handler: async (params, ctx) => {
      if (!store) throw new Error('memory store unavailable');
      const scope = String(params['scope']);
      const key = String(params['key']);
      const provenance = `agent:${ctx.agent}${params['model'] ? `;model:${String(params['model'])}` : ''}`;
      const written = await store.commit([
        { op: 'memory.write', write: { scope, key, value: params['value'], sensitivity: params['sensitivity'] as Sensitivity, provenance, expected: Number(params['expected_version']), at: ctx.now } },
      ]);
      if (!written.ok) throw new Error('version moved');
      const version = written.results.get(0) as number;
      return { scope, key, version, value_hash: hashOf(params['value'] ?? null) };
    },
  };
  return toCapability(def, '(built-in)');
}

function rank(s: unknown): number {
  const i = SENSITIVITY_ORDER.indexOf(s as Sensitivity);
  return i === -1 ? Number.POSITIVE_INFINITY : i;
}
